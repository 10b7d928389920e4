"""Unsupervised landslide maps: K-means and Gaussian mixtures on index features (chapter 4).

Seed 000 clusters the valid pixels of a scene on [NDVI, BSI] before and after the event
with K-means or a Gaussian mixture (GMM), 2 or 3 clusters, then calls one cluster
"landslide". Clusters have no names, so that last step needs a rule; the course's rule is
:func:`landslide_cluster`: **the cluster with the lowest mean of a score that landslides
lower**, by default dNDVI = NDVI(post) - NDVI(pre), because a new landslide strips the
vegetation. The fitting is scikit-learn's; this module adds the bookkeeping (valid pixels
in, a label image with -1 outside them out) and errors that say how to fix bad input.

Seed 000 clustered each date on its own and compared the two maps (its README's figures show
a pre-event, a post-event and a "Landslide Classification" panel); :func:`cluster_each_date`
does that. Clustering the four features at once (:func:`cluster_image` on
:func:`index_features`) is the course's departure; chapter 4 runs both.

Chapter 4 introduces these; chapter 5 calls :func:`fit_predict` with ``method="minibatch"``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from s2slide import checks, indices
from s2slide.errors import InvalidInputError, NoValidDataError, ShapeMismatchError

#: Methods accepted by :func:`fit_predict`.
METHODS = ("kmeans", "gmm", "minibatch")
#: Feature names of :func:`index_features`, in order.
FEATURES = ("ndvi_pre", "bsi_pre", "ndvi_post", "bsi_post")
#: Feature names of :func:`change_features`, in order.
CHANGE_FEATURES = ("dndvi", "dbsi")


def _check_features(features: Any, k: Any) -> np.ndarray:
    x = np.asarray(checks.array("features", features), dtype=np.float64)
    checks.integer("k", k)
    if x.ndim != 2:
        raise InvalidInputError(f"features has shape {x.shape}; use (pixels, features), e.g. "
                                "cluster.to_pixels(stack, valid).")
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 2:
        raise InvalidInputError(f"k={k!r}: a map needs at least 2 clusters (landslide and the "
                                "rest); use k=2 or k=3 as seed 000.")
    if not np.isfinite(x).all():
        raise InvalidInputError("features contain NaN or infinite values; keep only valid pixels "
                                "with cluster.to_pixels(stack, valid).")
    if x.shape[0] < k:
        raise NoValidDataError(f"{x.shape[0]} pixels for {k} clusters: there must be at least as "
                               "many valid pixels as clusters; use a larger window or a smaller k.")
    return x


def fit_predict(features: Any, *, method: str = "kmeans", k: int = 2, seed: int = 0,
                max_fit_pixels: int | None = None, **kwargs: Any) -> np.ndarray:
    """Cluster pixels with scikit-learn and return one label per pixel.

    Parameters
    ----------
    features : array-like, float, (n_pixels, n_features)
        Finite values only (e.g. :func:`to_pixels` of :func:`index_features`).
    method : {"kmeans", "gmm", "minibatch"}
        ``KMeans``, ``GaussianMixture`` (full covariances) or ``MiniBatchKMeans``.
    k : int
        Number of clusters (GMM components), at least 2.
    seed : int
        ``random_state`` of the estimator: the same seed gives the same labels.
    max_fit_pixels : int, optional
        Fit on a random sample (``seed``) of at most this many pixels, then label every pixel
        with the fitted model: much faster on large scenes, nearly the same clusters.
    **kwargs
        Passed to the estimator, e.g. ``batch_size=150, init_size=500`` for ``"minibatch"``.

    Returns
    -------
    ndarray of int, (n_pixels,)
        Cluster labels 0 .. k-1 (their order means nothing; see :func:`landslide_cluster`).
    """
    from sklearn.cluster import KMeans, MiniBatchKMeans
    from sklearn.mixture import GaussianMixture

    if method not in METHODS:
        raise InvalidInputError(f"method={method!r}; use one of {', '.join(METHODS)}.")
    clash = sorted({"n_clusters", "n_components", "random_state"} & set(kwargs))
    if clash:
        raise InvalidInputError(f"{', '.join(clash)} given as well as k and seed: give the number "
                                "of clusters as k= and the random seed as seed= only.")
    checks.integer("seed", seed, minimum=0)
    x = _check_features(features, k)
    if method == "kmeans":
        model = KMeans(n_clusters=k, random_state=seed, n_init=kwargs.pop("n_init", 10), **kwargs)
    elif method == "minibatch":
        model = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=kwargs.pop("n_init", 3),
                                **kwargs)
    else:
        model = GaussianMixture(n_components=k, random_state=seed, **kwargs)
    if max_fit_pixels is None or x.shape[0] <= max(int(max_fit_pixels), k):
        return np.asarray(model.fit_predict(x), dtype=np.int64)
    sample = np.random.default_rng(seed).choice(x.shape[0], max(int(max_fit_pixels), k), replace=False)
    return np.asarray(model.fit(x[sample]).predict(x), dtype=np.int64)


def index_features(ds: Any) -> np.ndarray:
    """NDVI and BSI of both dates of a scene, float32, dims (feature, y, x), order :data:`FEATURES`.

    Seed 000's features: NDVI from B8A and B04, BSI from B11, B04, B8A and B02 (all 20 m);
    NaN where a band is NaN (see :mod:`s2slide.indices`).
    """
    out = []
    for when in ("pre", "post"):
        checks.bands(f"ds[{when!r}]", ds[when], ("B02", "B04", "B8A", "B11"),
                     hint="; load the scene with these bands (data.load_scene(..., bands=['B02', "
                          "'B04', 'B8A', 'B11']))")
        checks.reflectance(f"ds[{when!r}]", ds[when])
        b = {n: ds[when].sel(band=n).values for n in ("B02", "B04", "B8A", "B11")}
        out += [indices.ndvi(nir=b["B8A"], red=b["B04"]),
                indices.bsi(swir=b["B11"], red=b["B04"], nir=b["B8A"], blue=b["B02"])]
    return np.stack(out).astype(np.float32)


def change_features(stack: Any) -> np.ndarray:
    """Change of each index between the dates: float32 (feature, y, x), order :data:`CHANGE_FEATURES`.

    dNDVI = NDVI(post) - NDVI(pre) and dBSI = BSI(post) - BSI(pre), from the (4, y, x) stack of
    :func:`index_features`; NaN where either date is NaN. Seed 000 clustered index *levels*,
    which separate land cover (forest, grass, bare ground) as much as change; clustering the
    differences separates what changed (chapter 4 compares both).
    """
    arr = np.asarray(stack, dtype=np.float32)
    if arr.ndim != 3 or arr.shape[0] != len(FEATURES):
        raise InvalidInputError(f"stack has shape {arr.shape}; use the (4, y, x) stack of "
                                "cluster.index_features(ds) (NDVI, BSI pre, then post).")
    pre, post = arr[:2], arr[2:]
    return post - pre


def to_pixels(stack: Any, valid: Any = None, *, min_pixels: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Pixels of a (feature, y, x) stack as a (n, feature) table; also the mask used (y, x).

    A pixel is kept where ``valid`` (default: everywhere) is true and every feature is finite.
    Raises :class:`NoValidDataError` when fewer than ``min_pixels`` remain.
    """
    checks.channels_first("stack", stack, first="feature")
    arr = np.asarray(checks.array("stack", stack), dtype=np.float32)
    if arr.ndim != 3:
        raise InvalidInputError(f"stack has shape {arr.shape}; use (feature, y, x).")
    keep = np.isfinite(arr).all(0)
    if valid is not None:
        keep &= checks.mask("valid", valid, shape=keep.shape)
    if keep.sum() < min_pixels:
        raise NoValidDataError(f"only {int(keep.sum())} valid pixels (need {min_pixels}); the "
                               "features may be all NaN or the window all cloud: check valid.")
    return arr[:, keep].T, keep


