"""Helpers shared by the live routes: the scene grid, SCL masks, slope, the contract Dataset.

Every route (STAC, Copernicus Data Space, Earth Engine) reads Sentinel-2 digital numbers onto
the grid of :mod:`s2slide.data.scenes` and hands them to :func:`assemble`, so that all three return
exactly the :mod:`s2slide.data` contract.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Callable, Iterable, NamedTuple, Sequence

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine

from s2slide.data import bands as s2bands
from s2slide.data import harmonize
from s2slide.errors import (CloudCoverError, InvalidInputError, MissingBandError,
                            NetworkUnavailableError, NoValidDataError, SceneNotFoundError)
from s2slide.data.scenes import SceneSpec, get_scene

#: SCL classes counted as cloud (cloud shadow, medium/high probability cloud, thin cirrus).
SCL_CLOUD: frozenset[int] = frozenset({3, 8, 9, 10})
#: SCL classes of clear land used to sanity-check the BOA offset (vegetation, not vegetated).
SCL_CLEAR_LAND: frozenset[int] = frozenset({4, 5})
DEM_ATTRIBUTION = ("Copernicus DEM GLO-30, produced using Copernicus WorldDEM-30 (c) DLR e.V. "
                   "2010-2014 and (c) Airbus Defence and Space GmbH 2014-2018 provided under "
                   "COPERNICUS by the European Union and ESA; all rights reserved")
FALLBACK_HINT = ("a chapter can run without a network with load_scene(..., source='mirror') "
                 "(real sample files, where the mirror holds the scene) or source='simulated'")
#: Days either side of a date searched to list the nearest dates when a search is empty.
NEAREST_SEARCH_DAYS = 120


@dataclass
class Acquisition:
    """What was read for one date: the provenance of ``pre`` or ``post``.

    Attributes
    ----------
    date : str
        Acquisition date (ISO, solar day) actually used.
    baseline : str or None
        Processing baseline (``"04.00"``) of the first product, or None when unknown.
    offset : int or None
        ``BOA_ADD_OFFSET`` applied to the digital numbers (0 or -1000); None when the products
        of the day needed different offsets (see ``items``).
    offset_note : str
        Why that offset (baseline, date, catalogue flag, plausibility check).
    ids : list of str
        Catalogue ids of the products/items mosaicked for this date.
    hrefs : dict
        Band name -> list of asset addresses read (signatures stripped).
    cloud_fraction : float
        Fraction (0-1) of the window's non-nodata pixels in SCL cloud/shadow/cirrus classes.
    items : list of dict
        Per product: ``id``, ``baseline``, ``offset`` and ``note`` (offsets are decided per
        product, before the mosaic).
    """

    date: str
    baseline: str | None
    offset: int | None
    offset_note: str
    ids: list[str] = field(default_factory=list)
    hrefs: dict[str, list[str]] = field(default_factory=dict)
    cloud_fraction: float = float("nan")
    items: list[dict[str, Any]] = field(default_factory=list)


def resolve_scene(name: str | SceneSpec) -> SceneSpec:
    """A :class:`SceneSpec` from a scene name (``"luding"``) or a spec itself."""
    return name if isinstance(name, SceneSpec) else get_scene(name)


def resolve_bands(bands: Sequence[str] | str | None, spec: SceneSpec) -> tuple[str, ...]:
    """Band names (``"B02"``...) to read; common names (``"red"``) are accepted.

    Raises
    ------
    MissingBandError
        A name is not a Sentinel-2 L2A band; the message lists the valid names.
    """
    if bands is None:
        return tuple(spec.bands)
    wanted = [bands] if isinstance(bands, str) else list(bands)
    if not wanted:
        raise InvalidInputError("bands is empty: give at least one band, e.g. ['B04', 'B8A']")
    out = []
    for name in wanted:
        try:
            band = s2bands.by_common_name(str(name))
        except MissingBandError:
            band = None
        if band is None or band not in s2bands.S2_L2A_BANDS:
            raise MissingBandError(
                f"{name!r} is not a Sentinel-2 L2A band; use one of "
                f"{', '.join(s2bands.S2_L2A_BANDS)} (B10 exists only in L1C)")
        out.append(band)
    return tuple(dict.fromkeys(out))


def parse_day(value: str | date | None, default: str, what: str) -> date:
    """An ISO date (``"2021-11-05"``; ``default`` if None) as :class:`datetime.date`, with a
    clear error (:func:`s2slide.data.harmonize.as_date`)."""
    return harmonize.as_date(default if value is None else value, what)


def resolve_request(name: str | SceneSpec, bands: Sequence[str] | str | None,
                    pre_date: str | date | None, post_date: str | date | None,
                    max_cloud: float) -> tuple[SceneSpec, tuple[str, ...], date, date]:
    """Check what every live route is asked for: scene, bands, the two dates, ``max_cloud``.

    Returns ``(spec, bands, pre_day, post_day)``; raises the errors of :func:`resolve_scene`,
    :func:`resolve_bands`, :func:`parse_day`, and InvalidInputError for ``max_cloud`` outside 0-1.
    """
    spec = resolve_scene(name)
    resolved = resolve_bands(bands, spec)
    pre_day = parse_day(pre_date, spec.pre_date, "pre_date")
    post_day = parse_day(post_date, spec.post_date, "post_date")
    if not 0 <= max_cloud <= 1:
        raise InvalidInputError(f"max_cloud={max_cloud} must be a fraction 0-1 (e.g. 0.2)")
    return spec, resolved, pre_day, post_day


def solar_day(when: datetime, lon: float) -> date:
    """Local solar date of an acquisition at longitude ``lon`` (degrees east)."""
    return (when + timedelta(hours=lon / 15.0)).date()


def grid_coords(spec: SceneSpec) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (y, x) of the scene grid, metres, float64."""
    res = spec.resolution_m
    x = spec.left + res * (np.arange(spec.width) + 0.5)
    y = spec.top - res * (np.arange(spec.height) + 0.5)
    return y, x


