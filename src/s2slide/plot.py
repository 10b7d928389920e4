"""Figures of chapters 2-4: true colour, single-band maps, difference images, cluster overlays
and confusion matrices.

Every helper takes an optional ``ax=`` (a new figure is made without it), labels its axes with
units, adds a colour bar where colours carry numbers, and returns the ``Figure``; none calls
``plt.show()``. Map axes are in km for projected grids and degrees for geographic ones.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap

from s2slide import checks
from s2slide.errors import InvalidInputError


def _ax(ax: Any, figsize: tuple[float, float] = (5.5, 4.5)) -> tuple[Any, Any]:
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def extent(ds: Any) -> tuple[tuple[float, float, float, float], str, str]:
    """Map extent (left, right, bottom, top) and axis labels of a georeferenced Dataset.

    Projected CRS: km (easting, northing); geographic: degrees (longitude, latitude).
    """
    left, bottom, right, top = ds.rio.bounds()
    crs = ds.rio.crs
    if crs is not None and crs.is_geographic:
        return (left, right, bottom, top), "longitude (degrees E)", "latitude (degrees N)"
    return (left / 1e3, right / 1e3, bottom / 1e3, top / 1e3), "easting (km)", "northing (km)"


def _frame(ax: Any, ds: Any, title: str) -> tuple[float, float, float, float] | None:
    ax.set_title(title, fontsize=9)
    if ds is None:
        ax.set(xlabel="column (px)", ylabel="row (px)")
        return None
    ext, xl, yl = extent(ds)
    ax.set(xlabel=xl, ylabel=yl)
    return ext


def true_colour(ds: Any, when: str = "post", *, ax: Any = None, title: str | None = None,
                percentiles: tuple[float, float] = (2.0, 98.0), image: Any = None) -> Any:
    """True colour (B04, B03, B02) stretched between two percentiles of both dates; nodata white.

    ``image`` (y, x, 3, 0-1) replaces the picture made by :func:`s2slide.data.rgb` (e.g. an
    aligned post image). Returns the Figure.
    """
    from s2slide import data

    fig, ax = _ax(ax)
    img = data.rgb(ds, when, percentiles=percentiles) if image is None else np.asarray(image)
    ext = _frame(ax, ds, title or f"{when}-event true colour\n{ds.attrs.get('label', '')}")
    ax.imshow(np.nan_to_num(img, nan=1.0), extent=ext, interpolation="nearest")
    return fig


def raster(values: Any, *, ds: Any = None, ax: Any = None, title: str = "", cmap: str = "viridis",
           label: str = "", vmin: float | None = None, vmax: float | None = None) -> Any:
    """One band (y, x) as an image with a colour bar labelled ``label`` (give the units)."""
    arr = np.asarray(values, dtype=np.float32)
    if arr.ndim != 2:
        raise InvalidInputError(f"raster needs one band (y, x), not shape {arr.shape}.")
    fig, ax = _ax(ax)
    ext = _frame(ax, ds, title)
    im = ax.imshow(arr, cmap=cmap, vmin=vmin, vmax=vmax, extent=ext, interpolation="nearest")
    fig.colorbar(im, ax=ax, shrink=0.8, label=label)
    return fig


def difference(a: Any, b: Any, *, ds: Any = None, ax: Any = None, title: str = "",
               label: str = "difference", limit: float | None = None) -> Any:
    """``a - b`` in a diverging colour map centred on 0 (limit: the 98th percentile of |a - b|)."""
    diff = np.asarray(a, np.float32) - np.asarray(b, np.float32)
    if limit is None:
        finite = np.abs(diff[np.isfinite(diff)])
        limit = float(np.percentile(finite, 98)) if finite.size else 1.0
    return raster(diff, ds=ds, ax=ax, title=title, cmap="RdBu_r", label=label,
                  vmin=-limit, vmax=limit)


def overlay(ds: Any, mask: Any, *, ax: Any = None, title: str = "", colour: str = "red",
            alpha: float = 0.55, image: Any = None) -> Any:
    """A bool map (y, x) of ``ds``'s grid drawn in ``colour`` over the post-event true-colour image."""
    grid = (ds.sizes["y"], ds.sizes["x"])
    m = checks.mask("mask", mask, shape=grid).astype(float)
    fig = true_colour(ds, "post", ax=ax, title=title, image=image)
    ax = fig.axes[-1] if ax is None else ax
    m[m == 0] = np.nan
    ax.imshow(m, cmap=ListedColormap([colour]), alpha=alpha, extent=extent(ds)[0],
              interpolation="nearest")
    return fig


def overlay_panels(ds: Any, masks: Mapping[str, Any], *, ncols: int = 3, image: Any = None,
                   suptitle: str = "") -> Any:
    """Seed 000's panel figure: the post true-colour image, then each mask over it (red).

    ``masks`` maps a panel title to a bool (y, x) map; with five masks the figure has the
    six panels of seed 000 (image, dNDVI mask, K-means 2 and 3, GMM 2 and 3).
    """
    n = len(masks) + 1
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.9 * nrows),
                             sharex=True, sharey=True, squeeze=False)
    true_colour(ds, "post", ax=axes.flat[0], title="post-event true colour", image=image)
    for ax, (name, mask) in zip(axes.flat[1:], masks.items()):
        overlay(ds, mask, ax=ax, title=name, image=image)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for ax in axes[:-1].flat:  # shared x: one label per column, under the bottom row
        ax.set_xlabel("")
    fig.suptitle(suptitle or f"Landslide maps over the post-event image: {ds.attrs.get('label', '')}")
    fig.tight_layout()
    return fig


def confusion(matrix: Any, *, ax: Any = None, title: str = "",
              classes: Sequence[str] = ("no scar", "scar"), truth_name: str = "reference") -> Any:
    """A 2 x 2 confusion matrix [[tn, fp], [fn, tp]] with counts and row shares (as seed 000)."""
    cm = np.asarray(matrix, dtype=float)
    if cm.shape != (2, 2):
        raise InvalidInputError(f"confusion matrix has shape {cm.shape}; use [[tn, fp], [fn, tp]].")
    fig, ax = _ax(ax, figsize=(3.8, 3.4))
    rows = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    im = ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, f"{int(v):,}\n{rows[i, j]:.1%}", ha="center", va="center", fontsize=8,
                color="white" if rows[i, j] > 0.5 else "black")
    ax.set(xticks=[0, 1], yticks=[0, 1], xticklabels=classes, yticklabels=classes,
           xlabel="predicted", ylabel=truth_name)
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, shrink=0.8, label="share of the row")
    return fig
