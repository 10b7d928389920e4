"""The course's pipeline on a whole Sentinel-2 tile, chunk by chunk, with Dask (appendix, chapter 8).

A Sentinel-2 tile is 10,980 x 10,980 pixels at 10 m (109.8 km a side): two dates of two bands
in float32 take 1.9 GB, and a U-Net's activations many times more. Nothing here holds a tile
in memory: arrays are lazy :mod:`dask.array` chunks (wrapped in :mod:`xarray`), every step is
the course's per-array function applied chunk by chunk (``map_blocks``, or ``map_overlap``
where a pixel needs its neighbours), and only small results (counts, coarse density maps)
are brought back. The same code runs on a :class:`distributed.LocalCluster` with memory
limits or on a remote Dask cluster named by its address.

Offline, the tile is **simulated** by :func:`simulated_tile`, chunk by chunk (deterministic per
chunk); online, a real tile comes lazily from a STAC catalogue through ``odc.stac.load(...,
chunks=...)`` and the same functions apply.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from typing import Any

import numpy as np
import xarray as xr

from s2slide import checks, indices
from s2slide.data import bands as s2bands
from s2slide.data import mirror
from s2slide.errors import (InvalidInputError, NetworkUnavailableError, NoValidDataError,
                            SettingError)

TILE_PX = 10_980  #: pixels on a side of a Sentinel-2 tile at 10 m
CHUNK_PX = 1_220  #: default chunk side: 10,980 / 9, a multiple of 4 (U-Net pooling stays aligned)
BANDS = ("B04", "B08")  #: red and NIR at 10 m
_LAYERS = ("pre_B04", "pre_B08", "post_B04", "post_B08", "truth")
ADDRESS_ENV = "S2SLIDE_DASK_SCHEDULER"  #: environment variable naming a remote scheduler


def _check_size(size: Any, chunk: int) -> tuple[int, int]:
    pair = size if isinstance(size, (tuple, list)) and len(size) == 2 else (size, size)
    ny, nx = (checks.integer("size", v, hint=f": pixels per side, up to {TILE_PX}") for v in pair)
    checks.integer("chunk", chunk)
    if not (0 < int(ny) <= TILE_PX and 0 < int(nx) <= TILE_PX):
        raise InvalidInputError(f"size={size}: give 1 to {TILE_PX} pixels per side (a full "
                                f"Sentinel-2 tile is {TILE_PX} x {TILE_PX}).")
    if int(chunk) < 16:
        raise InvalidInputError(f"chunk={chunk}: use chunks of at least 16 px a side "
                                f"(about {CHUNK_PX} keeps tasks efficient).")
    return int(ny), int(nx)


@lru_cache(maxsize=4)
def _fields(seed: int) -> dict[str, tuple[np.ndarray, int]]:
    """Coarse random fields over the whole tile, (values, cell size in px); small and cached."""
    from scipy import ndimage

    rng = np.random.default_rng([seed, 2022])
    out = {}
    for name, cell, sigma in (("veg", 128, 1.5), ("crop", 96, 1.0), ("scar", 24, 1.0)):
        n = TILE_PX // cell + 4
        f = ndimage.gaussian_filter(rng.normal(size=(n, n)), sigma)
        out[name] = ((f - f.mean()) / f.std(), cell)
    return out


def _sample_field(name: str, seed: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    field, cell = _fields(seed)[name]
    yy, xx = np.meshgrid(rows / cell, cols / cell, indexing="ij")
    return ndimage.map_coordinates(field, [yy, xx], order=1, mode="nearest").astype(np.float32)


def tile_block(y0: int, y1: int, x0: int, x1: int, *, seed: int = 0) -> np.ndarray:
    """One window of the simulated tile: float32 (layer, y, x) with layers :data:`_LAYERS`.

    Smooth fields (vegetation, seasonal crops, scar likelihood) are interpolated from coarse
    grids shared by the whole tile, so chunks join without seams; the sensor noise is drawn from
    a generator seeded by ``(seed, y0, x0)``, so each chunk is deterministic. Reflectance 0-1.
    """
    rows, cols = np.arange(y0, y1, dtype=np.float32), np.arange(x0, x1, dtype=np.float32)
    veg = 1 / (1 + np.exp(-1.6 * _sample_field("veg", seed, rows, cols) - 1.0))  # 0-1
    crop = _sample_field("crop", seed, rows, cols) > 1.6  # harvested fields: a false change
    scar = (_sample_field("scar", seed, rows, cols) > 1.9) & (veg > 0.55)
    veg_post = np.where(scar, 0.03, np.where(crop, veg * 0.6, veg * 0.97))
    rng = np.random.default_rng([seed, y0, x0])
    out = np.empty((len(_LAYERS), y1 - y0, x1 - x0), dtype=np.float32)
    for i, v in enumerate((veg, veg, veg_post, veg_post)):
        red, nir = 0.035 * v + 0.15 * (1 - v), 0.38 * v + 0.23 * (1 - v)
        out[i] = (red if i % 2 == 0 else nir) * (1 + 0.04 * rng.standard_normal(v.shape))
    out[4] = scar
    return out


def _tile_chunk(*, seed: int, block_info: Any = None) -> np.ndarray:
    (_, _), (y0, y1), (x0, x1) = block_info[None]["array-location"]
    return tile_block(y0, y1, x0, x1, seed=seed)


def simulated_tile(*, size: Any = TILE_PX, chunk: int = CHUNK_PX, seed: int = 0) -> xr.Dataset:
    """A **simulated** Sentinel-2 tile (or its top-left part) as lazy dask arrays.

    Parameters
    ----------
    size : int or (int, int)
        Pixels (rows, columns); the full tile is 10,980. A smaller size is the top-left crop of
        the same simulated tile.
    chunk : int
        Chunk side in pixels.
    seed : int
        Seed of the simulation.

    Returns
    -------
    xarray.Dataset
        ``pre``, ``post`` float32 reflectance (band, y, x) with bands :data:`BANDS`, ``truth`` bool
        (y, x) (the simulated new scars); dask-backed, nothing computed yet.
    """
    import dask.array as da

    ny, nx = _check_size(size, chunk)
    stack = da.map_blocks(_tile_chunk, seed=int(seed), dtype=np.float32, meta=np.array((), np.float32),
                          chunks=((len(_LAYERS),), da.core.normalize_chunks(chunk, (ny,))[0],
                                  da.core.normalize_chunks(chunk, (nx,))[0]))
    coords = {"band": list(BANDS), "y": np.arange(ny) * -10.0, "x": np.arange(nx) * 10.0}
    ds = xr.Dataset({"pre": (("band", "y", "x"), stack[0:2]), "post": (("band", "y", "x"), stack[2:4]),
                     "truth": (("y", "x"), stack[4] > 0.5)}, coords=coords)
    ds.attrs.update(source="simulated", label=f"simulated {ny:,} x {nx:,} px tile (s2slide.scale, seed {seed})",
                    resolution_m=10.0)
    return ds


def ndvi_pair(ds: xr.Dataset) -> tuple[xr.DataArray, xr.DataArray]:
    """Lazy NDVI (y, x) of the pre and post dates, with :func:`s2slide.indices.ndvi`."""
    return tuple(indices.ndvi(nir=ds[w].sel(band="B08"), red=ds[w].sel(band="B04"))
                 for w in ("pre", "post"))


def dndvi_mask(ds: xr.Dataset, *, threshold: float = indices.SEED000_THRESHOLD) -> xr.DataArray:
    """Seed 000's mask, dNDVI < ``threshold``, computed chunk by chunk (lazy bool (y, x)).

    Each chunk goes through the very function chapter 3 uses, :func:`s2slide.indices.dndvi_mask`.
    """
    import dask.array as da

    pre, post = ndvi_pair(ds)
    if not isinstance(pre.data, da.Array):
        return xr.DataArray(indices.dndvi_mask(pre, post, threshold=threshold), coords=pre.coords)
    mask = da.map_blocks(indices.dndvi_mask, pre.data, post.data, threshold=threshold, dtype=bool)
    return xr.DataArray(mask, coords=pre.coords, dims=pre.dims, name="dndvi_mask")


def features(ds: xr.Dataset) -> xr.DataArray:
    """Lazy float32 features (feature, y, x): dNDVI (post - pre) and NDVI after the event.

    The inputs of the clustering and of the U-Net below (seed 000 clusters index images too).
    """
    pre, post = ndvi_pair(ds)
    return xr.concat([post - pre, post], dim="feature").assign_coords(feature=["dndvi", "ndvi_post"])


def sample_pixels(feat: xr.DataArray, *, n: int = 20_000, n_chunks: int = 4, seed: int = 0) -> np.ndarray:
    """``n`` random pixels (n, feature) drawn from ``n_chunks`` random chunks: a bounded sample.

    Only the chosen chunks are computed, so the cost does not grow with the tile.
    """
    data = feat.data
    rng = np.random.default_rng(seed)
    ny, nx = data.numblocks[1:]
    picks = rng.choice(ny * nx, size=min(n_chunks, ny * nx), replace=False)
    blocks = [np.asarray(data.blocks[:, p // nx, p % nx]).reshape(data.shape[0], -1).T for p in picks]
    pixels = np.concatenate(blocks)
    pixels = pixels[np.isfinite(pixels).all(axis=1)]
    if len(pixels) < 10:
        raise InvalidInputError(
            f"fewer than 10 finite pixels in the {len(picks)} sampled chunks (of {ny * nx}): on a "
            "real tile (stac_tile) the pixels its SCL calls cloud, cloud shadow, snow or no data "
            "are NaN; sample more chunks (n_chunks=), or choose dates with fewer clouds.")
    return pixels[rng.choice(len(pixels), size=min(n, len(pixels)), replace=False)]


def fit_kmeans(sample: np.ndarray, *, k: int = 4, seed: int = 0) -> Any:
    """scikit-learn ``MiniBatchKMeans`` on standardised features, fitted on a pixel sample.

    Standardising first (``StandardScaler``) lets dNDVI, whose spread is small, weigh as much as
    NDVI; with k = 4 a cluster is left for the rare scars (about 2 % of the simulated pixels).

    Returns
    -------
    sklearn.pipeline.Pipeline
        ``predict`` takes (n, feature) pixels; see :func:`cluster_centres`.
    """
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if sample.ndim != 2 or len(sample) < k:
        raise InvalidInputError(f"sample of shape {sample.shape}: give (n_pixels, n_features) "
                                f"with at least k={k} rows (see sample_pixels).")
    kmeans = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=3, batch_size=4096)
    return make_pipeline(StandardScaler(), kmeans).fit(sample)


def cluster_centres(model: Any) -> np.ndarray:
    """Cluster centres (k, feature) in the features' own units (standardisation undone)."""
    return model[0].inverse_transform(model[-1].cluster_centers_)


