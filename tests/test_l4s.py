"""s2slide.data.l4s: the Landslide4Sense reader, statistics and transfer input.

The real files decide: the 15 real training patches of the mirror (``landslide4sense-sample``,
read through the registry) test the reader, the measured statistics, the simulator and
``scene_channels``. Small HDF5 files written here stand in only for what no real file shows
(a wrong key, a truncated file, NaN, a 0/255 mask, a folder without masks); each says so.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from loopback import LoopbackServer
from s2slide import files
from s2slide.data import bands, l4s
from s2slide.errors import (ChecksumError, DataFileError, InvalidInputError, MissingBandError,
                            MissingFileError, NetworkUnavailableError, NoValidDataError,
                            S2SlideError, ShapeMismatchError)


def _write(path, key, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f.create_dataset(key, data=arr)
    return path


@pytest.fixture
def patch(tmp_path, rng):
    image = rng.normal(size=(128, 128, 14)).astype(np.float64)  # the real files are float64
    mask = (rng.random((128, 128)) < 0.05).astype(np.uint8)
    return (_write(tmp_path / "img" / "image_1.h5", "img", image),
            _write(tmp_path / "mask" / "mask_1.h5", "mask", mask), image, mask)


def test_read_patch_real_format(patch):
    img_path, mask_path, image, mask = patch
    img, msk = l4s.read_patch(img_path, mask_path)
    assert img.dtype == np.float32 and img.shape == (128, 128, 14)
    assert msk.dtype == np.uint8 and np.array_equal(msk, mask)
    np.testing.assert_allclose(img, image.astype(np.float32))
    img2, none = l4s.read_patch(img_path)
    assert none is None and np.array_equal(img2, img)


def test_read_patch_rejects_bad_files(tmp_path, patch):
    img_path, mask_path, image, _ = patch
    with pytest.raises(MissingBandError, match="no HDF5 dataset 'img'.*'image'"):
        l4s.read_patch(_write(tmp_path / "wrong_key.h5", "image", image))
    with pytest.raises(ShapeMismatchError, match=r"expected \(128, 128, 14\)"):
        l4s.read_patch(_write(tmp_path / "small.h5", "img", image[:64]))
    with pytest.raises(ShapeMismatchError, match="mask shape"):
        l4s.read_patch(img_path, _write(tmp_path / "m1.h5", "mask", np.zeros((64, 128))))
    with pytest.raises(InvalidInputError, match="not 0/1.*threshold"):
        l4s.read_patch(img_path, _write(tmp_path / "m2.h5", "mask", np.full((128, 128), 0.7)))
    with pytest.raises(MissingBandError, match="'mask'"):
        l4s.read_patch(img_path, _write(tmp_path / "m3.h5", "img", np.zeros((128, 128))))
    with pytest.raises(FileNotFoundError, match="no such file"):
        l4s.read_patch(tmp_path / "absent.h5")


def test_normalise_official_constants():
    mean, std = np.array(bands.L4S_MEAN, np.float32), np.array(bands.L4S_STD, np.float32)
    x = np.stack([mean, mean + std, mean - 2 * std])  # (3, 14): z = 0, 1, -2 in every channel
    z = l4s.normalise(x, channels=bands.L4S_CHANNELS)
    np.testing.assert_allclose(z, [[0] * 14, [1] * 14, [-2] * 14], atol=1e-5)
    six = l4s.normalise(x)
    assert six.shape == (3, 6) and l4s.channel_indices() == [3, 2, 1, 7, 12, 13]
    with pytest.raises(ShapeMismatchError, match="14"):
        l4s.normalise(x[:, :6])
    with pytest.raises(MissingBandError, match="B8A"):
        l4s.channel_indices(["B8A"])


def test_read_folder_and_write_patch(tmp_path, rng):
    for i in (2, 10, 1):
        l4s.write_patch(tmp_path / "img" / f"image_{i}.h5", np.full((128, 128, 14), i, np.float32),
                        tmp_path / "mask" / f"mask_{i}.h5", np.zeros((128, 128), np.uint8))
    images, masks = l4s.read_folder(tmp_path, n=2)
    assert images.shape == (2, 128, 128, 6) and masks.shape == (2, 128, 128)
    red = (np.array([1, 2]) - bands.L4S_MEAN[3]) / bands.L4S_STD[3]  # sorted by number: 1, 2
    np.testing.assert_allclose(images[:, 0, 0, 0], red, rtol=1e-5)


def test_offline_download_refused_and_simulated_fallback():
    with pytest.raises(NetworkUnavailableError, match="S2SLIDE_OFFLINE"):
        l4s.download("train", n=5)
    images, masks, label = l4s.load_patches(3, seed=1)
    assert images.shape == (3, 128, 128, 6) and masks.dtype == np.uint8
    assert "simulated" in label
    from s2slide.data import simulate

    raw, _ = simulate.l4s_patches(3, seed=1)                      # normalised, not file units
    np.testing.assert_allclose(images, l4s.normalise(raw), rtol=1e-6)
    with pytest.raises(InvalidInputError, match="source"):
        l4s.load_patches(3, source="zenodo")


def test_simulated_label_names_landscapes_given_as_a_string_or_a_sequence():
    """A plain string is one landscape name, not its letters."""
    *_, label = l4s.load_patches(2, seed=1, landscapes="luding")
    assert "(luding landscape, " in label and "l + u" not in label
    *_, label = l4s.load_patches(2, seed=1, landscapes=("luding", "barhabise"))
    assert "(barhabise + luding landscape, " in label


def _scene(rng, *, n=8, flat_dem=False):
    """A small scene in load_scene's layout (made here: only its layout matters)."""
    import xarray as xr

    dem = np.full((n, n), 1200.0) if flat_dem else rng.random((n, n)) * 1000 + 800
    return xr.Dataset({"post": (("band", "y", "x"), rng.random((4, n, n)).astype(np.float32)),
                       "slope": (("y", "x"), rng.random((n, n)) * 40), "dem": (("y", "x"), dem)},
                      coords={"band": ["B02", "B03", "B04", "B08"]})


