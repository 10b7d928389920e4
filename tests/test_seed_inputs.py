"""The seeds' own input sets (chapter 6): seed 001's per-patch scaled red, green, blue, NDVI,
slope and elevation on the Landslide4Sense file units (checked on the real sample patches),
seed 004's bitemporal stack with DEM channels, aspect that turns with augmentation, and seed
001's batch-averaged F1."""

from __future__ import annotations

import numpy as np
import pytest

from s2slide.data import bands, l4s, registry, simulate
from s2slide.errors import InvalidInputError, MissingBandError, ShapeMismatchError
from s2slide.models import inputs, unet

SAMPLE_IDS = (1, 3, 16, 27, 38, 40, 41, 45, 72, 253, 300, 461, 525, 600, 800)


@pytest.fixture
def real_patches(mirror):
    """The 15 real Landslide4Sense sample patches (file units), through the registry."""
    out = [l4s.read_patch(registry.fetch(f"landslide4sense-sample/img/image_{i}.h5"),
                          registry.fetch(f"landslide4sense-sample/mask/mask_{i}.h5"))
           for i in SAMPLE_IDS]
    return np.stack([o[0] for o in out]), np.stack([o[1] for o in out])


# ----------------------------------------------------------------------------- file units
def test_file_scale_turns_real_patches_back_into_physical_units(real_patches):
    """Real files times FILE_SCALE: plausible reflectance, NDVI, slopes and elevations.

    On file values the NDVI is not a reflectance NDVI (NIR is divided by ~4.4 times more than
    red), which is what seed 001's notebook feeds its network.
    """
    images, _ = real_patches
    phys = images * np.asarray(l4s.FILE_SCALE, np.float32)
    red, nir = phys[..., 3], phys[..., 7]
    ndvi = (nir - red) / (nir + red)
    p99 = np.percentile(ndvi.reshape(len(images), -1), 99, axis=1)
    assert np.all((p99 > 0.6) & (p99 < 0.9))              # vegetation, never above 1
    assert np.median(red) / 1e4 == pytest.approx(0.04, abs=0.02)   # red reflectance of a green land
    slope_max = phys[..., 12].reshape(len(images), -1).max(axis=1)
    assert np.all((slope_max > 45) & (slope_max < 90))
    assert 0 < phys[..., 13].min() and phys[..., 13].max() < 8848
    file_ndvi = (images[..., 7] - images[..., 3]) / (images[..., 7] + images[..., 3])
    assert np.median(ndvi) - np.median(file_ndvi) > 0.3


def test_scene_file_units_divides_by_file_scale():
    ds = simulate.scene("barhabise", seed=1, shape=(64, 64))
    raw = l4s.scene_file_units(ds)
    assert raw.shape == (64, 64, 6) and raw.dtype == np.float32
    scale = dict(zip(bands.L4S_CHANNELS, l4s.FILE_SCALE))
    np.testing.assert_allclose(raw[..., 0], ds.post.sel(band="B04").values * 1e4 / scale["B04"],
                               rtol=1e-5)
    np.testing.assert_allclose(raw[..., 5], ds.dem.values / scale["dem"], rtol=1e-5)
    with pytest.raises(MissingBandError, match="has no band 'B10'"):
        l4s.scene_file_units(ds, channels=("B10",))
    with pytest.raises(MissingBandError, match="not in Landslide4Sense"):
        l4s.scene_file_units(ds, channels=("B8A",))


# ----------------------------------------------------------------------------- seed 001
def test_seed001_inputs_known_values():
    raw = np.zeros((2, 2, 6))
    raw[..., 0] = [[1.0, 2.0], [3.0, 4.0]]       # red; green and blue smaller
    raw[..., 1] = 1.0
    raw[..., 2] = 0.5
    raw[..., 3] = [[3.0, 2.0], [1.0, 4.0]]       # NIR
    raw[..., 4] = [[10.0, 20.0], [30.0, 40.0]]   # slope
    raw[..., 5] = [[100.0, 200.0], [300.0, np.nan]]
    out = inputs.seed001_inputs(raw)
    assert out.shape == (2, 2, 6) and out.dtype == np.float32
    np.testing.assert_allclose(out[..., 0], 1 - raw[..., 0] / 2.0)      # m = 4, m / 2 = 2
    np.testing.assert_allclose(out[..., 2], 1 - 0.5 / 2.0)
    np.testing.assert_allclose(out[..., 3], [[0.5, 0.0], [-0.5, 0.0]])
    np.testing.assert_allclose(out[..., 4], 1 - raw[..., 4] / 20.0)
    assert out[1, 1, 5] == pytest.approx(1 - 1e-6 / 150.0)             # NaN -> 1e-6, as the seed
    assert inputs.SEED001_INPUTS == ("red", "green", "blue", "NDVI", "slope", "elevation")


