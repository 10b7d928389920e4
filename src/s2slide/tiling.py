"""Apply a patch model to a whole scene, and score the map object by object.

A U-Net trained on 128 x 128 patches sees a scene tile by tile. Tiles overlap, and each
prediction is weighted by a window that is highest in the tile's centre and lowest at its
edges (where the network sees least context), so the seams disappear; the blended map is
``sum(w * p) / sum(w)`` over all tiles covering a pixel. Introduced in chapter 6.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from s2slide import checks
from s2slide.errors import InvalidInputError, ShapeMismatchError

#: Seed 001's figure 6: matches blue, missed landslides green, false alarms orange.
MATCH_COLOURS: dict[str, str] = {"background": "#f2f2f2", "match": "#1f77b4",
                                 "missed": "#2ca02c", "false alarm": "#ff7f0e"}


def tile_starts(length: int, *, tile: int = 128, overlap: int = 32) -> list[int]:
    """First pixel of each tile along one axis; the last tile ends flush with the edge.

    Tiles step by ``tile - overlap``; the last step may be shorter so that no tile hangs
    over the edge (no padding needed). Raises if the axis is shorter than a tile.
    """
    if not 0 <= overlap < tile:
        raise InvalidInputError(f"overlap={overlap} with tile={tile}: give 0 <= overlap < tile, "
                                "e.g. overlap=tile // 4")
    if length < tile:
        raise InvalidInputError(f"the scene is {length} px along one axis, smaller than one "
                                f"{tile} px tile: use a larger area, or pad it (np.pad, "
                                "mode='reflect') to at least the tile size")
    starts = list(range(0, length - tile + 1, tile - overlap))
    if starts[-1] != length - tile:
        starts.append(length - tile)
    return starts


def blend_window(tile: int = 128, *, floor: float = 1e-3) -> np.ndarray:
    """(tile, tile) float64 weights: a 2-D Hann window raised to at least ``floor``.

    The floor keeps pixels that only one tile covers (the scene's border) well defined.
    """
    from scipy.signal.windows import hann

    w = hann(tile + 2, sym=True)[1:-1]
    return np.maximum(np.outer(w, w), floor)


def predict_tiled(image: np.ndarray, predict: Callable[[np.ndarray], np.ndarray], *,
                  tile: int = 128, overlap: int = 32, batch_size: int = 16) -> np.ndarray:
    """Predict a whole scene tile by tile and blend the overlapping tiles.

    Parameters
    ----------
    image : ndarray
        float32, (y, x, channels): the scene, normalised as the model's training patches.
    predict : callable
        Maps a batch (n, tile, tile, channels) to (n, tile, tile) or (n, tile, tile, 1),
        e.g. ``lambda b: model.predict(b, verbose=0)``.
    tile, overlap : int
        Tile side and overlap in pixels.
    batch_size : int
        Tiles per call of ``predict`` (memory: batch_size x tile x tile x channels floats).

    Returns
    -------
    ndarray
        float32, (y, x): the blended prediction (e.g. landslide probability 0-1).
    """
    checks.channels_last("image", image)
    image = checks.array("image", image)
    if image.ndim != 3:
        raise InvalidInputError(f"image has shape {image.shape}: give (y, x, channels)")
    ys = tile_starts(image.shape[0], tile=tile, overlap=overlap)
    xs = tile_starts(image.shape[1], tile=tile, overlap=overlap)
    corners = [(r, c) for r in ys for c in xs]
    window = blend_window(tile)
    total = np.zeros(image.shape[:2])
    weight = np.zeros(image.shape[:2])
    for i in range(0, len(corners), batch_size):
        part = corners[i:i + batch_size]
        batch = np.stack([image[r:r + tile, c:c + tile] for r, c in part]).astype(np.float32)
        out = np.asarray(predict(batch)).reshape(len(part), tile, tile)
        for (r, c), p in zip(part, out):
            total[r:r + tile, c:c + tile] += window * p
            weight[r:r + tile, c:c + tile] += window
    return (total / weight).astype(np.float32)


def _check_pair(truth: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    truth, pred = checks.mask("truth", truth), checks.mask("pred", pred)
    if truth.shape != pred.shape or truth.ndim != 2:
        raise ShapeMismatchError(f"truth {truth.shape} and prediction {pred.shape} must be two "
                                 "(y, x) masks on the same grid")
    return truth, pred


def landslide_hits(truth: np.ndarray, pred: np.ndarray, *,
                   valid: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Size of each true landslide and the share of its pixels that are predicted.

    Landslides are 8-connected groups of truth pixels (``scipy.ndimage.label``), in label order.

    Parameters
    ----------
    truth, pred : ndarray
        (y, x) masks, 1/True = landslide.
    valid : ndarray of bool, optional
        Pixels to score; predictions elsewhere are ignored (count as not predicted).

    Returns
    -------
    (sizes, hit_share)
        int64 pixel count of each landslide and float64 fraction (0-1) of its pixels that are
        predicted positive; both empty when there is no landslide.
    """
    from scipy import ndimage

    truth, pred = _check_pair(truth, pred)
    if valid is not None:
        pred = pred & checks.mask("valid", valid, shape=truth.shape)
    t_lab, n_t = ndimage.label(truth, structure=np.ones((3, 3), bool))
    sizes = np.bincount(t_lab.ravel(), minlength=n_t + 1)[1:]
    hits = np.bincount(t_lab.ravel(), weights=pred.ravel(), minlength=n_t + 1)[1:]
    return sizes, hits / sizes  # every label has >= 1 pixel


def object_counts(truth: np.ndarray, pred: np.ndarray, *, min_overlap: float = 0.0,
                  valid: np.ndarray | None = None) -> dict[str, int]:
    """Count landslides found and missed, and predicted objects that match none.

    Objects are 8-connected groups of pixels (``scipy.ndimage.label``). A true landslide is
    *found* when more than ``min_overlap`` of its pixels are predicted (0: any pixel); a
    predicted object is a *false alarm* when it touches no true landslide.

    Parameters
    ----------
    truth, pred : ndarray
        (y, x) masks, 1/True = landslide.
    min_overlap : float
        Fraction (0-1) of a landslide's pixels that must be predicted for it to count.
    valid : ndarray of bool, optional
        Pixels to score; predictions elsewhere are ignored.

    Returns
    -------
    dict
        ``landslides``, ``found``, ``missed``, ``predicted_objects``, ``false_alarm_objects``.
    """
    from scipy import ndimage

    min_overlap = checks.number("min_overlap", min_overlap, minimum=0.0,
                                hint=", a share of a landslide's pixels (0-1)")
    if min_overlap >= 1:
        raise InvalidInputError(f"min_overlap={min_overlap}: a share of a landslide's pixels, 0 "
                                "(any pixel) up to but not including 1, e.g. 0.5.")
    truth, pred = _check_pair(truth, pred)
    if valid is not None:
        pred = pred & checks.mask("valid", valid, shape=truth.shape)
    sizes, share = landslide_hits(truth, pred)
    n_t = sizes.size
    found = int(np.count_nonzero(share > min_overlap))
    p_lab, n_p = ndimage.label(pred, structure=np.ones((3, 3), bool))
    touching = np.unique(p_lab[truth & pred])
    false_alarms = n_p - np.count_nonzero(touching)
    return {"landslides": int(n_t), "found": found, "missed": int(n_t) - found,
            "predicted_objects": int(n_p), "false_alarm_objects": int(false_alarms)}


def match_codes(truth: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """uint8 (y, x): 0 background, 1 match, 2 missed (truth only), 3 false alarm (pred only)."""
    truth, pred = _check_pair(truth, pred)
    codes = np.zeros(truth.shape, np.uint8)
    codes[truth & pred] = 1
    codes[truth & ~pred] = 2
    codes[~truth & pred] = 3
    return codes


def plot_matches(truth: np.ndarray, pred: np.ndarray, *, title: str, extent=None, ax=None):
    """Map of matches, misses and false alarms in seed 001's figure-6 colours; returns the Figure.

    ``extent`` (left, right, bottom, top) in km labels the axes as easting/northing;
    without it the axes are in pixels.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    codes = match_codes(truth, pred)
    fig = ax.figure if ax is not None else plt.subplots(figsize=(6.5, 6))[0]
    ax = ax if ax is not None else fig.axes[0]
    cmap = ListedColormap(list(MATCH_COLOURS.values()))
    ax.imshow(codes, cmap=cmap, vmin=0, vmax=3, interpolation="nearest", extent=extent)
    unit = "km" if extent is not None else "px"
    ax.set(title=title, xlabel=f"easting ({unit})", ylabel=f"northing ({unit})" if extent
           is not None else "row (px)")
    handles = [Patch(color=c, label=k) for k, c in list(MATCH_COLOURS.items())[1:]]
    ax.legend(handles=handles, loc="lower right", fontsize=8, framealpha=0.9)
    return fig