@pytest.fixture
def real(mirror):
    """The 15 real sample patches (file units, all 14 channels) and masks, through the registry."""
    return l4s.read_patches(l4s.sample_pairs(), raw=True)


def test_scene_channels_default_matches_real_normalised_patches(real):
    """By default the scene's channels get the moments of real normalised patches, not 0 and 1."""
    images, masks = real
    want = l4s.channel_statistics(l4s.normalise(images), masks)
    x = l4s.scene_channels(_scene(np.random.default_rng(0)))
    assert x.shape == (8, 8, 6) and x.dtype == np.float32
    np.testing.assert_allclose(x.reshape(-1, 6).mean(0), want.mean, atol=2e-3)
    np.testing.assert_allclose(x.reshape(-1, 6).std(0), want.std, rtol=2e-3)
    assert (want.mean > 0.8).all()                        # what the old mean-0 mapping missed


def test_scene_channels_reference_matches_a_given_training_set(real):
    images, _ = real
    train = l4s.normalise(images[:10])
    x = l4s.scene_channels(_scene(np.random.default_rng(1)), reference=train)
    flat = train.reshape(-1, 6)
    np.testing.assert_allclose(x.reshape(-1, 6).mean(0), flat.mean(0), atol=2e-3)
    np.testing.assert_allclose(x.reshape(-1, 6).std(0), flat.std(0), rtol=2e-3)
    with pytest.raises(ShapeMismatchError, match="6 channels"):
        l4s.scene_channels(_scene(np.random.default_rng(1)), reference=train[..., :4])
    with pytest.raises(InvalidInputError, match="constant"):
        l4s.scene_channels(_scene(np.random.default_rng(1)), reference=np.ones((2, 8, 8, 6)))


def test_scene_channels_flat_dem_warns_and_takes_the_training_mean():
    """A constant channel (a flat DEM) carries no information: documented, and said."""
    with pytest.warns(UserWarning, match="'dem' is constant"):
        x = l4s.scene_channels(_scene(np.random.default_rng(2), flat_dem=True))
    np.testing.assert_allclose(x[..., 5], l4s.normalised_moments()[0][5], atol=1e-6)


def test_scene_channels_missing_band_names_what_is_there():
    ds = _scene(np.random.default_rng(3))
    with pytest.raises(MissingBandError, match="'B10'.*B02, B03, B04, B08"):
        l4s.scene_channels(ds, channels=("B10",))
    with pytest.raises(MissingBandError, match="'slope'"):
        l4s.scene_channels(ds.drop_vars("slope"))


