"""An event in, a map out: chapter 9's recipe in one call (:func:`map_event`).

The chain, each step a function of the package that chapter 9 teaches:

1. the event (:mod:`s2slide.data.events`) and its observation stack, live or simulated
   (:func:`s2slide.data.stacks.load_stack`);
2. median composites before and after it (:func:`s2slide.composite.composite_pair`);
3. change maps (:func:`detect`): seed 000's dNDVI threshold, HazMapper's rdNDVI with a slope
   mask (Scheip and Wegmann 2021), K-means on the change features (chapter 4), and chapter 6's
   U-Net where its trained weights are in the cache (:func:`unet_weights`);
4. polygons with a minimum mapping unit (:func:`s2slide.landslides.from_scene`), their size
   statistics (:mod:`s2slide.stats`), written as a GeoPackage and Cloud-Optimised GeoTIFFs.

Like :mod:`s2slide.scale` this module sits above the methods and the models (it may call the
U-Net); nothing in the package imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import xarray as xr

from s2slide import cluster, composite, config, indices, landslides, stats
from s2slide.data import events, stacks
from s2slide.errors import InvalidInputError, NoValidDataError

#: Change maps :func:`detect` can make.
METHODS = ("dndvi", "rdndvi", "kmeans", "unet")
#: Chapter 6's checkpoints (in ``<S2SLIDE_CACHE>/checkpoints``), best first.
UNET_CHECKPOINTS = ("06_unet_aug.weights.h5", "06_unet_noaug.weights.h5")
UNET_HINT = ("run chapter 6 to its end on this machine: it saves the U-Net's weights "
             f"(<cache>/checkpoints/{UNET_CHECKPOINTS[0]}) and beside them the input mean and "
             "std the network standardises with (unet.model_record_path)")


class Checkpoint(NamedTuple):
    """Chapter 6's trained U-Net: its weights file and the input moments it was built with."""

    path: Path
    input_mean: np.ndarray
    input_std: np.ndarray
#: Default minimum mapping unit (m2): four 20 m pixels.
MMU_M2 = 1600.0


@dataclass
class EventMap:
    """What :func:`map_event` made: the data, every change map, the polygons and the files."""

    event: events.Event
    stack: xr.Dataset
    scene: xr.Dataset
    masks: dict[str, np.ndarray]
    scores: dict[str, np.ndarray]
    method: str
    polygons: Any
    statistics: dict[str, Any]
    files: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One sentence: the event, the data, how many landslides and how much area."""
        n, area = len(self.polygons), float(self.polygons["area_m2"].sum()) / 1e6
        return (f"{self.event.title}: {n} landslides ({area:.2f} km2) mapped by {self.method} "
                f"on {self.scene.attrs['label']}")


def ndvi_pair(scene: xr.Dataset, *, nir: str = "B8A") -> tuple[np.ndarray, np.ndarray]:
    """NDVI (float32, (y, x)) before and after, from ``nir`` and B04 (seed 000: B8A)."""
    return tuple(indices.ndvi(nir=scene[w].sel(band=nir).values, red=scene[w].sel(band="B04").values)
                 for w in ("pre", "post"))


def _checkpoint_files() -> list[Path]:
    """Chapter 6's weights files present in ``<cache>/checkpoints``, best first."""
    folder = config.cache_dir() / "checkpoints"
    return [folder / name for name in UNET_CHECKPOINTS if (folder / name).is_file()]


def unet_weights() -> Checkpoint | None:
    """Chapter 6's trained U-Net on this machine, or None.

    Its weights are in the cache; the input mean and std of its ``Normalization`` layer are not
    in the weights file (they are constants, not variables), so they are read from the record
    that training wrote beside it (:func:`s2slide.models.unet.read_model_record`), which exists
    only if that training ran to its end. Both must be there, for six channels; the first of
    :data:`UNET_CHECKPOINTS` that has both is taken.
    """
    from s2slide.models import unet

    for path in _checkpoint_files():  # best first
        record = unet.read_model_record(path)
        try:
            mean, std = (np.asarray(record[k], dtype=np.float64) for k in ("input_mean", "input_std"))
        except (KeyError, TypeError, ValueError):  # no record (None), or not chapter 6's
            continue
        if mean.shape == std.shape == (6,):
            return Checkpoint(path, mean, std)
    return None


