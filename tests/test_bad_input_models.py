"""Bad input to the networks and chapter 8's chain (issue 17): arguments checked before they are
converted, foreign or damaged weight files and patches of the wrong size refused with errors of
the package's own classes."""

from __future__ import annotations

import numpy as np
import pytest

from s2slide import errors, scale

tf = pytest.importorskip("tensorflow")

from s2slide.models import cae, inputs, unet  # noqa: E402


def test_weighted_bce_of_text_is_refused():
    with pytest.raises(errors.InvalidInputError, match="give a number"):
        unet.weighted_bce("2")


def test_patches_of_another_size_than_the_unet_say_how_to_tile(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.random((10, 24, 24, 3), dtype=np.float32)
    masks = (rng.random((10, 24, 24)) > 0.9).astype(np.uint8)
    train, val, _, _ = inputs.make_datasets(images, masks, batch_size=4, augment=False)
    model = unet.compile_unet(unet.build_unet(3, size=32, base_filters=4, depth=3))
    with pytest.raises(errors.InvalidInputError, match="tiling.predict_tiled"):
        unet.train_unet(model, train, val, epochs=1, checkpoint=tmp_path / "u.weights.h5")
    assert not list(tmp_path.iterdir())


@pytest.fixture(scope="module")
def saved_cae(tmp_path_factory):
    path = tmp_path_factory.mktemp("cae") / "cae.weights.h5"
    return cae.save_weights(cae.build_cae(5), path)


def test_truncated_cae_weights_are_refused(saved_cae, tmp_path):
    cut = tmp_path / "cut.weights.h5"
    cut.write_bytes(saved_cae.read_bytes()[:2000])
    with pytest.raises(errors.InvalidInputError, match="does not hold the weights"):
        cae.load_cae(cut, 5)


def test_foreign_file_as_cae_weights_is_refused(tmp_path):
    foreign = tmp_path / "notes.weights.h5"
    foreign.write_text("these are my notes, not weights")
    with pytest.raises(errors.InvalidInputError, match="does not hold the weights"):
        cae.load_cae(foreign, 5)


def test_cae_weights_of_another_depth_are_refused(saved_cae):
    with pytest.raises(errors.InvalidInputError, match="depth=3"):
        cae.load_cae(saved_cae, 3)


def test_scale_unet_weights_of_another_depth_are_refused():
    weights = unet.build_unet(2, size=16, base_filters=4, depth=2).get_weights()
    with pytest.raises(errors.InvalidInputError, match="arch"):
        scale.unet_predict_array(np.zeros((2, 16, 16), np.float32), weights=weights,
                                 arch={"base_filters": 4, "depth": 3})


def test_simulated_tile_of_size_big_is_refused():
    with pytest.raises(errors.InvalidInputError, match="size='big'"):
        scale.simulated_tile(size="big")
