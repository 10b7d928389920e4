"""Bad input to the methods the chapters teach (issue 17): each case gets a clear error of the
package's own classes, never a silent wrong result or a raw error from deep inside.

One test per case of the issue. The scenes are the simulator's (no real file holds digital
numbers next to their reflectance with exact truth); Iburi's is the real mirror scene.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from s2slide import align, cluster, errors, indices, metrics, mnf, patches, plot, tiling
from s2slide.data import simulate


@pytest.fixture(scope="module")
def scene() -> xr.Dataset:
    return simulate.scene("luding", shape=(64, 64))


@pytest.fixture(scope="module")
def scene_dn() -> xr.Dataset:
    return simulate.scene_dn("luding", shape=(64, 64))


@pytest.fixture(scope="module")
def stack(scene) -> np.ndarray:
    return cluster.index_features(scene)


# ----------------------------------------------------------------------------- indices
def test_ndvi_of_none_is_refused():
    with pytest.raises(errors.InvalidInputError, match="nir is None"):
        indices.ndvi(nir=None, red=None)


def test_ndvi_of_uint16_dataarrays_is_refused_not_wrapped_around():
    nir = xr.DataArray(np.array([[1200, 900]], np.uint16), dims=("y", "x"))
    red = xr.DataArray(np.array([[3800, 900]], np.uint16), dims=("y", "x"))
    with pytest.raises(errors.InvalidInputError, match="dn_to_reflectance"):
        indices.ndvi(nir=nir, red=red)


def test_ndvi_of_digital_numbers_is_refused(scene_dn):
    with pytest.raises(errors.InvalidInputError, match="digital numbers"):
        indices.ndvi(nir=scene_dn["pre"].sel(band="B8A"), red=scene_dn["pre"].sel(band="B04"))


def test_ndvi_of_digital_numbers_as_floats_is_refused(scene_dn):
    nir = scene_dn["pre"].sel(band="B8A").values.astype(np.float32)
    red = scene_dn["pre"].sel(band="B04").values.astype(np.float32)
    with pytest.raises(errors.InvalidInputError, match="not reflectance"):
        indices.ndvi(nir=nir, red=red)


def test_ndvi_of_reflectance_is_still_computed(scene):
    out = indices.ndvi(nir=scene["pre"].sel(band="B8A"), red=scene["pre"].sel(band="B04"))
    assert float(out.min()) >= -1 and float(out.max()) <= 1


def test_ndvi_of_a_ragged_list_is_refused():
    with pytest.raises(errors.InvalidInputError, match="ragged"):
        indices.ndvi(nir=[[0.3, 0.4], [0.5]], red=[[0.1, 0.1], [0.1]])


def test_ndvi_of_strings_is_refused():
    with pytest.raises(errors.InvalidInputError, match="not numbers"):
        indices.ndvi(nir=np.array(["0.4"]), red=np.array(["0.1"]))


def test_threshold_as_text_is_refused_not_coerced():
    with pytest.raises(errors.InvalidInputError, match="give a number"):
        indices.dndvi_mask(np.zeros(3), np.zeros(3), threshold="-0.2")


# ----------------------------------------------------------------------------- clustering
def test_index_features_of_digital_numbers_is_refused(scene_dn):
    with pytest.raises(errors.InvalidInputError, match="digital numbers"):
        cluster.index_features(scene_dn)


def test_cluster_image_refuses_y_x_feature_order(stack):
    with pytest.raises(errors.InvalidInputError, match=r"looks like \(y, x, feature\)"):
        cluster.cluster_image(np.moveaxis(stack, 0, -1))


def test_cluster_image_checks_dims_by_name(stack):
    named = xr.DataArray(np.moveaxis(stack, 0, -1), dims=("y", "x", "feature"))
    with pytest.raises(errors.InvalidInputError, match="transpose"):
        cluster.cluster_image(named)


def test_k_as_float_is_refused_as_not_an_integer():
    with pytest.raises(errors.InvalidInputError, match="give an integer"):
        cluster.fit_predict(np.random.default_rng(0).random((50, 2)), k=2.0)


def test_k_and_n_clusters_together_are_refused():
    with pytest.raises(errors.InvalidInputError, match="k="):
        cluster.fit_predict(np.random.default_rng(0).random((50, 2)), k=3, n_clusters=5)


def test_features_as_strings_are_refused():
    with pytest.raises(errors.InvalidInputError, match="not numbers"):
        cluster.fit_predict(np.array([["a", "b"]] * 10))


# ----------------------------------------------------------------------------- MNF
def test_mnf_fit_refuses_y_x_band_order(scene):
    with pytest.raises(errors.InvalidInputError, match=r"looks like \(y, x, band\)"):
        mnf.fit(np.moveaxis(scene["post"].values, 0, -1))


def test_mnf_components_needs_a_dataarray(scene):
    with pytest.raises(errors.InvalidInputError, match="xarray.DataArray"):
        mnf.components(scene["post"].values)


# ----------------------------------------------------------------------------- alignment
def test_warp_image_refuses_an_empty_shape():
    with pytest.raises(errors.InvalidInputError, match="two positive integers"):
        align.warp_image(np.zeros((10, 10)), np.eye(2, 3), shape=(0, 0))


def test_warp_stack_refuses_y_x_band_order(scene):
    with pytest.raises(errors.InvalidInputError, match=r"looks like \(y, x, band\)"):
        align.warp_stack(np.moveaxis(scene["post"].values, 0, -1), np.eye(2, 3))


def test_ecc_on_a_constant_band_says_so(textured):
    with pytest.raises(errors.InvalidInputError, match="constant"):
        align.ecc(np.ones_like(textured), textured)


def test_ecc_with_an_even_blur_says_so(textured):
    with pytest.raises(errors.InvalidInputError, match="odd"):
        align.ecc(textured, textured, blur=4)


def test_ecc_with_a_pyramid_too_deep_says_use_fewer_levels(textured):
    with pytest.raises(errors.InvalidInputError, match="pyramid=3 or fewer"):
        align.ecc(textured[:64, :64], textured[:64, :64], pyramid=6)


def test_align_scene_with_an_unknown_band_names_the_bands(scene):
    with pytest.raises(errors.MissingBandError, match="B11, B12"):
        align.align_scene(scene, band="B99")


def test_align_scene_on_iburi_without_b11_names_the_bands(mirror):
    from s2slide import data

    iburi = data.load_scene("iburi", "mirror", quiet=True)
    with pytest.raises(errors.MissingBandError, match="B02, B03, B04"):
        align.align_scene(iburi)


def test_check_same_grid_needs_xarray():
    with pytest.raises(errors.InvalidInputError, match="xarray"):
        align.check_same_grid(np.zeros((3, 3)), np.zeros((3, 3)))


# ----------------------------------------------------------------------------- tiling, metrics
def test_object_counts_refuses_a_probability_map(scene):
    truth = scene["truth"].values
    with pytest.raises(errors.InvalidInputError, match="probability"):
        tiling.object_counts(truth, np.full(truth.shape, 0.02))


@pytest.mark.parametrize("share", [-1, 1.5])
def test_object_counts_refuses_min_overlap_outside_0_1(scene, share):
    truth = scene["truth"].values
    with pytest.raises(errors.InvalidInputError, match="min_overlap"):
        tiling.object_counts(truth, truth, min_overlap=share)


def test_predict_tiled_refuses_channels_first():
    with pytest.raises(errors.InvalidInputError, match=r"\(y, x, channels\)"):
        tiling.predict_tiled(np.zeros((6, 256, 256), np.float32), lambda b: b[..., 0])


def test_scores_of_ragged_lists_are_refused():
    with pytest.raises(errors.InvalidInputError, match="ragged"):
        metrics.scores([[1, 0], [1]], [[1, 0], [1]])


# ----------------------------------------------------------------------------- plots, patches
def test_overlay_refuses_a_mask_of_another_grid(scene):
    with pytest.raises(errors.ShapeMismatchError, match=r"\(64, 64\)"):
        plot.overlay(scene, np.ones((10, 10), bool))


def test_patches_of_y_x_feature_say_so_not_use_a_larger_window():
    with pytest.raises(errors.InvalidInputError, match=r"looks like \(y, x, feature\)"):
        patches.pad(np.zeros((64, 64, 4), np.float32))


def test_standardize_refuses_a_valid_mask_of_another_grid():
    with pytest.raises(errors.ShapeMismatchError, match="same grid"):
        patches.standardize(np.random.default_rng(0).random((3, 10, 10)),
                            valid=np.ones((10, 11), bool))