def label_image(labels: Any, keep: Any) -> np.ndarray:
    """Put per-pixel labels back on the grid: int64 (y, x), -1 where ``keep`` is false."""
    keep = np.asarray(keep, bool)
    labels = np.asarray(labels)
    if labels.shape != (int(keep.sum()),):
        raise ShapeMismatchError(f"{labels.size} labels for {int(keep.sum())} kept pixels; pass "
                                 "the mask that to_pixels returned with these labels.")
    out = np.full(keep.shape, -1, dtype=np.int64)
    out[keep] = labels
    return out


def cluster_image(stack: Any, valid: Any = None, *, method: str = "kmeans", k: int = 2,
                  seed: int = 0, **kwargs: Any) -> np.ndarray:
    """Cluster a (feature, y, x) stack; int64 label image (y, x), -1 outside valid pixels."""
    x, keep = to_pixels(stack, valid, min_pixels=1)  # fit_predict checks pixels >= k
    return label_image(fit_predict(x, method=method, k=k, seed=seed, **kwargs), keep)


def landslide_cluster(labels: Any, score: Any, *, valid: Any = None) -> int:
    """The rule that names the landslide cluster: the one whose mean ``score`` is lowest.

    Parameters
    ----------
    labels : array-like of int, (y, x) or (n,)
        Cluster labels; negative values (-1: not valid) are ignored.
    score : array-like of float, same shape
        A quantity that landslides lower, e.g. dNDVI (post - pre NDVI) or post-event NDVI:
        a new landslide removes vegetation. NaN pixels are ignored.
    valid : array-like of bool, optional
        Only these pixels count.

    Returns
    -------
    int
        The label of the landslide cluster.
    """
    labels, score = np.asarray(labels), np.asarray(score, dtype=np.float64)
    if labels.shape != score.shape:
        raise ShapeMismatchError(f"labels {labels.shape} and score {score.shape} differ; use the "
                                 "score map of the same pixels.")
    keep = (labels >= 0) & np.isfinite(score)
    if valid is not None:
        keep &= checks.mask("valid", valid, shape=keep.shape)
    ids = np.unique(labels[keep])
    if ids.size == 0:
        raise NoValidDataError("no labelled pixel with a finite score; check labels, score, valid.")
    means = [score[keep & (labels == i)].mean() for i in ids]
    return int(ids[int(np.argmin(means))])