# ----------------------------------------------------------------------------- Zenodo, replayed
ZIPPED = l4s.SAMPLE_IDS[:3]  # real patches 1, 3, 16 of the mirror, in the archive's layout


@pytest.fixture
def zenodo(mirror, monkeypatch, online):
    """A loopback Zenodo serving a record and a ``TrainData.zip`` of three real patches.

    The archive holds real files (the mirror's sample, as ``TrainData/img/image_N.h5``); the
    record's JSON is written here in the form of Zenodo's records API (``files``: ``key``,
    ``size``, ``checksum`` ``md5:...``, ``links.self``): no recording of it exists.
    """
    import hashlib
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for (img, msk), i in zip(l4s.sample_pairs()[:len(ZIPPED)], ZIPPED):
            zf.write(img, f"TrainData/img/image_{i}.h5")
            zf.write(msk, f"TrainData/mask/mask_{i}.h5")
    archive = buf.getvalue()
    record = f"/api/records/{l4s.ZENODO_RECORD}"
    path = f"{record}/files/TrainData.zip/content"
    with LoopbackServer() as srv:
        srv.add_bytes(path, archive)
        files = [{"key": "TestData.zip", "size": 1, "checksum": "md5:0", "links": {"self": "x"}},
                 {"key": "TrainData.zip", "size": len(archive),
                  "checksum": "md5:" + hashlib.md5(archive).hexdigest(),
                  "links": {"self": srv.url(path)}}]
        srv.add_handler("GET", record, lambda req: (200, {"id": 10463239, "files": files}))
        monkeypatch.setattr(l4s, "ZENODO_API", srv.url(record))
        yield srv, path, archive


def _cache_files() -> list[Path]:
    return sorted(p for p in (Path(os.environ["S2SLIDE_CACHE"]) / "landslide4sense").rglob("*")
                  if p.is_file())


def test_download_unpacks_the_first_n_real_patches_and_keeps_the_archive(zenodo):
    srv, path, archive = zenodo
    folder = l4s.download("train", n=2, progressbar=False)
    assert sorted(p.name for p in (folder / "img").iterdir()) == ["image_1.h5", "image_3.h5"]
    images, masks = l4s.read_folder(folder)
    expected, expected_masks = l4s.read_patches(l4s.sample_pairs()[:2])
    np.testing.assert_array_equal(images, expected)
    np.testing.assert_array_equal(masks, expected_masks)
    again = l4s.download("train", n=2, progressbar=False)  # the archive is not fetched again
    assert again == folder and [p for m, p, r in srv.log if p == path] == [path]
    assert not [p for p in _cache_files() if files.MARK in p.name]


def test_damaged_cached_archive_is_fetched_again_and_a_bad_one_refused(zenodo):
    srv, path, archive = zenodo
    l4s.download("train", n=1, progressbar=False)
    cached = Path(os.environ["S2SLIDE_CACHE"]) / "landslide4sense" / "TrainData.zip"
    cached.write_bytes(archive[:1000])
    with pytest.warns(UserWarning, match="damaged.*again"):
        l4s.download("train", n=1, progressbar=False)
    assert cached.read_bytes() == archive
    cached.unlink()
    srv.add_bytes(path, archive[:-1] + b"X")  # same size, another MD5
    with pytest.raises(ChecksumError, match="TrainData.zip.*MD5"):
        l4s.download("train", n=1, progressbar=False)
    assert not cached.exists() and not [p for p in _cache_files() if files.MARK in p.name]


@pytest.mark.parametrize("what, message", [
    ("record", r"Zenodo \(Landslide4Sense record.*within 1 s.*source='mirror'"),
    ("archive", r"Zenodo's Landslide4Sense archive TrainData.zip.*B/s.*source='mirror'")])
def test_trickling_zenodo_is_cut_off_and_leaves_no_partial_file(zenodo, what, message):
    """A server sending a byte now and then: the record (status line and headers included) is
    cut at the deadline, the archive (headers at once) by the speed rule, each within seconds,
    with a message naming Zenodo and the limit that passed; nothing is left in the cache."""
    srv, path, _ = zenodo
    if what == "record":
        srv.trickle(f"/api/records/{l4s.ZENODO_RECORD}", interval=0.1)
    else:
        srv.trickle(path, interval=0.05, body_only=True)
    start = time.perf_counter()
    with pytest.raises(NetworkUnavailableError, match=message):
        l4s.download("train", n=1, progressbar=False, timeout=1)
    assert time.perf_counter() - start < 4
    assert not _cache_files()