def grid_transform(spec: SceneSpec) -> Affine:
    """Affine transform (north-up) of the scene grid."""
    return Affine(spec.resolution_m, 0.0, spec.left, 0.0, -spec.resolution_m, spec.top)


def slope_degrees(dem: np.ndarray, *, pixel_size: float) -> np.ndarray:
    """Terrain slope from an elevation grid.

    Parameters
    ----------
    dem : ndarray
        Elevation in metres, dims (y, x), north-up grid.
    pixel_size : float
        Pixel size in metres (square pixels).

    Returns
    -------
    ndarray of float32
        Slope in degrees (0 flat, 90 vertical), dims (y, x); central differences inside,
        one-sided at the edges (:func:`numpy.gradient`); NaN where a neighbour is NaN.

    Examples
    --------
    >>> plane = np.tile(np.arange(5.0) * 20.0, (4, 1))   # rises 20 m per 20 m pixel
    >>> float(slope_degrees(plane, pixel_size=20.0)[2, 2])
    45.0
    """
    if pixel_size <= 0:
        raise InvalidInputError(f"pixel_size must be positive metres, got {pixel_size}")
    z = np.asarray(dem, dtype=np.float64)
    if z.ndim != 2 or min(z.shape) < 2:
        raise InvalidInputError(f"dem must be 2-D (y, x) with at least 2x2 pixels, got {z.shape}")
    dz_dy, dz_dx = np.gradient(z, pixel_size)
    return np.degrees(np.arctan(np.hypot(dz_dx, dz_dy))).astype(np.float32)


def valid_from_scl(scl: np.ndarray, *, scl_mask: Iterable[int] | None = None) -> np.ndarray:
    """Clear-pixel mask from a Sentinel-2 scene classification (SCL) layer.

    Parameters
    ----------
    scl : ndarray of int
        SCL classes 0-11, any shape.
    scl_mask : collection of int, optional
        Classes to mask; default :data:`s2slide.data.bands.SCL_INVALID` (no data, defective,
        cloud shadow, clouds, thin cirrus, snow; not dark area / topographic shadow).

    Returns
    -------
    ndarray of bool
        False where the class is in ``scl_mask``, True elsewhere.
    """
    return ~np.isin(np.asarray(scl), sorted(s2bands.scl_classes(scl_mask)))


