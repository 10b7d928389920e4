"""The disk cache of :func:`s2slide.data.load_scene`: one float32 GeoTIFF per scene, a JSON sidecar
(attributes, provenance) and a SHA-256 sidecar, under ``<S2SLIDE_CACHE>/scenes``."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from s2slide import config
from s2slide.data import registry
from s2slide.errors import ChecksumError


def source_hash(path: str) -> str:
    """Short hash of a module's source, so that a changed generator invalidates its cache."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def cache_key(tier: str, name: str, params: dict) -> str:
    text = json.dumps(params, sort_keys=True, default=str)
    return f"{name}-{tier}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def _cache_paths(key: str) -> tuple[Path, Path, Path]:
    folder = config.cache_dir() / "scenes"
    return folder / f"{key}.tif", folder / f"{key}.json", folder / f"{key}.tif.sha256"


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
    """Write ``ds`` as one float32 GeoTIFF (+ JSON sidecar, + SHA-256 sidecar), atomically."""
    import rasterio

    tif, meta, digest = _cache_paths(key)
    tif.parent.mkdir(parents=True, exist_ok=True)
    layers = _layers(ds)
    profile = dict(driver="GTiff", width=ds.sizes["x"], height=ds.sizes["y"], count=len(layers),
                   dtype="float32", crs=ds.rio.crs, transform=ds.rio.transform(), nodata=None)
    fd, tmp = tempfile.mkstemp(dir=tif.parent, suffix=".tif")
    os.close(fd)
    with rasterio.open(tmp, "w", **profile) as dst:
        for i, (var, band, _) in enumerate(layers, start=1):
            arr = ds[var].sel(band=band) if band is not None else ds[var]
            dst.write(arr.values.astype(np.float32), i)
            dst.set_band_description(i, var if band is None else f"{var}:{band}")
    sidecar = {"layers": layers, "attrs": ds.attrs, "x": ds["x"].values.tolist(),
               "y": ds["y"].values.tolist(),
               "var_attrs": {str(k): v.attrs for k, v in ds.data_vars.items()}}
    meta.write_text(json.dumps(sidecar, default=_json_default))
    digest.write_text(registry.sha256(Path(tmp)) + "\n")
    os.replace(tmp, tif)


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def _read_cache(key: str) -> xr.Dataset | None:
    """The cached scene, None when absent; ChecksumError when the GeoTIFF was altered."""
    import rasterio

    tif, meta, digest = _cache_paths(key)
    if not (tif.is_file() and meta.is_file() and digest.is_file()):
        return None
    if registry.sha256(tif) != digest.read_text().strip():
        tif.unlink()
        raise ChecksumError(f"cached scene {tif} does not match its SHA-256 sidecar")
    side = json.loads(meta.read_text())
    with rasterio.open(tif) as src:
        stack, crs, transform = src.read(), src.crs, src.transform
    return _from_layers(stack, side, crs, transform)


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

