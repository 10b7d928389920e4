"""Multi-temporal composites: one clear image per window from many cloudy ones (chapter 9).

A single pre- and post-event pair (chapters 1-8) inherits everything of its two days: a cloud
or its shadow, haze, a different sun, a slightly different footprint. A *composite* takes every
acquisition in a window (e.g. 90 days before the event and 60 after), masks what the scene
classification (SCL) calls cloud, shadow or snow, and keeps per pixel one value of the rest:

- ``"median"``: the per-band median of the clear observations (robust to the thin cloud and
  faint shadow that SCL misses, as long as they are a minority of the dates);
- ``"greenest"``: all bands of the clear observation with the highest NDVI (the *greenest
  pixel*, as Earth Engine's ``qualityMosaic``); clouds have low NDVI, so it also avoids them,
  but it takes the extreme of the season rather than its middle.

Input is an observation *stack* (from :mod:`s2slide.data.stacks` or
:func:`s2slide.data.simulate.scene_series`): ``reflectance`` (time, band, y, x) and ``scl``
(time, y, x), NumPy- or Dask-backed; output is a scene in the :mod:`s2slide.data` contract
(``pre``, ``post``, ``valid``, ...), so every method of the course applies to it unchanged.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import xarray as xr

from s2slide import indices
from s2slide.data.stacks import NOT_CLEAR
from s2slide.errors import CloudCoverError, InvalidInputError, MissingBandError, NoValidDataError

#: Compositing rules accepted by :func:`composite`.
METHODS = ("median", "greenest")
#: Side (px) of the blocks a median is computed in.
CHUNK_PX = 256


def clear_mask(scl: Any, *, exclude: tuple[int, ...] = NOT_CLEAR) -> Any:
    """Clear observations: True where the SCL class is not in ``exclude``.

    Parameters
    ----------
    scl : array-like or xarray.DataArray of int, dims (time, y, x) or any
        Scene classification codes 0-11.

    Returns
    -------
    bool array of the same shape (a DataArray for a DataArray; lazy for Dask).
    """
    if isinstance(scl, xr.DataArray):
        return ~scl.isin(list(exclude))
    return ~np.isin(np.asarray(scl), list(exclude))


def _check_stack(reflectance: Any, clear: Any) -> tuple[xr.DataArray, xr.DataArray]:
    refl = reflectance if isinstance(reflectance, xr.DataArray) else xr.DataArray(
        np.asarray(reflectance, np.float32), dims=("time", "band", "y", "x"))
    ok = clear if isinstance(clear, xr.DataArray) else xr.DataArray(
        np.asarray(clear, bool), dims=("time", "y", "x"))
    if refl.dims != ("time", "band", "y", "x") or ok.dims != ("time", "y", "x"):
        raise InvalidInputError(f"the stack has dims {refl.dims} and the mask {ok.dims}; give "
                                "reflectance (time, band, y, x) and clear (time, y, x)")
    if refl.shape[:1] + refl.shape[2:] != ok.shape:
        raise InvalidInputError(f"reflectance {refl.shape} and clear {ok.shape} differ in "
                                "time, y or x; pass the SCL of the same acquisitions")
    return refl, ok


def count_clear(clear: Any, *, what: str = "the window") -> xr.DataArray:
    """Clear observations per pixel (int, (y, x), computed); NoValidDataError if none anywhere."""
    ok = clear if isinstance(clear, xr.DataArray) else xr.DataArray(np.asarray(clear, bool),
                                                                   dims=("time", "y", "x"))
    n = ok.sum("time").astype(np.int16).compute()
    if ok.sizes["time"] == 0 or int(n.max()) == 0:
        raise NoValidDataError(
            f"no clear observation in {what}: every acquisition ({ok.sizes['time']}) is cloud, "
            "shadow, snow or nodata (SCL) over the whole area. Lengthen the window "
            "(pre_days/post_days) or pick another area")
    return n


def median_composite(reflectance: Any, clear: Any, *, what: str = "the window") -> tuple[xr.DataArray, xr.DataArray]:
    """Per-pixel, per-band median of the clear observations of a stack.

    Parameters
    ----------
    reflectance : array-like or xarray.DataArray, float, dims (time, band, y, x)
        Surface reflectance 0-1 (NaN where nodata); NumPy or Dask.
    clear : array-like or xarray.DataArray of bool, dims (time, y, x)
        Observations to use (:func:`clear_mask` of the SCL).

    Returns
    -------
    composite : xarray.DataArray, float32, dims (band, y, x)
        NaN where a pixel has no clear observation.
    n_clear : xarray.DataArray, int16, dims (y, x)
        Clear observations per pixel.

    Raises
    ------
    NoValidDataError
        No pixel has a clear observation.
    """
    refl, ok = _check_stack(reflectance, clear)
    n = count_clear(ok, what=what)
    # Block by block (Dask), each block holding whole time series: a NumPy stack too, because a
    # median over the whole array at once copies it several times (4.1 GB peak against 2.4 GB
    # for a 0.72 GB stack, and slower: benchmarks/composite_benchmark.py).
    refl = refl.chunk({"time": -1, "band": 1, "y": CHUNK_PX, "x": CHUNK_PX})
    ok = ok.chunk({"time": -1, "y": CHUNK_PX, "x": CHUNK_PX})
    with warnings.catch_warnings():                      # all-NaN pixels are NaN, on purpose
        warnings.simplefilter("ignore", RuntimeWarning)
        comp = refl.where(ok).median("time", skipna=True).astype(np.float32).compute()
    return comp, n


def greenest_composite(reflectance: Any, clear: Any, *, nir: str = "B8A", red: str = "B04",
                       what: str = "the window") -> tuple[xr.DataArray, xr.DataArray]:
    """All bands of the clear observation with the highest NDVI, per pixel ("greenest pixel").

    Same inputs and outputs as :func:`median_composite`; ``reflectance`` needs a ``band``
    coordinate holding ``nir`` and ``red``.
    """
    refl, ok = _check_stack(reflectance, clear)
    names = list(refl["band"].values) if "band" in refl.coords else []
    if nir not in names or red not in names:
        raise MissingBandError(f"the greenest-pixel composite needs {nir} and {red}; the stack "
                               f"has {names}")
    n = count_clear(ok, what=what)
    ndvi = indices.ndvi(nir=refl.sel(band=nir), red=refl.sel(band=red)).where(ok)
    best = ndvi.fillna(-np.inf).argmax("time")
    comp = refl.isel(time=best.compute()).where(n > 0).transpose("band", "y", "x")
    return comp.astype(np.float32).compute(), n


def composite(reflectance: Any, clear: Any, *, method: str = "median",
              what: str = "the window") -> tuple[xr.DataArray, xr.DataArray]:
    """:func:`median_composite` or :func:`greenest_composite` by name (:data:`METHODS`)."""
    if method not in METHODS:
        raise InvalidInputError(f"method={method!r}; use one of {', '.join(METHODS)}")
    if method == "median":
        return median_composite(reflectance, clear, what=what)
    return greenest_composite(reflectance, clear, what=what)


def _windows(stack: xr.Dataset) -> tuple[xr.Dataset, xr.Dataset, str]:
    event = np.datetime64(stack.attrs["event_date"], "ns")
    pre, post = stack.sel(time=stack["time"] < event), stack.sel(time=stack["time"] > event)
    return pre, post, str(stack.attrs["event_date"])


def _span(part: xr.Dataset) -> str:
    t = part["time"].values
    return f"{str(t.min())[:10]}/{str(t.max())[:10]}" if t.size else "none"


def _scene(stack: xr.Dataset, pre: xr.DataArray, post: xr.DataArray, valid: np.ndarray,
           attrs: dict[str, Any], extra: dict[str, Any]) -> xr.Dataset:
    """A scene in the :mod:`s2slide.data` contract from two (band, y, x) images of a stack."""
    pre, post = (a.drop_vars("time", errors="ignore").astype(np.float32) for a in (pre, post))
    data = {"pre": pre, "post": post,
            "valid": (("y", "x"), valid), **extra}
    for name in ("dem", "slope", "truth", "truth_areas_m2"):
        if name in stack:
            data[name] = stack[name]
    ds = xr.Dataset(data).drop_vars("time", errors="ignore")
    ds.attrs.update({k: v for k, v in stack.attrs.items() if k not in ("label",)}, **attrs)
    if stack.rio.crs is not None:
        ds = ds.rio.write_crs(stack.rio.crs).rio.write_transform(stack.rio.transform())
    return ds


def composite_pair(stack: xr.Dataset, *, method: str = "median") -> xr.Dataset:
    """Composites of the acquisitions before and after ``stack.attrs["event_date"]``.

    Returns
    -------
    xarray.Dataset
        The :mod:`s2slide.data` contract: ``pre``, ``post`` (float32 (band, y, x)), ``valid``
        (a clear observation in both windows), ``dem``, ``slope``, ``truth`` where the stack has
        them, and ``n_clear_pre``, ``n_clear_post`` (int16 (y, x)); attrs ``pre_date`` and
        ``post_date`` are the windows (``start/end``), ``label`` says "composite".

    Raises
    ------
    NoValidDataError
        A window has no clear observation (the message names which).
    """
    pre_s, post_s, event = _windows(stack)
    clear = clear_mask(stack["scl"])
    comps = {}
    for when, part in (("pre", pre_s), ("post", post_s)):
        what = f"the {when}-event window ({_span(part)}) of {stack.attrs.get('label', 'the stack')}"
        comps[when] = composite(part["reflectance"], clear.sel(time=part["time"]),
                                method=method, what=what)
    valid = ((comps["pre"][1] > 0) & (comps["post"][1] > 0)).values
    valid &= np.isfinite(comps["pre"][0].values).all(0) & np.isfinite(comps["post"][0].values).all(0)
    label = (f"{stack.attrs.get('label', 'stack')}, {method} composites of "
             f"{pre_s.sizes['time']} + {post_s.sizes['time']} dates")
    attrs = {"label": label, "composite": method, "pre_date": _span(pre_s),
             "post_date": _span(post_s)}
    extra = {"n_clear_pre": comps["pre"][1], "n_clear_post": comps["post"][1]}
    return _scene(stack, comps["pre"][0], comps["post"][0], valid, attrs, extra)


def _nearest_clear(part: xr.Dataset, clear: xr.DataArray, *, after: bool, max_cloud: float,
                   what: str) -> int:
    """Index (in ``part``) of the date nearest the event whose cloud share is <= ``max_cloud``."""
    share = 1.0 - clear.mean(("y", "x")).values
    order = range(part.sizes["time"]) if after else range(part.sizes["time"] - 1, -1, -1)
    for i in order:
        if share[i] <= max_cloud:
            return i
    listed = ", ".join(f"{str(t)[:10]} ({100 * s:.0f}%)" for t, s in zip(part["time"].values, share))
    raise CloudCoverError(f"no {what} date is clear enough (max_cloud={max_cloud:g}): {listed}. "
                          "Raise max_cloud, lengthen the window, or use composite_pair")


def single_pair(stack: xr.Dataset, *, max_cloud: float = 0.2) -> xr.Dataset:
    """The one-image-per-date pair of chapters 1-8, taken from the same stack.

    The acquisition nearest the event on each side whose share of not-clear pixels (SCL) is at
    most ``max_cloud``, as chapter 1's live route chooses; ``valid`` is clear on both. Same
    contract as :func:`composite_pair`, so the two can be compared pixel for pixel.
    """
    if not 0.0 <= float(max_cloud) <= 1.0:
        raise InvalidInputError(f"max_cloud={max_cloud!r}: give a fraction 0-1, e.g. 0.2")
    pre_s, post_s, event = _windows(stack)
    clear = clear_mask(stack["scl"])
    picked = {}
    for when, part, after in (("pre", pre_s, False), ("post", post_s, True)):
        ok = clear.sel(time=part["time"]).compute()
        i = _nearest_clear(part, ok, after=after, max_cloud=max_cloud, what=f"{when}-event")
        picked[when] = (part["reflectance"].isel(time=i).compute(), ok.isel(time=i).values,
                        str(part["time"].values[i])[:10])
    valid = picked["pre"][1] & picked["post"][1]
    valid &= np.isfinite(picked["pre"][0].values).all(0) & np.isfinite(picked["post"][0].values).all(0)
    attrs = {"label": f"{stack.attrs.get('label', 'stack')}, single pair {picked['pre'][2]} / "
                      f"{picked['post'][2]}", "composite": "single pair",
             "pre_date": picked["pre"][2], "post_date": picked["post"][2]}
    return _scene(stack, picked["pre"][0], picked["post"][0], valid, attrs, {})


def change_quality(ds: xr.Dataset, *, threshold: float = indices.SEED000_THRESHOLD,
                   nir: str = "B8A", red: str = "B04") -> dict[str, float]:
    """How usable a pair is for change detection: gaps and false change, measured.

    Returns
    -------
    dict
        ``gap_share``: share of pixels with no valid value (cloud gaps, nodata);
        ``flagged_share``: share of valid pixels with dNDVI < ``threshold``; where the scene
        has ``truth``: ``false_change_share`` (share of valid *stable* pixels, truth 0, with
        dNDVI < ``threshold``), ``recall`` (share of valid landslide pixels flagged) and
        ``stable_dndvi_sd`` (standard deviation of dNDVI on valid stable pixels).
    """
    valid = np.asarray(ds["valid"].values, bool)
    pre = indices.ndvi(nir=ds["pre"].sel(band=nir).values, red=ds["pre"].sel(band=red).values)
    post = indices.ndvi(nir=ds["post"].sel(band=nir).values, red=ds["post"].sel(band=red).values)
    flagged = indices.dndvi_mask(pre, post, threshold=threshold)
    out = {"gap_share": float(1.0 - valid.mean()),
           "flagged_share": float(flagged[valid].mean()) if valid.any() else float("nan")}
    if "truth" in ds:
        truth = ds["truth"].values == 1
        stable, slides = valid & ~truth, valid & truth
        out.update(false_change_share=float(flagged[stable].mean()),
                   recall=float(flagged[slides].mean()) if slides.any() else float("nan"),
                   stable_dndvi_sd=float(np.nanstd((post - pre)[stable])))
    return out