def landslide_mask(labels: Any, score: Any, *, valid: Any = None) -> np.ndarray:
    """Bool map of the landslide cluster chosen by :func:`landslide_cluster`."""
    return np.asarray(labels) == landslide_cluster(labels, score, valid=valid)


def cluster_each_date(stack: Any, valid: Any = None, *, method: str = "kmeans", k: int = 2,
                      seed: int = 0, **kwargs: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seed 000's method: cluster each date alone, then compare the two maps.

    Each date's [NDVI, BSI] is clustered on its own (:func:`cluster_image`); on each date the
    cluster with the lowest mean NDVI of that date is "bare ground" (:func:`landslide_mask`).
    A pixel is a new scar where it is bare after the event and was not before.

    Parameters
    ----------
    stack : array-like, float, (4, y, x)
        :func:`index_features` (NDVI, BSI pre, then post).
    valid : array-like of bool, (y, x), optional
        Pixels to use; a pixel must also be finite on both dates.
    method, k, seed, **kwargs
        As :func:`fit_predict` (the same for both dates).

    Returns
    -------
    (ndarray of bool, ndarray of bool, ndarray of bool), each (y, x)
        New scars, bare ground before, bare ground after (False outside the pixels used).
    """
    arr = np.asarray(stack, dtype=np.float32)
    if arr.ndim != 3 or arr.shape[0] != len(FEATURES):
        raise InvalidInputError(f"stack has shape {arr.shape}; use the (4, y, x) stack of "
                                "cluster.index_features(ds) (NDVI, BSI pre, then post).")
    _, keep = to_pixels(arr, valid, min_pixels=1)
    bare = []
    for first in (0, 2):  # NDVI and BSI of one date
        labels = cluster_image(arr[first:first + 2], keep, method=method, k=k, seed=seed, **kwargs)
        bare.append(landslide_mask(labels, arr[first], valid=keep) & keep)
    return bare[1] & ~bare[0], bare[0], bare[1]


def cluster_means(labels: Any, stack: Any, *, names: tuple[str, ...] = FEATURES) -> Any:
    """Mean of every feature per cluster and the share of pixels: a pandas DataFrame."""
    import pandas as pd

    labels, arr = np.asarray(labels), np.asarray(stack, dtype=np.float64)
    rows = {}
    for i in np.unique(labels[labels >= 0]):
        sel = labels == i
        rows[int(i)] = {**{n: float(np.nanmean(arr[j][sel])) for j, n in enumerate(names)},
                        "share of pixels": float(sel.sum() / (labels >= 0).sum())}
    return pd.DataFrame(rows).T.rename_axis("cluster")
