"""s2slide.plot: every helper draws on a given ax or a new figure and returns the Figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from s2slide import plot  # noqa: E402
from s2slide.errors import InvalidInputError  # noqa: E402


@pytest.fixture(scope="module")
def scene():
    from s2slide.data import simulate

    return simulate.scene("luding", shape=(32, 36))


def test_map_helpers_return_figures_with_titles_and_units(scene):
    fig = plot.true_colour(scene, "pre")
    assert fig.axes[0].get_xlabel() == "easting (km)" and "simulated" in fig.axes[0].get_title()
    fig = plot.raster(np.ones((32, 36)), ds=scene, title="NDVI", label="NDVI (unitless)")
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "NDVI (unitless)"  # colour bar
    fig = plot.difference(np.ones((32, 36)), np.zeros((32, 36)), title="d")
    assert fig.axes[0].get_xlabel() == "column (px)"
    plt.close("all")


def test_ax_is_used_and_overlay_panels(scene):
    fig, axes = plt.subplots(1, 2)
    assert plot.overlay(scene, np.eye(32, 36, dtype=bool), ax=axes[1], title="m") is fig
    masks = {f"model {i}": np.zeros((32, 36), bool) for i in range(5)}
    fig = plot.overlay_panels(scene, masks)
    assert sum(ax.get_visible() for ax in fig.axes) == 6
    plt.close("all")


def test_confusion_counts_and_bad_shape():
    fig = plot.confusion([[78056, 2175], [6155, 18614]], title="seed 000, K-means k=2")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "78,056\n97.3%" in texts and len(texts) == 4
    with pytest.raises(InvalidInputError, match="tn, fp"):
        plot.confusion(np.zeros((3, 3)))
    with pytest.raises(InvalidInputError, match="one band"):
        plot.raster(np.zeros((2, 3, 3)))
    plt.close("all")