def test_temporary_of_a_killed_download_is_removed_by_the_next(zenodo):
    """kill -9 during the archive's download leaves its temporary (nothing can prevent that);
    the next download removes it and completes."""
    srv, path, archive = zenodo
    srv.trickle(path, interval=0.05, body_only=True)
    script = textwrap.dedent(f"""
        from s2slide.data import l4s
        l4s.ZENODO_API = {l4s.ZENODO_API!r}
        l4s.download("train", n=1, progressbar=False)
    """)
    env = {k: v for k, v in os.environ.items() if k != "S2SLIDE_OFFLINE"}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        deadline = time.time() + 30
        while time.time() < deadline and not _cache_files():
            time.sleep(0.1)
        (left,) = _cache_files()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert files.MARK in left.name and left.exists()  # what kill -9 leaves
    srv.state.faults.clear()
    folder = l4s.download("train", n=1, progressbar=False)
    assert not left.exists()
    names = [p.relative_to(folder.parent).as_posix() for p in _cache_files()]
    assert names == ["TrainData.zip", "train_1/img/image_1.h5", "train_1/mask/mask_1.h5"]


def test_auto_falls_back_on_download_error_and_live_raises(monkeypatch, capsys, online):
    """load_patches("auto") online: a download error gives simulated patches and says why."""
    from s2slide.errors import DownloadError

    def broken(split, n=None, **kw):
        raise DownloadError("HTTP 503 from zenodo.org: try again later")

    monkeypatch.setattr(l4s, "download", broken)
    images, masks, label = l4s.load_patches(2, source="auto", seed=1)
    assert images.shape == (2, 128, 128, 6) and masks.shape == (2, 128, 128)
    assert "simulated" in label
    out = capsys.readouterr().out
    assert "DownloadError" in out and "HTTP 503" in out and "simulated" in out
    with pytest.raises(DownloadError, match="HTTP 503"):
        l4s.load_patches(2, source="live", seed=1)


# ----------------------------------------------------------------------------- the real files
def test_real_sample_read_through_the_registry(mirror):
    """Reader on the 15 real patches: shapes, dtypes, mask values, which patches hold landslides."""
    from s2slide.data import registry

    pairs = l4s.sample_pairs()
    assert l4s.SAMPLE_IDS == (1, 3, 16, 27, 38, 40, 41, 45, 72, 253, 300, 461, 525, 600, 800)
    assert all(p.is_file() for pair in pairs for p in pair)
    for (img, msk), i in zip(pairs, l4s.SAMPLE_IDS):
        registry.verify(img, f"landslide4sense-sample/img/image_{i}.h5")
    with h5py.File(pairs[0][0]) as f:                       # the files themselves: float64
        assert f["img"].dtype == np.float64 and f["img"].shape == (128, 128, 14)
    images, masks = l4s.read_patches(pairs, raw=True)
    assert images.shape == (15, 128, 128, 14) and images.dtype == np.float32
    assert masks.shape == (15, 128, 128) and masks.dtype == np.uint8
    assert set(np.unique(masks)) == {0, 1} and np.isfinite(images).all()
    empty = [i for i, m in zip(l4s.SAMPLE_IDS, masks) if not m.any()]
    assert empty == [3, 45]


def test_load_patches_from_the_mirror(mirror):
    images, masks, label = l4s.load_patches(15, source="mirror")
    assert label == "real Landslide4Sense patches (15, mirror)"
    assert images.shape == (15, 128, 128, 6) and masks.shape == (15, 128, 128)
    raw, _ = l4s.read_patches(l4s.sample_pairs(), raw=True)
    np.testing.assert_allclose(images, l4s.normalise(raw), rtol=1e-6)
    few, _, label = l4s.load_patches(4, source="mirror")
    assert few.shape[0] == 4 and "(4, mirror)" in label
    with pytest.warns(UserWarning, match="15 real patches"):
        l4s.load_patches(240, source="mirror")