def _predict_chunk(block: np.ndarray, *, model: Any) -> np.ndarray:
    pixels = block.reshape(block.shape[0], -1).T
    ok = np.isfinite(pixels).all(axis=1)
    labels = np.full(len(pixels), 255, dtype=np.uint8)  # 255: no label (NaN input)
    if ok.any():
        labels[ok] = model.predict(pixels[ok])
    return labels.reshape(block.shape[1:])


def predict_chunks(model: Any, feat: xr.DataArray) -> xr.DataArray:
    """Apply a fitted scikit-learn model to every pixel, chunk by chunk: uint8 labels (y, x)."""
    import dask.array as da

    data = feat.data.rechunk({0: -1})
    labels = da.map_blocks(_predict_chunk, data, model=model, drop_axis=0, dtype=np.uint8)
    return xr.DataArray(labels, coords={"y": feat.y, "x": feat.x}, dims=("y", "x"), name="cluster")


def scar_cluster(model: Any) -> int:
    """The cluster whose centre has the lowest dNDVI (feature 0): the landslide cluster."""
    return int(np.argmin(cluster_centres(model)[:, 0]))


# --- U-Net inference with map_overlap -------------------------------------------------------

UNET_ARCH = {"base_filters": 8, "depth": 3}  #: small U-Net (chapter 6's build_unet) for CPUs
_MODELS: dict[tuple[str, int], Any] = {}