def unet_missing() -> str:
    """Why :func:`unet_weights` found no U-Net, and what to do: none in the cache, or weights
    without a record that describes them (saved before the record existed, by a run that
    stopped, or replaced since)."""
    found = _checkpoint_files()
    if not found:
        return f"chapter 6's trained network is not on this machine ({UNET_HINT})"
    return (f"chapter 6's weights are here ({found[0]}) but without a record of the input mean "
            "and std they were trained with that matches them (unet.model_record_path; weights "
            "saved by an older version of the course or by a run that stopped have none), and "
            "a U-Net standardised with other moments maps nonsense: run chapter 6 again to its "
            "end, which writes both")


def unet_width(weights: Path, *, channels: int = 6) -> int:
    """Base filters of the U-Net whose weights are in ``weights`` (a ``.weights.h5`` file).

    Read from the file (the first 3 x 3 kernel over ``channels`` inputs), because Keras loads
    weights of another width with only a warning, leaving layers at their random start.
    """
    import h5py

    shapes: list[tuple[int, ...]] = []
    try:
        with h5py.File(weights, "r") as f:
            f.visititems(lambda _, obj: shapes.append(obj.shape) if isinstance(obj, h5py.Dataset) else None)
    except OSError as err:
        raise InvalidInputError(f"{weights} is not a Keras weights file ({err}); delete it and run "
                                "chapter 6 again to retrain the U-Net") from err
    first = [s for s in shapes if len(s) == 4 and s[:3] == (3, 3, channels)]
    if not first:
        raise InvalidInputError(f"{weights} holds no U-Net of {channels} input channels; run "
                                "chapter 6 again to retrain it")
    return int(first[0][3])


def unet_probability(scene: xr.Dataset, checkpoint: Checkpoint) -> np.ndarray:
    """Landslide probability (float32 0-1, (y, x)) from chapter 6's U-Net on the post image.

    The six channels of seed 001, moment-matched to the network's training data as chapter 6
    does for Barhabise (:func:`s2slide.data.l4s.scene_channels`, given a two-value reference
    whose mean and std are the checkpoint's); the network is rebuilt with the width read from
    the weights file (:func:`unet_width`) and the checkpoint's input moments; tiles of 128 px
    with a 32 px overlap, blended.
    """
    import warnings

    from s2slide import tiling
    from s2slide.data import l4s
    from s2slide.models import unet

    mean, std = checkpoint.input_mean, checkpoint.input_std
    reference = np.stack([mean - std, mean + std])[None, :, None, :]  # pooled mean, std: exactly these
    x = l4s.scene_channels(scene, when="post", valid=scene["valid"].values, reference=reference)
    model = unet.build_unet(x.shape[-1], base_filters=unet_width(checkpoint.path, channels=x.shape[-1]),
                            input_mean=mean, input_std=std)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # a layer left unloaded is an error here
        try:
            model.load_weights(str(checkpoint.path))
        except (UserWarning, ValueError) as err:
            raise InvalidInputError(f"{checkpoint.path} does not fit chapter 6's U-Net ({err}); "
                                    "run chapter 6 again to retrain it") from err
    return tiling.predict_tiled(x, lambda b: model.predict(b, verbose=0), tile=128, overlap=32)


def detect(scene: xr.Dataset, *, methods: Sequence[str] = ("dndvi", "rdndvi", "kmeans"),
           rd_threshold: float = indices.RDNDVI_THRESHOLD,
           min_slope_deg: float = indices.MIN_SLOPE_DEG, seed: int = 0,
           weights: Checkpoint | None = None) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Change maps of a composite pair: bool masks and the continuous score behind each.

    ``"dndvi"``: NDVI(post) - NDVI(pre) < -0.2 (seed 000); ``"rdndvi"``: :func:`indices.rdndvi_mask`;
    ``"kmeans"``: K-means (k = 2) on dNDVI and dBSI, the cluster of lowest dNDVI (chapter 4's
    variant); ``"unet"``: chapter 6's U-Net at 0.5, only with ``weights``. Masks are False
    outside ``valid``. Scores: dNDVI, rdNDVI, U-Net probability.
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise InvalidInputError(f"unknown method(s) {unknown}; use some of {', '.join(METHODS)}")
    valid = scene["valid"].values
    pre, post = ndvi_pair(scene)
    masks, scores = {}, {"dndvi": post - pre, "rdndvi": indices.rdndvi(pre, post)}
    if "dndvi" in methods:
        masks["dndvi"] = indices.dndvi_mask(pre, post) & valid
    if "rdndvi" in methods:
        masks["rdndvi"] = indices.rdndvi_mask(pre, post, scene["slope"].values,
                                              threshold=rd_threshold, min_slope_deg=min_slope_deg) & valid
    if "kmeans" in methods:
        change = cluster.change_features(cluster.index_features(scene))
        labels = cluster.cluster_image(change, valid, k=2, seed=seed, max_fit_pixels=20_000)
        masks["kmeans"] = cluster.landslide_mask(labels, change[0], valid=labels >= 0) & valid
    if "unet" in methods and weights is not None:
        scores["unet"] = unet_probability(scene, weights)
        masks["unet"] = (scores["unet"] >= 0.5) & valid
    return masks, scores