def test_measured_statistics_recomputed_from_the_real_files(real):
    """bands.L4S_FILE_* are what the real files hold (recomputed here), not the baseline's."""
    stats = l4s.channel_statistics(*real)
    np.testing.assert_allclose(stats.mean, bands.L4S_FILE_MEAN, rtol=5e-4)
    np.testing.assert_allclose(stats.std, bands.L4S_FILE_STD, rtol=5e-4)
    np.testing.assert_allclose(stats.contrast, bands.L4S_FILE_CONTRAST, atol=5e-3)
    assert stats.landslide_share == pytest.approx(bands.L4S_FILE_LANDSLIDE_SHARE, abs=1e-5)
    assert np.all(np.abs(stats.mean - bands.L4S_MEAN) > 0.4)   # the baseline's are something else
    idx = l4s.channel_indices()
    norm = l4s.channel_statistics(l4s.normalise(real[0]))
    np.testing.assert_allclose(norm.mean, l4s.normalised_moments()[0], rtol=1e-3)
    np.testing.assert_allclose(norm.std, l4s.normalised_moments()[1], rtol=1e-3)
    assert idx == [3, 2, 1, 7, 12, 13] and (norm.mean > 1.0).all() and (norm.std < 0.9).all()


def test_real_landslides_brighter_in_the_visible_darker_in_the_nir(real):
    """FACTS.md: brighter in B2-B5, B11, B12 (B4 by about 2.6 std), slightly darker in B6-B9."""
    contrast = dict(zip(bands.L4S_CHANNELS, l4s.channel_statistics(*real).contrast))
    assert all(contrast[b] > 0.7 for b in ("B02", "B03", "B04", "B05", "B11", "B12"))
    assert 2.3 < contrast["B04"] < 3.0
    assert all(-0.6 < contrast[b] < -0.1 for b in ("B06", "B07", "B08", "B09"))


def test_simulator_matches_the_real_files(real):
    """simulate.l4s_patches against the real files: raw mean and std per channel within a quarter
    of a real std, and landslide contrast of the real sign and similar size (chapter 6's landscapes
    and the default mix)."""
    from s2slide.data import simulate

    want = l4s.channel_statistics(*real)
    for landscapes in (("luding",), None):
        sim = l4s.channel_statistics(*simulate.l4s_patches(48, seed=1, landscapes=landscapes))
        assert np.all(np.abs(sim.mean - want.mean) < 0.25 * want.std), landscapes
        assert np.all(np.abs(sim.std - want.std) < 0.25 * want.std), landscapes
        clear = np.abs(want.contrast) >= 0.3                       # sign tested where it is clear
        assert np.all(np.sign(sim.contrast[clear]) == np.sign(want.contrast[clear])), landscapes
        assert np.all(np.abs(sim.contrast - want.contrast)[:12] < 0.6), landscapes
        assert 0.005 < sim.landslide_share < 0.05


# ----------------------------------------------------------------------------- bad input
def test_nan_in_a_patch_is_filled_and_said(tmp_path, real):
    """Fake (no real file holds NaN): a few NaN pixels become the files' mean, with a warning."""
    image = real[0][0].copy()
    image[:2, :3, 3] = np.nan
    with pytest.warns(UserWarning, match="6 NaN"):
        x = l4s.normalise(image)
    assert np.isfinite(x).all()
    assert x[0, 0, 0] == pytest.approx(l4s.normalised_moments()[0][0], rel=1e-5)


def test_all_nan_patch_is_refused():
    """Before: an all-NaN patch became zeros that passed check_patches."""
    stack = np.ones((3, 128, 128, 14), np.float32)
    stack[1] = np.nan
    with pytest.raises(NoValidDataError, match="patch 1 .*'B04'.*drop"):
        l4s.normalise(stack)


def test_constant_channel_is_kept(real):
    """Real patches can have a constant DEM: normalise keeps it, constant and finite."""
    image = real[0][0].copy()
    image[..., 13] = 2.5
    x = l4s.normalise(image)
    assert np.all(x[..., 5] == x[0, 0, 5]) and np.isfinite(x).all()


@pytest.mark.parametrize("bad", [None, "image_1.h5", [[1.0, 2.0], [3.0]]])
def test_normalise_refuses_what_is_not_an_array(bad):
    with pytest.raises(InvalidInputError, match="array"):
        l4s.normalise(bad)


@pytest.mark.parametrize("bad", [None, 3])
def test_read_patch_refuses_what_is_not_a_path(bad):
    with pytest.raises(InvalidInputError, match="path"):
        l4s.read_patch(bad)