def _weights_key(weights: list[np.ndarray]) -> str:
    h = hashlib.sha1()
    for w in weights:
        h.update(np.ascontiguousarray(w).tobytes())
    return h.hexdigest()


def _unet_for(channels: int, arch: dict, weights: list[np.ndarray]) -> Any:
    """Chapter 6's U-Net with any input size, built once per worker process, with ``weights``.

    ``build_unet`` fixes the patch size; the same layers accept any size that is a multiple of
    ``2 ** (depth - 1)``, so the input layer is rebuilt with ``(None, None, channels)``.
    """
    import keras

    from s2slide.models.unet import build_unet

    if weights is None:
        raise InvalidInputError("weights=None: no trained U-Net (train_unet needs a truth mask, "
                                "which a real tile lacks); skip the U-Net step.")
    key = (_weights_key(weights), channels)
    if key not in _MODELS:
        config = build_unet(channels, size=2 ** arch["depth"], seed=None, **arch).get_config()
        config["layers"][0]["config"]["batch_shape"] = (None, None, None, channels)
        model = keras.Model.from_config(config)
        try:
            model.set_weights(weights)
        except ValueError as err:  # weights of another depth, width or number of channels
            raise InvalidInputError(f"the weights do not fit a U-Net of {channels} channels and "
                                    f"arch={arch} ({str(err)[:120]}): pass the arch and features "
                                    "they were trained with (scale.train_unet's).") from err
        _MODELS[key] = model
    return _MODELS[key]