def test_seed001_inputs_ignore_a_gain_that_the_official_normalisation_keeps(real_patches):
    """Scaled per patch, a brighter scene (haze gain, another sun) gives the same input."""
    images, _ = real_patches
    raw = images[:4][..., l4s.channel_indices()]
    out = inputs.seed001_inputs(raw)
    assert out.shape == (4, 128, 128, 6)
    assert out.min() >= -1 - 1e-6 and out.max() <= 1 + 1e-6
    brighter = raw.copy()
    brighter[..., :4] *= 1.3
    np.testing.assert_allclose(inputs.seed001_inputs(brighter), out, atol=1e-5)
    official = l4s.normalise(images[:4])
    changed = l4s.normalise(images[:4] * np.r_[np.full(12, 1.3), 1, 1].astype(np.float32))
    assert np.abs(changed[..., :4] - official[..., :4]).mean() > 0.1
    # each patch on its own: a patch's inputs do not depend on the others in the stack
    np.testing.assert_allclose(inputs.seed001_inputs(raw[1]), out[1], atol=1e-6)
    with pytest.raises(ShapeMismatchError, match="6"):
        inputs.seed001_inputs(images[:1])


def test_batch_mean_f1_is_not_the_pixel_f1():
    masks = np.zeros((4, 2, 2), np.uint8)
    masks[0, 0, 0] = masks[0, 1, 1] = 1           # batch 1 holds the landslides
    probs = masks.astype(np.float32)              # found exactly: pixel F1 = 1
    assert unet.batch_mean_f1(masks, probs, batch_size=2) == pytest.approx(0.5, abs=1e-6)
    assert unet.batch_mean_f1(masks, probs, batch_size=4) == pytest.approx(1.0, abs=1e-6)
    probs[2, 0, 0] = 0.9                          # one false alarm in batch 2
    assert unet.batch_mean_f1(masks, probs, batch_size=2) == pytest.approx(0.5, abs=1e-6)
    with pytest.raises(InvalidInputError, match="empty"):
        unet.batch_mean_f1(masks[:0], probs[:0])


# ----------------------------------------------------------------------------- seed 004
def test_bitemporal_inputs_scaling_and_order():
    rng = np.random.default_rng(0)
    pre, post = rng.uniform(-0.1, 1.2, (2, 3, 4, 4, 2)).astype(np.float32)
    dem, slope = np.full((3, 4, 4), 2500.0), np.full((3, 4, 4), 45.0)
    aspect = np.full((3, 4, 4), 90.0)                      # facing east
    x = inputs.bitemporal_inputs(pre, post, dem, slope, aspect)
    assert x.shape == (3, 4, 4, 8) and x.dtype == np.float32
    np.testing.assert_allclose(x[..., :2], np.clip(pre, 0, 1))
    np.testing.assert_allclose(x[..., 2:4], np.clip(post, 0, 1))
    np.testing.assert_allclose(x[..., 4:], np.broadcast_to([0.5, 0.5, 1.0, 0.0], (3, 4, 4, 4)),
                               atol=1e-6)
    with pytest.raises(ShapeMismatchError, match="must match"):
        inputs.bitemporal_inputs(pre, post[..., :1], dem, slope, aspect)


def test_aspect_turns_with_the_augmented_patch():
    """After any flip or rotation, the (sin, cos) channels are the aspect of the turned DEM."""
    import tensorflow as tf

    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:32, :32].astype(np.float32)
    dem = 40 * xx + 15 * yy + 50 * np.sin(xx / 5) * np.cos(yy / 7) + rng.normal(0, 0.1, xx.shape)
    _, aspect = simulate.slope_aspect(dem, res_m=10.0)
    rad = np.radians(aspect)
    image = np.stack([dem, np.sin(rad), np.cos(rad)], -1).astype(np.float32)
    mask = np.zeros((32, 32, 1), np.float32)
    seen = set()
    for i in range(12):
        out, _ = inputs.augment_pair(tf.constant(image), tf.constant(mask),
                                     tf.constant([i, 7], tf.int64), aspect=(1, 2))
        out = out.numpy()
        _, turned = simulate.slope_aspect(out[..., 0], res_m=10.0)
        np.testing.assert_allclose(out[..., 1], np.sin(np.radians(turned)), atol=1e-3)
        np.testing.assert_allclose(out[..., 2], np.cos(np.radians(turned)), atol=1e-3)
        seen.add(out[..., 0].tobytes())
    assert len(seen) >= 5                        # most of the 8 symmetries were drawn
    plain, _ = inputs.augment_pair(tf.constant(image), tf.constant(mask),
                                   tf.constant([3, 7], tf.int64))
    same, _ = inputs.augment_pair(tf.constant(image), tf.constant(mask),
                                  tf.constant([3, 7], tf.int64), aspect=(-2, -1))
    np.testing.assert_array_equal(plain.numpy()[..., 0], same.numpy()[..., 0])  # same draws