def cloud_fraction(scl: np.ndarray) -> float:
    """Fraction (0-1) of non-nodata pixels whose SCL class is cloud, shadow or cirrus.

    Returns NaN when every pixel is nodata (class 0).
    """
    scl = np.asarray(scl)
    seen = scl != 0
    if not seen.any():
        return float("nan")
    return float(np.isin(scl[seen], list(SCL_CLOUD)).mean())


def band_resampling(band: str, resolution_m: float) -> str:
    """``"average"`` when ``band`` is finer than a ``resolution_m`` grid, else ``"bilinear"``."""
    return "average" if s2bands.BANDS[band].resolution_m < resolution_m else "bilinear"


class Choice(NamedTuple):
    """The day :func:`choose_day` accepted: its SCL, what the route read, its cloud fraction."""

    day: date
    scl: np.ndarray
    data: Any
    cloud_fraction: float


def choose_day(days: Iterable[date], target: date, *,
               cloud_of: Callable[[date], float | None],
               read: Callable[[date], tuple[np.ndarray, Any]], max_cloud: float,
               max_candidates: int, where: str) -> Choice:
    """The nearest day whose window cloud fraction (from SCL) is <= ``max_cloud``.

    Days are ranked by distance to ``target``, then by the catalogue's cloud cover
    ``cloud_of(day)`` (lowest first; None counts as 0). ``read(day)`` is called for at most
    ``max_candidates`` of them and returns ``(scl, data)``: the SCL layer on the scene grid
    and whatever else the route read that day (handed back in :class:`Choice`). A day whose
    window is all nodata (outside the swath) is skipped.

    Raises
    ------
    NoValidDataError
        The window is nodata on every candidate day.
    CloudCoverError
        Every candidate day is cloudier than ``max_cloud`` (the message lists them).
    """
    ranked = sorted(days, key=lambda d: (abs((d - target).days), cloud_of(d) or 0.0))
    tried: list[tuple[date, float]] = []
    for day in ranked[:max_candidates]:
        scl, data = read(day)
        frac = cloud_fraction(scl)
        if np.isnan(frac):  # window outside this day's swath
            continue
        if frac <= max_cloud:
            return Choice(day, scl, data, frac)
        tried.append((day, frac))
    if not tried:
        raise NoValidDataError(f"the {where} window is nodata (outside the swath) on every "
                               f"date tried near {target}; pick another date")
    raise cloudy_error(where=where, target=target, tried=tried, max_cloud=max_cloud)


def offset_looks_applied(dn: np.ndarray, scl: np.ndarray) -> bool:
    """Whether DNs of a baseline >= 04.00 product look *already* shifted by -1000.

    In genuine 04.00 products clear land (SCL 4, 5) almost never has DN < 1000 (it would be
    negative reflectance); a catalogue that already subtracted the offset leaves dark bands
    (blue, red over vegetation) mostly below 1000. Some Earth Search items carry a wrong
    ``earthsearch:boa_offset_applied`` flag (Element84/earth-search issues 66 and 71), hence
    this check. See :func:`dn_scale` for the check in both directions.

    Parameters
    ----------
    dn : ndarray of int, dims (band, y, x)
    scl : ndarray of int, dims (y, x)
    """
    land = np.isin(scl, list(SCL_CLEAR_LAND))
    if land.sum() < 50:
        return False
    low = [float(((b[land] > 0) & (b[land] < 1000)).mean()) for b in np.asarray(dn)]
    return max(low) > 0.2


#: Surfaces that are dark in some bands whatever the place or season: vegetation (SCL 4) in blue
#: and red (reflectance about 0.01-0.08), water (SCL 6) in the SWIR bands (below about 0.05).
DARK_REFERENCES: dict[int, tuple[str, ...]] = {4: ("B02", "B04"), 6: ("B11", "B12")}