def unet_predict_array(x: np.ndarray, *, weights: list[np.ndarray], arch: dict = UNET_ARCH) -> np.ndarray:
    """U-Net probability (y, x), 0-1, of one in-memory array (feature, y, x).

    Sides that are not a multiple of ``2 ** (depth - 1)`` are padded with zeros at the bottom
    and right, and the pad is cut off the result; NaN inputs count as 0.
    """
    c, h, w = x.shape
    step = 2 ** (arch["depth"] - 1)
    padded = np.zeros((1, -(-h // step) * step, -(-w // step) * step, c), dtype=np.float32)
    padded[0, :h, :w] = np.nan_to_num(np.moveaxis(x, 0, -1))
    prob = _unet_for(c, arch, weights)(padded, training=False)  # eager: no retracing per shape
    return np.asarray(prob)[0, :h, :w, 0].astype(np.float32)


def unet_chunks(feat: xr.DataArray, *, weights: list[np.ndarray], arch: dict = UNET_ARCH,
                overlap: int = 32) -> xr.DataArray:
    """Tiled U-Net inference: each chunk is predicted with ``overlap`` px of its neighbours.

    ``dask.array.overlap.overlap`` adds the halo (none at the image border), every block is
    predicted with :func:`unet_predict_array`, and the halo is cut off again. The overlap must
    cover the network's receptive field for chunk edges to match whole-image inference; keep
    it a multiple of ``2 ** (depth - 1)`` so that the pooling grids of all chunks stay aligned.

    Returns
    -------
    xarray.DataArray
        Lazy float32 probability (y, x), 0-1, chunked like ``feat``.
    """
    import dask.array as da

    step = 2 ** (arch["depth"] - 1)
    if overlap < 0 or overlap % step:
        raise InvalidInputError(f"overlap={overlap}: use a non-negative multiple of {step} "
                                "(2 ** (depth - 1)), e.g. 32.")
    data = feat.data.rechunk({0: -1})
    if any(c % step for axis in data.chunks[1:] for c in axis[:-1]):
        raise InvalidInputError(f"chunks {data.chunks[1:]}: every chunk but the last must be a "
                                f"multiple of {step} px so that pooling grids stay aligned; "
                                "rechunk, e.g. feat.chunk(y=1220, x=1220).")
    if overlap and min(min(c) for c in data.chunks[1:]) < overlap:
        raise InvalidInputError(f"a chunk is smaller than overlap={overlap} px: rechunk to larger "
                                "chunks (e.g. feat.chunk(x=1220, y=1220)) or reduce the overlap.")
    haloed = da.overlap.overlap(data, depth={0: 0, 1: overlap, 2: overlap}, boundary="none")
    prob = haloed.map_blocks(_trimmed_unet, weights=weights, arch=arch, overlap=overlap,
                             drop_axis=0, chunks=data.chunks[1:], dtype=np.float32,
                             meta=np.array((), np.float32))
    return xr.DataArray(prob, coords={"y": feat.y, "x": feat.x}, dims=("y", "x"), name="unet_probability")


def _trimmed_unet(x: np.ndarray, *, weights: list[np.ndarray], arch: dict, overlap: int,
                  block_info: Any = None) -> np.ndarray:
    """Predict a chunk with its halo, then cut the halo off (there is none at the image border)."""
    prob = unet_predict_array(x, weights=weights, arch=arch)
    if block_info is None:  # dask's metadata probe
        return prob
    (i, j), (h, w) = block_info[None]["chunk-location"], block_info[None]["chunk-shape"]
    top, left = (0 if i == 0 else overlap), (0 if j == 0 else overlap)
    return prob[top:top + h, left:left + w]


def train_unet(feat: np.ndarray, truth: np.ndarray, *, patch: int = 64, n: int = 256,
               epochs: int = 3, arch: dict = UNET_ARCH, seed: int = 0) -> list[np.ndarray]:
    """Train chapter 6's U-Net (small ``arch``) on random patches of one in-memory window.

    Parameters
    ----------
    feat : ndarray, float32, (feature, y, x)
        E.g. one computed chunk of :func:`features`.
    truth : ndarray, bool, (y, x)
        Labels of the same window.

    Returns
    -------
    list of ndarray
        The trained weights, to pass to :func:`unet_chunks` (small enough to ship to workers).
    """
    from s2slide.models.unet import build_unet, compile_unet
    from s2slide.models.inputs import positive_weight

    c, h, w = feat.shape
    if truth.shape != (h, w) or min(h, w) < patch:
        raise InvalidInputError(f"feat {feat.shape} and truth {truth.shape}: give one window "
                                f"(feature, y, x) and its (y, x) labels, at least {patch} px a side.")
    rng = np.random.default_rng(seed)
    rows, cols = rng.integers(0, h - patch + 1, n), rng.integers(0, w - patch + 1, n)
    pos_r, pos_c = np.nonzero(truth)
    if len(pos_r):  # half the patches around a scar pixel, as seed 001 tiles around inventories
        pick = rng.integers(0, len(pos_r), n // 2)
        rows[: n // 2] = np.clip(pos_r[pick] - patch // 2, 0, h - patch)
        cols[: n // 2] = np.clip(pos_c[pick] - patch // 2, 0, w - patch)
    x = np.stack([np.nan_to_num(feat[:, r:r + patch, q:q + patch]) for r, q in zip(rows, cols)])
    y = np.stack([truth[r:r + patch, q:q + patch] for r, q in zip(rows, cols)]).astype(np.float32)
    model = compile_unet(build_unet(c, size=patch, seed=seed, **arch), loss="weighted_bce",
                         pos_weight=positive_weight(y))
    model.fit(np.moveaxis(x, 1, -1), y[..., None], epochs=epochs, batch_size=16, verbose=0)
    return model.get_weights()


# --- clusters, results, memory -------------------------------------------------------------

def start_client(address: str | None = None, *, n_workers: int = 1, threads_per_worker: int = 2,
                 memory_limit: str = "3GiB", timeout: float = 10.0) -> Any:
    """A Dask client: on a remote scheduler if ``address`` (or ``$S2SLIDE_DASK_SCHEDULER``) is
    given, else on a new :class:`distributed.LocalCluster` with a memory limit per worker.

    Parameters
    ----------
    address : str, optional
        E.g. ``"tcp://10.0.0.5:8786"`` (a cluster started with ``dask scheduler`` /
        ``dask worker``, Dask Gateway or Coiled); its workers need ``s2slide`` installed.
    n_workers, threads_per_worker, memory_limit
        The local cluster: workers pause at 80 % and are restarted at 95 % of ``memory_limit``.
        One process with two threads is the default: TensorFlow (about 0.5 GB) is loaded once,
        and on two cores it measured 1.5 GB at peak against 2.5 GB for two one-thread workers
        (2,440 px tile, 1,220 px chunks; a full tile peaks at about 2.6 GB).

    Returns
    -------
    distributed.Client
        ``client.dashboard_link`` is the address of the live dashboard (needs ``bokeh``).
    """
    from distributed import Client, LocalCluster

    address = _check_address(address)
    if address:
        try:
            return Client(address, timeout=timeout)
        except (OSError, TimeoutError) as err:
            raise NetworkUnavailableError(
                f"no Dask scheduler answered at {address!r} within {timeout:g} s ({err}); check "
                f"the address and port (8786 by default), or unset {ADDRESS_ENV} to use a local "
                "cluster.") from err
    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker,
                           memory_limit=memory_limit, dashboard_address=":0", processes=True)
    return Client(cluster)


_ADDRESS = r"(?:(?:tcp|tls|ucx|ws|wss)://)?(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:]+\]):\d{1,5}"


def _check_address(address: Any) -> str | None:
    """``address`` (else ``$S2SLIDE_DASK_SCHEDULER``, else None) if it reads ``[scheme://]host:port``."""
    import re

    given = address or os.environ.get(ADDRESS_ENV) or None
    if given is None or (isinstance(given, str) and re.fullmatch(_ADDRESS, given.strip())):
        return given.strip() if given else None
    where, error = ((f"address={given!r}", InvalidInputError) if address
                    else (f"{ADDRESS_ENV}={given!r}", SettingError))
    raise error(f"{where} is not a Dask scheduler address: give 'tcp://HOST:PORT' (e.g. "
                f"'tcp://10.0.0.5:8786'), or leave it out (unset {ADDRESS_ENV}) to start a local "
                "cluster.")


def density_map(mask: xr.DataArray, *, factor: int = 61,
                valid: xr.DataArray | None = None) -> xr.DataArray:
    """Fraction of flagged pixels in ``factor`` x ``factor`` blocks: a small lazy overview map.

    61 divides 10,980 (180 x 180 cells of 610 m for a full tile); edges that do not fill a
    block are trimmed. With ``valid`` (bool (y, x), False where a pixel is masked, e.g. under
    a cloud), the fraction is of the valid pixels of each block, and NaN where a block has none:
    a cell hidden by clouds reads "not seen", not "no landslides".
    """
    if factor < 1:
        raise InvalidInputError(f"factor={factor}: use a positive block size in pixels, e.g. 61.")
    share = mask.astype(np.float32)
    if valid is not None:
        share = share.where(valid)  # NaN: left out of each block's mean (skipna)
    return share.coarsen(y=factor, x=factor, boundary="trim").mean()


def _outside(ds: xr.Dataset, window: dict[str, slice]) -> xr.DataArray:
    """Lazy boolean (y, x) map chunked like ``ds``: True outside ``window`` (pixel slices)."""
    import dask.array as da

    keep = []
    for dim in ("y", "x"):
        part = window.get(dim, slice(None))
        start, stop, _ = part.indices(ds.sizes[dim])
        index = da.arange(ds.sizes[dim], chunks=ds.chunksizes.get(dim, -1) if ds.chunks else -1)
        keep.append(xr.DataArray((index >= start) & (index < stop), dims=dim))
    return ~(keep[0] & keep[1])


def pipeline(ds: xr.Dataset, *, kmeans: Any, weights: list[np.ndarray] | None,
             arch: dict = UNET_ARCH, overlap: int = 32, factor: int = 61,
             exclude: dict[str, slice] | None = None) -> dict[str, Any]:
    """The lazy results of the three methods on a tile: counts and density maps only.

    ``exclude`` (e.g. ``{"y": slice(0, 976), "x": slice(0, 976)}``, pixel indices) leaves a
    window, such as the U-Net's training window, out of the counts and true positives, so that
    scores are computed on unseen pixels only; the density maps still cover the whole tile.
    Without a ``truth`` variable (a real tile, :func:`stac_tile`) the ``truth_*`` and
    ``*_true_positives`` entries are left out; with ``weights=None`` the ``unet_*`` ones.
    ``masked_pixels`` counts the pixels no method can judge (NaN on a date: clouds, shadow,
    snow or no data on a real tile; none on a simulated one); every method leaves them unflagged,
    and the density maps are shares of the other pixels (NaN in a cell with none of them).

    Returns a dict of lazy objects; ``dask.compute(*d.values())`` evaluates them together, so
    each chunk of the tile is generated (or read) once and then forgotten.
    """
    feat = features(ds)
    seen = feat.notnull().all("feature")  # False where a date is masked (a real tile's clouds)
    truth = ds["truth"] if "truth" in ds else None
    maps = {} if truth is None else {"truth": truth}
    maps["dndvi"] = dndvi_mask(ds)
    maps["kmeans"] = predict_chunks(kmeans, feat) == scar_cluster(kmeans)
    if weights is not None:  # the U-Net reads NaN as 0 and answers there too: keep seen pixels
        maps["unet"] = (unet_chunks(feat, weights=weights, arch=arch, overlap=overlap) > 0.5) & seen
    keep = _outside(ds, exclude) if exclude else True
    out: dict[str, Any] = {"masked_pixels": (~seen & keep).sum()}
    for name, m in maps.items():
        out[f"{name}_pixels"] = (m & keep).sum()
        out[f"{name}_density"] = density_map(m, factor=factor, valid=seen)
        if truth is not None and name != "truth":
            out[f"{name}_true_positives"] = (m & truth & keep).sum()
    return out


def cluster_memory_peak(client: Any, work: Any, *, interval: float = 0.25) -> tuple[Any, float]:
    """Run ``work()`` while Dask's ``MemorySampler`` records the cluster's memory.

    Returns
    -------
    (result, peak_gb)
        ``work()``'s result, and the peak of the summed process memory of all workers, in GB.
    """
    from distributed.diagnostics import MemorySampler

    sampler = MemorySampler()
    with sampler.sample("work", client=client, interval=interval):
        result = work()
    series = sampler.to_pandas()
    return result, float(series.max().max()) / 1e9 if len(series) else float("nan")


# --- real tiles and the Earth Engine route (online only) ------------------------------------

#: The epicentral area of the 2022 Luding earthquake (west, south, east, north), degrees.
LUDING_REGION = (101.8, 29.3, 102.4, 29.9)
#: Pre- and post-event search windows around seed 000's dates (2021-11-05, 2022-11-20).
LUDING_DATES = ("2021-10-01/2021-12-31", "2022-10-15/2022-12-31")


def _least_cloudy(items: list, *, max_cloud: float, what: str, grid_code: str | None = None) -> Any:
    """The item with the lowest ``eo:cloud_cover`` below ``max_cloud`` % (of one MGRS tile)."""
    from s2slide.errors import SceneNotFoundError

    found = [it for it in items if (it.properties.get("eo:cloud_cover") is not None
                                    and it.properties["eo:cloud_cover"] < max_cloud
                                    and grid_code in (None, it.properties.get("grid:code")))]
    if not found:
        tile = f" of tile {grid_code}" if grid_code else ""
        raise SceneNotFoundError(f"no Sentinel-2 item{tile} under {max_cloud:g} % cloud in "
                                 f"{what}; widen the dates or raise max_cloud.")
    return min(found, key=lambda item: item.properties["eo:cloud_cover"])


#: Pixels on a side of the coarse read (the files' overviews) that checks each item's offset.
OFFSET_CHECK_PX = 512


def _tile_and_day(items: list, chosen: Any, *, lon: float) -> list:
    """The items of ``chosen``'s MGRS tile and solar day: a tile split between two datastrips,
    or processed twice, has several, each with its own metadata."""
    from s2slide.data.live import stac

    day = next(group for group in stac.items_by_day(items, lon).values() if chosen in group)
    code = chosen.properties.get("grid:code")
    return [it for it in day if it.properties.get("grid:code") == code]


def _check_grid(gbox: Any, *, name: str) -> Any:
    """A coarse grid (about :data:`OFFSET_CHECK_PX` a side) over ``gbox`` for the offset check,
    in the dark-reference bands the check reads (vegetation in blue and red, water in SWIR)."""
    from s2slide.data.live import _grid
    from s2slide.data.scenes import SceneSpec

    factor = max(1, -(-max(gbox.shape) // OFFSET_CHECK_PX))
    aff = gbox.affine
    return SceneSpec(name=name, epsg=gbox.crs.epsg, left=aff.c, top=aff.f,
                     resolution_m=abs(aff.a) * factor, height=-(-gbox.shape[0] // factor),
                     width=-(-gbox.shape[1] // factor), pre_date="", post_date="", event="",
                     bands=tuple(sorted({b for v in _grid.DARK_REFERENCES.values() for b in v})))


def _reflectance_block(dn: np.ndarray, scl: np.ndarray, *, offsets: tuple[int, ...],
                       scl_mask: tuple[int, ...]) -> np.ndarray:
    """One chunk of DNs (band, item, y, x) as reflectance (band, y, x): each item converted with
    its own offset, then mosaicked as chapter 1's STAC route does (first item with data); the
    pixel's SCL (``scl``: (1, item, y, x)) from the item used, and NaN where its class is in
    ``scl_mask`` (cloud, shadow, snow, no data), as the route's ``valid``."""
    from s2slide.data import harmonize
    from s2slide.data.live import _grid

    refls = [harmonize.dn_to_reflectance(dn[:, i], offset=off) for i, off in enumerate(offsets)]
    refl, used = _grid.mosaic_reflectance(refls, list(scl[0]))
    refl[:, ~_grid.valid_from_scl(used, scl_mask=scl_mask)] = np.nan
    return refl


def _tile_reflectance(items: list, cat: Any, *, chunk: int, timeout: float, what: str,
                      scl_mask: tuple[int, ...], geobox: Any = None) -> tuple[xr.DataArray, list[dict]]:
    """Lazy reflectance (band, y, x) of one day's ``items`` at 10 m (or on ``geobox``), NaN where
    the items' SCL is in ``scl_mask``, and each item's offset decision, made by the STAC route
    (:func:`stac.harmonised_day`) on a coarse read; GDAL's time limits are the route's (captured
    into the dask graph by odc-stac)."""
    import dask.array as da
    import odc.stac

    from s2slide.data.live import stac

    stac._configure_gdal(timeout)
    grid = {"resolution": 10} if geobox is None else {"geobox": geobox}
    keys, scl_key = [cat.asset(b) for b in BANDS], cat.asset("SCL")
    if blind := [it.id for it in items if scl_key not in it.assets]:
        # odc-stac would fill a missing SCL with 0 (no data) and mask the whole item unsaid
        raise NoValidDataError(f"{what}: item(s) {', '.join(blind)} have no {scl_key!r} asset "
                               "(scene classification), so their clouds cannot be masked; pick "
                               "other dates (stac_tile(dates=...)) or use simulated_tile()")
    raw = odc.stac.load(items, bands=[*keys, scl_key], chunks={"x": chunk, "y": chunk},
                        groupby="id", resampling={scl_key: "nearest"}, **grid)  # SCL: 20 m classes
    spec = _check_grid(raw.odc.geobox, name=what)
    decisions = stac.harmonised_day(items, cat, spec, spec.bands, what=what, timeout=timeout)[2]
    where = {it.id: i for i, it in enumerate(items)}
    order = [where[d["id"]] for d in decisions]
    dn = raw[keys].to_array("band").isel(time=order)
    scl = raw[scl_key].isel(time=order).data[None].rechunk({1: -1})
    refl = da.map_blocks(_reflectance_block, dn.data.rechunk({0: -1, 1: -1}), scl,
                         offsets=tuple(d["offset"] for d in decisions), scl_mask=scl_mask,
                         drop_axis=1, dtype=np.float32, meta=np.array((), np.float32))
    like = dn.isel(time=0, drop=True)
    out = xr.DataArray(refl, coords=like.coords, dims=like.dims).assign_coords(band=list(BANDS))
    return out, decisions


def stac_tile(*, bbox: tuple = LUDING_REGION, dates: tuple = LUDING_DATES, chunk: int = CHUNK_PX,
              max_cloud: float = 20.0, timeout: float = 20.0,
              scl_mask: Any = None) -> xr.Dataset:
    """A **real** Sentinel-2 L2A tile pair from Earth Search, lazily (``odc.stac.load`` chunks).

    The least cloudy post-event item over ``bbox`` and the least cloudy pre-event item of the
    same MGRS tile, each with the other items of its tile and day; red and NIR (B04, B08) at
    10 m on the post-event grid. Each item gets its own BOA offset as chapter 1's STAC route
    decides it (:func:`s2slide.data.live.stac.harmonised_day`: its flag and baseline, then its
    own pixels, read here from the files' overviews at about 200 m) and is converted before the
    items are mosaicked, chunk by chunk, so that no day mixes offsets. Pixels whose scene
    classification (SCL, from the same item) is in ``scl_mask`` (default
    :data:`s2slide.data.bands.SCL_INVALID`: no data, clouds, their shadows, cirrus, snow) are NaN,
    on either date, so no method flags a cloud as a scar; ``eo:cloud_cover`` only picks the
    least cloudy item, it does not remove its clouds. Catalogue requests and image-file reads
    have the route's time limits (``timeout`` seconds each). Same variables as
    :func:`simulated_tile` except ``truth``: there are no labels for a real tile.

    Raises
    ------
    NetworkUnavailableError
        Offline, or the catalogue or the files do not answer in time.
    SceneNotFoundError
        No item clear enough in a date window.
    NoValidDataError
        An item of the chosen days has no SCL asset (its clouds could not be masked).
    """
    import json
    from datetime import date

    from s2slide.data.live import stac
    from s2slide.data.net import reachable

    cat = stac.get_catalog("earth-search")
    ok, why = reachable(cat.url)
    if not ok:
        raise NetworkUnavailableError(f"{cat.name} is not reachable ({why}); use "
                                      "simulated_tile() offline, or run this online.")
    client = stac.open_client(cat, timeout=timeout)
    lon = 0.5 * (bbox[0] + bbox[2])

    def day_items(window: str, grid_code: str | None = None) -> list:
        start, end = (date.fromisoformat(d) for d in window.split("/"))
        found = stac.search_items(client, cat, collection=cat.collection, bbox=bbox,
                                  start=start, end=end)
        best = _least_cloudy(found, max_cloud=max_cloud, what=window, grid_code=grid_code)
        return _tile_and_day(found, best, lon=lon)

    post_items = day_items(dates[1])
    pre_items = day_items(dates[0], post_items[0].properties.get("grid:code"))
    classes = tuple(sorted(s2bands.scl_classes(scl_mask)))
    post, post_dec = _tile_reflectance(post_items, cat, chunk=chunk, timeout=timeout,
                                       what=f"post-event tile ({dates[1]})", scl_mask=classes)
    pre, pre_dec = _tile_reflectance(pre_items, cat, chunk=chunk, timeout=timeout, scl_mask=classes,
                                     what=f"pre-event tile ({dates[0]})", geobox=post.odc.geobox)
    ds = xr.Dataset({"pre": pre, "post": post})
    tile = post_items[0].properties.get("grid:code")
    ds.attrs.update(source="live", label=f"Sentinel-2 L2A {tile} ({cat.name})",
                    items=[d["id"] for d in pre_dec + post_dec], resolution_m=10.0,
                    scl_mask=list(classes), provenance=json.dumps({"pre": pre_dec, "post": post_dec}))
    return ds


def gee_threshold_map(*, bbox: tuple = LUDING_REGION, dates: tuple = LUDING_DATES,
                      threshold: float = indices.SEED000_THRESHOLD, export: bool = False,
                      max_cloud: float = 30.0) -> dict[str, Any]:
    """dNDVI and seed 000's threshold map computed **server-side** by Earth Engine.

    Median composites of ``COPERNICUS/S2_SR_HARMONIZED`` (images under ``max_cloud`` % cloud,
    each with its SCL clouds, shadows and snow masked first: :func:`gee.clear_image`) before
    and after, NDVI from B8 and B4, dNDVI = post - pre, mask = dNDVI < ``threshold``; the area
    flagged is summed on Google's servers; with ``export=True`` the mask is exported to Google
    Drive (10 m, GeoTIFF) as a batch task. Earth Engine must be initialised
    (:func:`s2slide.data.live.gee.initialize`).

    Returns
    -------
    dict
        ``dndvi`` and ``mask`` (ee.Image), ``region`` (ee.Geometry), ``scar_km2`` (float) and
        ``task`` (the export task, or None).
    """
    from s2slide.data.live import gee

    ee = gee._require_initialized()
    region = ee.Geometry.Rectangle(list(bbox))

    def ndvi(window: str):
        start, end = window.split("/")
        images = (ee.ImageCollection(gee.COLLECTION).filterBounds(region).filterDate(start, end)
                  .filter(ee.Filter.lt("CLOUDY_PIXEL_PERCENTAGE", max_cloud)))
        return images.map(gee.clear_image).median().normalizedDifference(["B8", "B4"])

    dndvi = ndvi(dates[1]).subtract(ndvi(dates[0])).rename("dndvi")
    mask = dndvi.lt(threshold).selfMask().rename("scar")
    area = mask.multiply(ee.Image.pixelArea()).reduceRegion(
        reducer=ee.Reducer.sum(), geometry=region, scale=10, maxPixels=1e10, bestEffort=True)
    task = None
    if export:
        task = ee.batch.Export.image.toDrive(image=mask.toByte(), description="luding_dndvi_mask",
                                             region=region, scale=10, maxPixels=1e10)
        task.start()
    return {"dndvi": dndvi, "mask": mask, "region": region,
            "scar_km2": (area.get("scar").getInfo() or 0) / 1e6, "task": task}


# ----------------------------------------------------------------------------- a real tile's files
# The mirror's real tile and its item live in the data layer (chapter 1 describes the same item).
RKH_DIR, RKH_ITEM, mirror_item = mirror.L2A_TILE, mirror.L2A_ITEM, mirror.l2a_item


def cog_layout(path: Any) -> dict[str, Any]:
    """How a Cloud-Optimised GeoTIFF is stored: its internal block, overviews, shape and dtype.

    Returns
    -------
    dict
        ``block`` (rows, cols) in pixels, read from the file (``block_shapes``); ``overviews``
        (decimation factors of band 1, e.g. ``[2, 4]``); ``shape`` (rows, cols); ``dtype``.

    Raises
    ------
    InvalidInputError
        The file is not tiled (strips, not a COG) or its bands have different blocks.
    """
    import rasterio

    with rasterio.open(path) as src:
        blocks = set(src.block_shapes)
        if len(blocks) != 1 or not src.profile.get("tiled"):
            raise InvalidInputError(f"{path}: blocks {sorted(blocks)} are not one tiling; a "
                                    "Cloud-Optimised GeoTIFF is tiled (rio cogeo create fixes it)")
        return {"block": blocks.pop(), "overviews": src.overviews(1), "shape": src.shape,
                "dtype": src.dtypes[0]}


def _band_path(item: Any, band: str) -> Any:
    """The mirror copy of the file that ``item``'s asset for ``band`` (e.g. ``"B04"``) points to."""
    from s2slide.data import registry

    names = {a.href.rsplit("/", 1)[-1]: a.href for a in item.assets.values()}
    if f"{band}.tif" not in names:
        raise InvalidInputError(f"band={band!r}: item {item.id} has no {band}.tif asset; choose "
                                f"from {sorted(n[:-4] for n in names if n.endswith('.tif'))}")
    return registry.fetch(RKH_DIR + f"{band}.tif")


def _read_dn(path: Any, *, block: tuple[int, int] | None) -> xr.DataArray:
    """DNs (y, x) of a one-band COG: lazy in chunks of ``block`` (lock-free parallel reads), or
    read whole into memory when ``block`` is None."""
    import rioxarray

    if block is None:
        return rioxarray.open_rasterio(path).load().squeeze("band", drop=True)
    chunks = {"band": 1, "y": block[0], "x": block[1]}
    return rioxarray.open_rasterio(path, chunks=chunks, lock=False).squeeze("band", drop=True)


def mirror_tile(*, bands: tuple[str, ...] = BANDS, chunked: bool = True) -> xr.DataArray:
    """**Real** L2A reflectance (band, y, x) of the mirror's tile 29RKH (2020-02-19, 100 m).

    Each band's COG is opened with ``rioxarray.open_rasterio(..., chunks=...)``, chunks equal to
    the file's internal blocks (:func:`cog_layout`), so that each task decodes whole blocks once.
    DNs become reflectance chunk by chunk with :func:`s2slide.data.harmonize.dn_to_reflectance`,
    the offset decided from the STAC item as the live route does (:func:`stac.item_offset`).

    Parameters
    ----------
    bands : tuple of str
        Band files of one resolution (``"B02"``, ``"B03"``, ``"B04"``, ``"B08"``: 100 m here).
    chunked : bool
        True: lazy dask chunks; False: each band read whole (NumPy), to check the chunks against.

    Returns
    -------
    xarray.DataArray
        float32 reflectance 0-1, NaN where DN is 0; attrs ``source="mirror"``, ``label``,
        ``item``, ``baseline``, ``offset``, ``offset_reason``, ``block``, ``overviews``.
    """
    from s2slide.data import harmonize
    from s2slide.data.live import stac

    item = mirror_item()
    offset, baseline, why = stac.item_offset(item)
    paths = [_band_path(item, b) for b in bands]
    layouts = [cog_layout(p) for p in paths]
    if len({lay["shape"] for lay in layouts}) != 1:
        raise InvalidInputError(f"bands={bands}: their files have shapes "
                                f"{[lay['shape'] for lay in layouts]}; choose bands of one resolution")
    dn = xr.concat([_read_dn(p, block=lay["block"] if chunked else None)
                    for p, lay in zip(paths, layouts)], dim="band").assign_coords(band=list(bands))
    refl = (dn.data.map_blocks(harmonize.dn_to_reflectance, offset=offset, dtype=np.float32,
                               meta=np.array((), np.float32)) if chunked
            else harmonize.dn_to_reflectance(dn.values, offset=offset))
    out = xr.DataArray(refl, coords=dn.coords, dims=dn.dims, name="reflectance")
    out.attrs.update(source="mirror", item=item.id, baseline=baseline, offset=offset,
                     offset_reason=why, block=layouts[0]["block"], overviews=layouts[0]["overviews"],
                     label="real Sentinel-2 L2A 29RKH 2020-02-19, downsampled 10x in the mirror's copy")
    return out