def _layer(scene: xr.Dataset, values: np.ndarray, name: str) -> xr.DataArray:
    da = xr.DataArray(values, dims=("y", "x"), coords={"y": scene["y"], "x": scene["x"]}, name=name)
    return da.rio.write_crs(scene.rio.crs).rio.write_transform(scene.rio.transform())


def write_outputs(em: EventMap, out_dir: Path) -> dict[str, Path]:
    """The polygons as a GeoPackage; the mask and its score as Cloud-Optimised GeoTIFFs."""
    stem = f"{em.event.name}_{em.method}"
    score = np.where(em.scene["valid"].values, em.scores.get(em.method, em.scores["dndvi"]), np.nan)
    return {"geopackage": landslides.write_geopackage(em.polygons, out_dir / f"{stem}_landslides.gpkg"),
            "mask_cog": landslides.write_cog(_layer(em.scene, em.masks[em.method], "landslide"),
                                             out_dir / f"{stem}_mask.tif"),
            "score_cog": landslides.write_cog(_layer(em.scene, score.astype(np.float32), em.method),
                                              out_dir / f"{stem}_score.tif")}


def map_event(event: str | events.Event, *, source: str = "auto", pre_days: int = 90,
              post_days: int = 60, method: str = "rdndvi", compositing: str = "median",
              mmu_m2: float = MMU_M2, seed: int = 0, out_dir: Path | None = None,
              stack: xr.Dataset | None = None) -> EventMap:
    """Chapter 9's recipe: an event in, a landslide map (polygons, files, statistics) out.

    Parameters
    ----------
    event : str or Event
        A catalogue name or :func:`s2slide.data.events.custom`.
    source : {"auto", "live", "simulated"}
        Where the stack comes from (:func:`s2slide.data.stacks.load_stack`).
    pre_days, post_days : int
        Composite windows (days) before and after the event.
    method : str
        The change map turned into polygons: one of :data:`METHODS` (``"unet"`` needs
        chapter 6's weights in the cache).
    compositing : {"median", "greenest"}
        :func:`s2slide.composite.composite_pair`'s rule.
    mmu_m2 : float
        Minimum mapping unit of the polygons (m2).
    out_dir : Path, optional
        Where files go (default ``<S2SLIDE_RESULTS>/event_maps``).
    stack : xarray.Dataset, optional
        A stack already loaded for this event (skips loading).

    Returns
    -------
    EventMap
    """
    ev = events.get_event(event)
    if method not in METHODS:
        raise InvalidInputError(f"method={method!r}; use one of {', '.join(METHODS)}")
    weights = unet_weights()
    if method == "unet" and weights is None:
        raise NoValidDataError(f"no usable U-Net here: {unet_missing()}; or pick method='rdndvi'")
    stack = stack if stack is not None else stacks.load_stack(
        ev, source=source, pre_days=pre_days, post_days=post_days, seed=seed)
    scene = composite.composite_pair(stack, method=compositing)
    wanted = [m for m in METHODS if m != "unet" or weights is not None]
    masks, scores = detect(scene, methods=wanted, seed=seed, weights=weights)
    gdf = landslides.from_scene(masks[method], scene, min_area_m2=mmu_m2,
                                epicentre_lonlat=ev.epicentre_lonlat)
    notes = [] if weights is not None else [
        f"no U-Net map: {unet_missing()}; the other three maps are made"]
    em = EventMap(ev, stack, scene, masks, scores, method, gdf,
                  stats.summary(landslides.areas_km2(gdf), min_area_km2=mmu_m2 / 1e6), notes=notes)
    em.files = write_outputs(em, out_dir or config.results_dir() / "event_maps")
    return em