def dn_scale(dn: np.ndarray, bands: Sequence[str], scl: np.ndarray, *,
             min_pixels: int = 100) -> tuple[str | None, str]:
    """Which DN scale an L2A product's pixels show: ``"plain"``, ``"+1000"`` or None (undecided).

    ``"plain"``: reflectance = DN / 10000 (before baseline 04.00, or the offset already applied
    by the catalogue). ``"+1000"``: the DNs still carry ESA's +1000 (baseline 04.00 and later,
    offset not applied). The evidence is the dark references (:data:`DARK_REFERENCES`): their
    median DN is below 800 on the plain scale and above 1000 with the +1000. Without enough
    reference pixels, a share above 20 % of clear land (SCL 4, 5) below DN 1000 in some band
    still shows the plain scale (:func:`offset_looks_applied`); otherwise the pixels cannot tell
    (a bright desert is above DN 1000 on both scales).

    Parameters
    ----------
    dn : ndarray of int, dims (band, y, x)
        Digital numbers, 0 = nodata.
    bands : sequence of str
        Band names of ``dn``'s first axis (``"B02"``...).
    scl : ndarray of int, dims (y, x)
        Scene classification of the same product on the same grid.

    Returns
    -------
    (str or None, str)
        The scale and the numbers behind it (for provenance).
    """
    dn = np.asarray(dn)
    scl = np.asarray(scl)
    refs = [dn[i][(scl == cls) & (dn[i] > 0)] for cls, names in DARK_REFERENCES.items()
            for i, band in enumerate(bands) if band in names]
    values = np.concatenate(refs) if refs else np.zeros(0)
    if values.size >= min_pixels:
        med = float(np.median(values))
        what = f"median DN {med:.0f} of {values.size} dark reference pixels"
        if med >= 1000:
            return "+1000", what
        if med < 800:
            return "plain", what
        return None, what + " (between 800 and 1000)"
    if offset_looks_applied(dn, scl):
        return "plain", "over 20 % of clear land below DN 1000"
    return None, "no vegetation or water to check against, and clear land is not dark"


def first_valid(layers: Sequence[np.ndarray], *, nodata: float = 0) -> np.ndarray:
    """Mosaic of same-grid layers: the first layer's value wherever it is not ``nodata``."""
    out = np.array(layers[0], copy=True)
    for layer in layers[1:]:
        hole = np.isnan(out) if np.isnan(nodata) else out == nodata
        out[hole] = np.asarray(layer)[hole]
    return out


