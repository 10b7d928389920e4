"""The disk cache of :func:`s2slide.data.load_scene`: one float32 GeoTIFF per scene and a JSON
sidecar (layers, grid, attributes, provenance and the GeoTIFF's SHA-256), under
``<S2SLIDE_CACHE>/scenes``, each written whole or not at all (:mod:`s2slide.files`).

An entry whose GeoTIFF or sidecar was altered, cut short or does not fit the other is removed
with a warning and the scene is loaded again; a cache folder others can only read (a class
cache prepared by an instructor) is read, and new scenes are then not cached."""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from s2slide import config, files
from s2slide.data import registry
from s2slide.errors import ChecksumError

#: A cached GeoTIFF without its sidecar for this long (seconds) was left by a crash.
ORPHAN_AFTER_S = 600.0


def source_hash(path: str) -> str:
    """Short hash of a module's source, so that a changed generator invalidates its cache."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def cache_key(tier: str, name: str, params: dict) -> str:
    text = json.dumps(params, sort_keys=True, default=str)
    return f"{name}-{tier}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def _cache_paths(key: str) -> tuple[Path, Path]:
    folder = config.cache_dir() / "scenes"
    return folder / f"{key}.tif", folder / f"{key}.json"


def cached_or_make(key: str, refresh: bool,
                    make: Callable[[], xr.Dataset]) -> tuple[xr.Dataset, bool]:
    """Read the cache entry ``key`` if intact, else ``make()`` the scene and cache it."""
    if not refresh:
        try:
            ds = _read_cache(key)
        except ChecksumError as err:
            warnings.warn(f"{err}; loading the scene again", stacklevel=4)
            ds = None
        if ds is not None:
            return ds, True
    ds = make()
    try:
        _write_cache(ds, key)
    except OSError as err:  # a full or read-only disk must not stop a chapter
        warnings.warn(f"could not cache the scene ({err}); it will be loaded again next time",
                      stacklevel=4)
    return ds, False


def _layers(ds: xr.Dataset) -> list[tuple[str, str | None, str]]:
    """(variable, band or None, dtype) of every 2-D layer written to the cache GeoTIFF."""
    out: list[tuple[str, str | None, str]] = []
    for var, da in ds.data_vars.items():
        if da.dims == ("band", "y", "x"):
            out += [(str(var), str(b), str(da.dtype)) for b in da["band"].values]
        elif da.dims == ("y", "x"):
            out.append((str(var), None, str(da.dtype)))
    return out


def _write_cache(ds: xr.Dataset, key: str) -> None:
    """Write ``ds`` as one float32 GeoTIFF and a JSON sidecar holding its SHA-256, each atomically.

    The sidecar is written last: an entry is complete when it exists and its checksum matches.
    A crash in between leaves a GeoTIFF without sidecar, which is replaced by the next write of
    the same key, or removed by any write after :data:`ORPHAN_AFTER_S`.
    """
    import rasterio

    tif, meta = _cache_paths(key)
    tif.parent.mkdir(parents=True, exist_ok=True)
    _clean_orphans(tif.parent)
    layers = _layers(ds)
    profile = dict(driver="GTiff", width=ds.sizes["x"], height=ds.sizes["y"], count=len(layers),
                   dtype="float32", crs=ds.rio.crs, transform=ds.rio.transform(), nodata=None)
    with files.atomic(tif) as tmp:
        with rasterio.open(tmp, "w", **profile) as dst:
            for i, (var, band, _) in enumerate(layers, start=1):
                arr = ds[var].sel(band=band) if band is not None else ds[var]
                dst.write(arr.values.astype(np.float32), i)
                dst.set_band_description(i, var if band is None else f"{var}:{band}")
        digest = registry.sha256(tmp)
    sidecar = {"layers": layers, "attrs": ds.attrs, "x": ds["x"].values.tolist(),
               "y": ds["y"].values.tolist(), "sha256": digest,
               "var_attrs": {str(k): v.attrs for k, v in ds.data_vars.items()}}
    files.write_text(meta, json.dumps(sidecar, default=_json_default))


def _clean_orphans(folder: Path) -> None:
    """Remove GeoTIFFs whose sidecar was never written (a crash), and sidecars of older versions."""
    now = time.time()
    for path in [*folder.glob("*.tif"), *folder.glob("*.tif.sha256")]:
        with contextlib.suppress(OSError):
            if path.suffix == ".sha256" or (not path.with_suffix(".json").exists()
                                            and now - path.stat().st_mtime > ORPHAN_AFTER_S):
                path.unlink()


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def _read_cache(key: str) -> xr.Dataset | None:
    """The cached scene, None when absent; ChecksumError (the entry is removed) when the GeoTIFF
    or its sidecar was altered, cut short or written by something else."""
    import rasterio

    tif, meta = _cache_paths(key)
    if not meta.is_file():
        return None
    try:
        side = json.loads(meta.read_text())
    except (ValueError, UnicodeDecodeError):
        side = None
    if not (tif.is_file() and isinstance(side, dict) and registry.sha256(tif) == side.get("sha256")):
        _drop(tif, meta)
        raise ChecksumError(f"cached scene {tif.name} does not match the SHA-256 of its sidecar "
                            f"{meta.name} (one of them was altered or cut short)")
    with rasterio.open(tif) as src:
        stack, crs, transform = src.read(), src.crs, src.transform
    try:
        if not _sidecar_fits(side, stack.shape):
            raise ValueError("its layers or grid differ from the GeoTIFF's")
        return _from_layers(stack, side, crs, transform)
    except (TypeError, ValueError, KeyError) as err:
        _drop(tif, meta)
        raise ChecksumError(f"the sidecar {meta.name} does not describe {tif.name} (its SHA-256 "
                            f"matches, but {err})") from err


def _sidecar_fits(side: dict, shape: tuple[int, int, int]) -> bool:
    """Whether a sidecar names one layer per band of a (count, height, width) GeoTIFF, and its grid."""
    layers, x, y = side.get("layers"), side.get("x"), side.get("y")
    return (isinstance(layers, list) and len(layers) == shape[0] >= 1
            and all(isinstance(lay, list) and len(lay) == 3 for lay in layers)
            and isinstance(x, list) and len(x) == shape[2] and isinstance(y, list)
            and len(y) == shape[1] and isinstance(side.get("attrs"), dict)
            and isinstance(side.get("var_attrs"), dict))


def _drop(*paths: Path) -> None:
    for path in paths:  # a read-only class cache keeps them; the scene is loaded again anyway
        with contextlib.suppress(OSError):
            path.unlink()


def _from_layers(stack: np.ndarray, side: dict, crs, transform) -> xr.Dataset:
    layers = [tuple(x) for x in side["layers"]]
    data: dict[str, Any] = {}
    bands: list[str] = []
    for var in dict.fromkeys(v for v, _, _ in layers):
        idx = [i for i, (v, _, _) in enumerate(layers) if v == var]
        dtype = np.dtype(layers[idx[0]][2])
        arr = stack[idx].astype(dtype)
        attrs = side["var_attrs"].get(var, {})
        if layers[idx[0]][1] is None:
            data[var] = (("y", "x"), arr[0], attrs)
        else:
            data[var] = (("band", "y", "x"), arr, attrs)
            bands = [layers[i][1] for i in idx]
    coords = {"y": side["y"], "x": side["x"], **({"band": bands} if bands else {})}
    ds = xr.Dataset(data, coords=coords, attrs=side["attrs"])
    return ds.rio.write_crs(crs).rio.write_transform(transform)

