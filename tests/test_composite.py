"""Multi-temporal composites on small stacks made here, and on a small simulated time series."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from s2slide import composite
from s2slide.data import simulate
from s2slide.errors import CloudCoverError, InvalidInputError, MissingBandError, NoValidDataError

BANDS = ["B04", "B8A"]


def _stack(values: np.ndarray, scl: np.ndarray) -> tuple[xr.DataArray, xr.DataArray]:
    """values (time, y, x) copied to both bands; B8A = 2 x B04 so NDVI = 1/3 everywhere."""
    refl = np.stack([values, 2 * values], axis=1).astype(np.float32)
    da = xr.DataArray(refl, dims=("time", "band", "y", "x"), coords={"band": BANDS})
    return da, composite.clear_mask(xr.DataArray(scl, dims=("time", "y", "x")))


def test_median_ignores_masked_observations():
    values = np.array([0.1, 0.2, 0.9, 0.3, 0.8])[:, None, None] * np.ones((5, 2, 3))
    scl = np.full((5, 2, 3), 4, np.uint8)
    scl[2], scl[4] = 9, 3  # the bright ones are cloud and shadow
    refl, clear = _stack(values, scl)
    comp, n = composite.median_composite(refl, clear)
    assert np.allclose(comp.sel(band="B04"), 0.2) and np.allclose(comp.sel(band="B8A"), 0.4)
    assert (n == 3).all() and comp.dims == ("band", "y", "x") and comp.dtype == np.float32
    unmasked, _ = composite.median_composite(refl, xr.ones_like(clear))
    assert np.allclose(unmasked.sel(band="B04"), 0.3)  # what the mask protects against


def test_a_stack_with_one_clear_date_gives_that_date():
    values = np.random.default_rng(0).uniform(0.05, 0.4, (4, 3, 3))
    scl = np.full((4, 3, 3), 9, np.uint8)
    scl[2] = 5
    comp, n = composite.median_composite(*_stack(values, scl))
    assert np.allclose(comp.sel(band="B04"), values[2]) and (n == 1).all()


def test_pixels_without_clear_date_are_nan_and_counted():
    values = np.full((3, 2, 2), 0.2)
    scl = np.full((3, 2, 2), 4, np.uint8)
    scl[:, 0, 0] = [8, 9, 0]
    comp, n = composite.median_composite(*_stack(values, scl))
    assert np.isnan(comp.values[:, 0, 0]).all() and int(n[0, 0]) == 0
    assert np.isfinite(comp.values[:, 1, 1]).all()


def test_no_clear_observation_is_a_clear_error():
    values = np.full((3, 2, 2), 0.2)
    scl = np.array([8, 9, 10])[:, None, None] * np.ones((3, 2, 2), np.uint8)
    with pytest.raises(NoValidDataError, match=r"no clear observation in the pre.*\(3\).*pre_days"):
        composite.median_composite(*_stack(values, scl), what="the pre-event window")
    with pytest.raises(NoValidDataError):
        composite.median_composite(*_stack(values[:0], scl[:0]))


def test_snow_is_left_out_by_default():
    scl = np.array([[[11]], [[4]]], np.uint8)
    assert composite.clear_mask(scl).ravel().tolist() == [False, True]


def test_greenest_takes_the_observation_of_highest_ndvi():
    red = np.array([0.10, 0.03, 0.08, 0.02])[:, None, None] * np.ones((4, 2, 2))
    nir = np.full((4, 2, 2), 0.3)
    refl = xr.DataArray(np.stack([red, nir], 1).astype(np.float32), dims=("time", "band", "y", "x"),
                        coords={"band": BANDS})
    scl = np.full((4, 2, 2), 4, np.uint8)
    scl[3] = 9  # the greenest date is cloudy: the next one wins
    comp, _ = composite.greenest_composite(refl, composite.clear_mask(scl))
    assert np.allclose(comp.sel(band="B04"), 0.03) and np.allclose(comp.sel(band="B8A"), 0.3)
    with pytest.raises(MissingBandError):
        composite.greenest_composite(refl.sel(band=["B04"]), composite.clear_mask(scl))


def test_dask_stack_gives_the_same_median():
    values = np.random.default_rng(1).uniform(0.05, 0.4, (6, 8, 8))
    scl = np.where(np.random.default_rng(2).random((6, 8, 8)) < 0.4, 9, 4).astype(np.uint8)
    refl, clear = _stack(values, scl)
    eager, _ = composite.median_composite(refl, clear)
    lazy, _ = composite.median_composite(refl.chunk({"time": 2, "y": 4, "x": 4}), clear.chunk({"y": 4}))
    np.testing.assert_allclose(lazy.values, eager.values)


def test_bad_stacks_are_refused():
    refl, clear = _stack(np.full((3, 2, 2), 0.2), np.full((3, 2, 2), 4, np.uint8))
    with pytest.raises(InvalidInputError, match="differ"):
        composite.median_composite(refl, clear.isel(time=slice(0, 2)))
    with pytest.raises(InvalidInputError, match="method"):
        composite.composite(refl, clear, method="mean")


@pytest.fixture(scope="module")
def series():
    return simulate.scene_series("luding", seed=3, shape=(64, 80), pre_days=40, post_days=30,
                                 bands=["B02", "B03", "B04", "B08", "B8A", "B11"])


def test_simulated_series_has_clouds_and_scl_misses_their_edges(series):
    assert series["reflectance"].dims == ("time", "band", "y", "x") and series.attrs["source"] == "simulated"
    flagged = np.isin(series["scl"].values, [3, 8, 9, 10])     # cloud shadow, cloud, cirrus
    truly = series["cloudy"].values
    assert flagged.any() and (flagged & ~truly).sum() == 0      # SCL never flags clear sky
    assert truly.sum() > flagged.sum()                            # but misses thin edges
    assert (series["truth_areas_m2"] > 0).all()


def test_composite_pair_is_a_scene_of_the_data_contract(series):
    ds = composite.composite_pair(series)
    assert ds["pre"].dims == ("band", "y", "x") and ds["valid"].dtype == bool
    assert ds.rio.crs == series.rio.crs and "composite" in ds.attrs["label"]
    assert int(ds["n_clear_pre"].max()) <= int((series["time"] < np.datetime64("2022-09-05")).sum())
    assert ds["valid"].values.mean() > 0.9 and "truth" in ds


def test_single_pair_and_its_quality_against_the_composite(series):
    single = composite.single_pair(series, max_cloud=0.5)
    assert single.attrs["pre_date"] < "2022-09-05" < single.attrs["post_date"]
    q_single, q_comp = (composite.change_quality(d) for d in (single, composite.composite_pair(series)))
    assert set(q_comp) >= {"gap_share", "false_change_share", "recall", "stable_dndvi_sd"}
    assert q_comp["gap_share"] <= q_single["gap_share"]
    with pytest.raises(CloudCoverError, match="max_cloud=0"):
        composite.single_pair(series, max_cloud=0.0)