def mosaic_reflectance(refls: Sequence[np.ndarray],
                       scls: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Mosaic per-product reflectance (band, y, x) and SCL (y, x), each already harmonised.

    A pixel comes from the first product (in the order given) that has data in every band, and
    its SCL from the same product, so that ``valid`` describes the pixel actually used.
    """
    refl = np.array(refls[0], dtype=np.float32, copy=True)
    scl = np.array(scls[0], copy=True)
    for r, c in zip(refls[1:], scls[1:], strict=True):
        hole = ~np.isfinite(refl).all(0)
        refl[:, hole] = r[:, hole]
        scl[hole] = c[hole]
    return refl, scl


def no_scene_error(*, where: str, target: date, search_days: int,
                   nearby: Iterable[tuple[date, float | None]], how: str) -> SceneNotFoundError:
    """The error for an empty search: it lists the nearest dates that do have a scene."""
    near = sorted(nearby, key=lambda dc: abs((dc[0] - target).days))[:6]
    if not near:
        return SceneNotFoundError(
            f"no Sentinel-2 L2A product covers {where} in {how} (not even months around "
            f"{target}); the area may lie outside every tile: check the scene's bbox/CRS, or "
            f"use load_scene(..., source='simulated')")
    listed = ", ".join(f"{d}" + ("" if c is None else f" ({c:.0f}% cloud)") for d, c in near)
    return SceneNotFoundError(
        f"no Sentinel-2 L2A product covers {where} within {search_days} days of {target} in "
        f"{how}; the nearest dates that have one are: {listed}. Pass one of them as "
        f"pre_date/post_date, or a larger search_days")


def cloudy_error(*, where: str, target: date, tried: list[tuple[date, float]],
                 max_cloud: float) -> CloudCoverError:
    """The error for a window that is cloudy on every candidate date."""
    listed = ", ".join(f"{d} ({100 * c:.0f}% cloud)" for d, c in tried)
    return CloudCoverError(
        f"the {where} window is cloudy on every date tried near {target}: {listed}; "
        f"max_cloud={max_cloud:g} allows at most {100 * max_cloud:.0f}%. Raise max_cloud, "
        "widen search_days or pick another date")


def network_error(what: str, err: BaseException | str) -> NetworkUnavailableError:
    """A NetworkUnavailableError naming the source and the offline alternatives."""
    why = err if isinstance(err, str) else f"{type(err).__name__}: {err}"
    return NetworkUnavailableError(f"cannot reach {what} ({why}); {FALLBACK_HINT}")


def licence(*dates: str) -> str:
    """The Copernicus attribution for products acquired on ``dates``."""
    years = sorted({d[:4] for d in dates})
    return f"Contains modified Copernicus Sentinel data {', '.join(years)}"


def assemble(spec: SceneSpec, *, bands: Sequence[str], pre: np.ndarray, post: np.ndarray,
             valid: np.ndarray, dem: np.ndarray, pre_acq: Acquisition,
             post_acq: Acquisition, label_source: str, provenance: dict[str, Any]) -> xr.Dataset:
    """Build the :mod:`s2slide.data` contract Dataset from arrays on the scene grid.

    Parameters
    ----------
    pre, post : ndarray of float32, dims (band, y, x)
        Harmonised reflectance 0-1, NaN where nodata.
    valid : ndarray of bool, dims (y, x)
        Clear on both dates (SCL); nodata pixels are removed here as well.
    dem : ndarray, dims (y, x)
        Elevation in metres on the grid.
    label_source : str
        Short name of the route for the label, e.g. ``"Earth Search"``.
    provenance : dict
        Route-specific provenance; item ids, hrefs, baselines and licence are added.
    """
    y, x = grid_coords(spec)
    pre = np.asarray(pre, np.float32)
    post = np.asarray(post, np.float32)
    valid = np.asarray(valid, bool) & np.isfinite(pre).all(0) & np.isfinite(post).all(0)
    if not valid.any():
        raise NoValidDataError(f"no clear pixel of {spec.name} on both {pre_acq.date} and "
                               f"{post_acq.date}; pick other dates (pre_date/post_date)")
    dem = np.asarray(dem, np.float32)
    prov = {**provenance, "scene": spec.name, "grid": {
        "epsg": spec.epsg, "bounds": list(spec.bounds), "resolution_m": spec.resolution_m},
        "pre": asdict(pre_acq), "post": asdict(post_acq),
        "licence": licence(pre_acq.date, post_acq.date)}
    ds = xr.Dataset(
        {"pre": (("band", "y", "x"), pre), "post": (("band", "y", "x"), post),
         "dem": (("y", "x"), dem),
         "slope": (("y", "x"), slope_degrees(dem, pixel_size=spec.resolution_m)),
         "valid": (("y", "x"), valid)},
        coords={"band": list(bands), "y": y, "x": x})
    ds["pre"].attrs.update(units="reflectance (0-1)", long_name="pre-event surface reflectance")
    ds["post"].attrs.update(units="reflectance (0-1)", long_name="post-event surface reflectance")
    ds["dem"].attrs.update(units="m", long_name="elevation (Copernicus DEM GLO-30)")
    ds["slope"].attrs.update(units="degrees", long_name="slope")
    ds.attrs.update(
        source="live", scene=spec.name,
        label=f"{spec.name.title()}, live Sentinel-2 L2A ({label_source}, "
              f"{pre_acq.date} / {post_acq.date})",
        pre_date=pre_acq.date, post_date=post_acq.date,
        pre_baseline=pre_acq.baseline or "unknown", post_baseline=post_acq.baseline or "unknown",
        resolution_m=float(spec.resolution_m), provenance=json.dumps(prov, default=str))
    ds = ds.rio.write_crs(f"EPSG:{spec.epsg}")
    return ds.rio.write_transform(grid_transform(spec))