def test_missing_file_is_a_package_error(tmp_path):
    with pytest.raises(MissingFileError, match="no such file") as err:
        l4s.read_patch(tmp_path / "absent.h5")
    assert isinstance(err.value, FileNotFoundError)


@pytest.mark.parametrize("content", [b"not an HDF5 file at all", "truncated"])
def test_truncated_or_foreign_file(tmp_path, mirror, content):
    """A real file cut in half, and a text file named .h5."""
    path = tmp_path / "image_1.h5"
    if content == "truncated":
        real_bytes = l4s.sample_pairs()[0][0].read_bytes()
        path.write_bytes(real_bytes[: len(real_bytes) // 2])
    else:
        path.write_bytes(content)
    with pytest.raises(DataFileError, match="truncated or not a Landslide4Sense") as err:
        l4s.read_patch(path)
    assert isinstance(err.value, S2SlideError) and isinstance(err.value, OSError)


def test_mask_of_0_and_255_says_how_to_convert(patch, tmp_path):
    """Fake (Landslide4Sense masks are 0/1): a mask saved as an 8-bit picture."""
    img_path = patch[0]
    mask = _write(tmp_path / "m255.h5", "mask", (patch[3] * 255).astype(np.uint8))
    with pytest.raises(InvalidInputError, match="0 and 255.*mask > 0"):
        l4s.read_patch(img_path, mask)


def test_folder_with_images_but_no_masks(tmp_path):
    for i in (1, 2):
        l4s.write_patch(tmp_path / "img" / f"image_{i}.h5", np.ones((128, 128, 14), np.float32))
    with pytest.raises(MissingFileError, match="2 of 2 images have no mask.*read_patch"):
        l4s.read_folder(tmp_path)


def test_copied_file_in_a_patch_folder_is_skipped_and_named(tmp_path):
    for i in (1, 2):
        l4s.write_patch(tmp_path / "img" / f"image_{i}.h5", np.full((128, 128, 14), i, np.float32),
                        tmp_path / "mask" / f"mask_{i}.h5", np.zeros((128, 128), np.uint8))
    copy = (tmp_path / "img" / "image_1.h5").read_bytes()
    (tmp_path / "img" / "image_1 (copy).h5").write_bytes(copy)
    with pytest.warns(UserWarning, match=r"image_1 \(copy\)\.h5"):
        images, _ = l4s.read_folder(tmp_path)
    assert images.shape[0] == 2
    with pytest.warns(UserWarning, match="ignored 1 file"):
        images, _ = l4s.read_folder(tmp_path, exclude=[1], raw=True)
    assert images.shape[0] == 1 and images[0, 0, 0, 0] == 2


def test_channel_statistics_checks_its_input():
    with pytest.raises(ShapeMismatchError, match="stack"):
        l4s.channel_statistics(np.ones((128, 128, 14)))
    with pytest.raises(ShapeMismatchError, match="masks"):
        l4s.channel_statistics(np.ones((2, 8, 8, 3)), np.zeros((2, 8, 9)))
    stats = l4s.channel_statistics(np.ones((2, 8, 8, 3)), np.zeros((2, 8, 8)))
    assert np.isnan(stats.contrast).all() and stats.landslide_share == 0


def test_live_patches_leave_the_mirror_sample_out(tmp_path, monkeypatch, online):
    """load_patches(exclude=SAMPLE_IDS): the real sample stays out of a Zenodo training set."""
    for i in range(1, 8):
        l4s.write_patch(tmp_path / "img" / f"image_{i}.h5", np.full((128, 128, 14), i, np.float32),
                        tmp_path / "mask" / f"mask_{i}.h5", np.zeros((128, 128), np.uint8))
    asked = {}
    monkeypatch.setattr(l4s, "download", lambda split, n=None, **kw: asked.update(n=n) or tmp_path)
    images, _, label = l4s.load_patches(4, source="live", exclude=l4s.SAMPLE_IDS)
    assert asked["n"] == 4 + len(l4s.SAMPLE_IDS) and "Zenodo" in label
    raw = (images[:, 0, 0, 0] * bands.L4S_STD[3] + bands.L4S_MEAN[3]).round()
    assert raw.tolist() == [2, 4, 5, 6]                      # 1 and 3 are sample ids