def test_bitemporal_patches_hold_new_landslides_only():
    p = simulate.bitemporal_patches(12, seed=3)
    assert p.pre.shape == p.post.shape == (12, 128, 128, 4)
    assert p.bands == ("B04", "B03", "B02", "B08")
    assert p.dem.shape == p.masks.shape == (12, 128, 128) and p.masks.dtype == np.uint8
    assert 0.005 < p.masks.mean() < 0.06
    ndvi = [(x[..., 3] - x[..., 0]) / (x[..., 3] + x[..., 0]) for x in (p.pre, p.post)]
    new = p.masks == 1
    assert np.median(ndvi[0][new]) - np.median(ndvi[1][new]) > 0.25   # vegetation lost
    assert abs(np.median(ndvi[0][~new] - ndvi[1][~new])) < 0.1        # elsewhere little change
    again = simulate.bitemporal_patches(2, seed=3)
    np.testing.assert_array_equal(again.post, p.post[:2])
    with pytest.raises(InvalidInputError, match="bands"):
        simulate.bitemporal_patches(2, bands=("B10",))
    with pytest.raises(InvalidInputError, match="n="):
        simulate.bitemporal_patches(0)


def test_bitemporal_patches_keep_old_scars_out_of_the_masks():
    """Older scars are bare on both dates and not in the masks: a single date cannot tell
    them from new landslides, the pair can."""
    rng = np.random.default_rng(np.random.SeedSequence([3, 5]))
    found = False
    for _ in range(12):
        patch, mask = simulate._bitemporal_patch(rng, size=128, res_m=10.0, landscapes=("luding",))
        old = (patch["old"] >= 0.5) & (mask == 0)
        new = mask == 1
        if old.sum() > 20 and new.sum() > 20:
            found = True
            pre, post = patch["pre"][3], patch["post"][3]            # red, B04
            rest = (patch["old"] < 0.01) & ~new
            for red in (pre, post):                                 # bare on both dates
                assert np.median(red[old]) > 1.5 * np.median(red[rest])
            change = np.abs(post - pre)
            assert np.median(change[new]) > 3 * np.median(change[old])
    assert found


def test_bitemporal_unet_fuses_the_difference_and_the_dem():
    model = unet.build_bitemporal_unet(4, size=32, base_filters=4, depth=3)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 32, 32, 12)).astype(np.float32)
    out = model(x).numpy()
    assert out.shape == (2, 32, 32, 1) and 0 <= out.min() and out.max() <= 1
    # one encoder for both dates: with pre == post every difference is 0 and the optical
    # values cannot matter; the DEM still does
    same = x.copy()
    same[..., 4:8] = same[..., :4]
    brighter = same.copy()
    brighter[..., :8] += 0.5
    np.testing.assert_allclose(model(same).numpy(), model(brighter).numpy(), atol=1e-6)
    other_dem = same.copy()
    other_dem[..., 8:] += 1.0
    assert np.abs(model(same).numpy() - model(other_dem).numpy()).max() > 1e-4
    encoders = [layer.name for layer in model.layers if layer.name.endswith("_encoder")]
    assert sorted(encoders) == ["dem_encoder", "optical_encoder"]
    with pytest.raises(InvalidInputError, match="positive integer"):
        unet.build_bitemporal_unet(0)


def test_bitemporal_unet_trains_on_augmented_patches(tmp_path):
    """The whole chain: simulated pairs, seed 004's inputs, aspect-aware augmentation, fit."""
    p = simulate.bitemporal_patches(4, seed=2, size=32)
    x = inputs.bitemporal_inputs(p.pre, p.post, p.dem, p.slope, p.aspect)
    model = unet.compile_unet(unet.build_bitemporal_unet(4, size=32, base_filters=2, depth=2),
                              loss="weighted_bce", pos_weight=5.0, learning_rate=1e-2)
    train = inputs.make_dataset(x, p.masks, batch_size=4, shuffle=True, augment=True,
                                aspect=(-2, -1))
    hist = unet.train_unet(model, train, inputs.make_dataset(x, p.masks, batch_size=4), epochs=3,
                           checkpoint=tmp_path / "bt.weights.h5", monitor="val_loss", verbose=0)
    assert hist["loss"][-1] < hist["loss"][0]


def test_seed001_from_normalised_uses_the_same_patches(real_patches):
    images, _ = real_patches
    direct = inputs.seed001_inputs(images[:3][..., l4s.channel_indices()])
    via = inputs.seed001_from_normalised(l4s.normalise(images[:3]))
    np.testing.assert_allclose(via, direct, atol=2e-4)
    with pytest.raises(ShapeMismatchError, match="six normalised"):
        inputs.seed001_from_normalised(images[:1])
