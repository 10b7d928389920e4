"""s2slide.data.l4s: the Landslide4Sense reader on files written in the real format (HDF5)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from s2slide.data import bands, l4s
from s2slide.errors import (InvalidInputError, MissingBandError, NetworkUnavailableError,
                            ShapeMismatchError)


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
    assert abs(float(images.mean())) < 1.0  # normalised, not file units
    with pytest.raises(InvalidInputError, match="source"):
        l4s.load_patches(3, source="mirror")


def test_simulated_label_names_landscapes_given_as_a_string_or_a_sequence():
    """A plain string is one landscape name, not its letters."""
    *_, label = l4s.load_patches(2, seed=1, landscapes="luding")
    assert "(luding landscape, " in label and "l + u" not in label
    *_, label = l4s.load_patches(2, seed=1, landscapes=("luding", "barhabise"))
    assert "(barhabise + luding landscape, " in label


def test_scene_channels_standardised():
    import xarray as xr

    rng = np.random.default_rng(0)
    ds = xr.Dataset({"post": (("band", "y", "x"), rng.random((4, 8, 8)).astype(np.float32)),
                     "slope": (("y", "x"), rng.random((8, 8)) * 40),
                     "dem": (("y", "x"), rng.random((8, 8)) * 1000 + 800)},
                    coords={"band": ["B02", "B03", "B04", "B08"]})
    x = l4s.scene_channels(ds)
    assert x.shape == (8, 8, 6)
    np.testing.assert_allclose(x.reshape(-1, 6).mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(x.reshape(-1, 6).std(0), 1, atol=1e-4)


def _zip_in_real_layout(path, n=3):
    import io
    import zipfile

    with zipfile.ZipFile(path, "w") as zf:
        for i in range(1, n + 1):
            for sub, key, arr in (("img/image", "img", np.full((128, 128, 14), i, np.float32)),
                                  ("mask/mask", "mask", np.zeros((128, 128), np.uint8))):
                buf = io.BytesIO()
                with h5py.File(buf, "w") as f:
                    f.create_dataset(key, data=arr)
                zf.writestr(f"TrainData/{sub}_{i}.h5", buf.getvalue())
    return path


def test_download_subset_wiring(tmp_path, monkeypatch, online):
    """download(): Zenodo's file and checksum go to pooch; only the first n patches are unpacked."""
    import pooch

    archive = _zip_in_real_layout(tmp_path / "TrainData.zip")
    seen = {}
    monkeypatch.setattr(l4s, "_zenodo_file", lambda split: ("https://zenodo.example/TrainData.zip",
                                                            "md5:0123", "TrainData.zip"))
    monkeypatch.setattr(pooch, "retrieve", lambda url, **kw: seen.update(url=url, **kw) or archive)
    folder = l4s.download("train", n=2, progressbar=False)
    assert seen["known_hash"] == "md5:0123" and seen["url"].endswith("TrainData.zip")
    assert sorted(p.name for p in (folder / "img").iterdir()) == ["image_1.h5", "image_2.h5"]
    images, masks = l4s.read_folder(folder)
    assert images.shape == (2, 128, 128, 6)

    def corrupt(url, **kw):
        raise ValueError("MD5 hash of downloaded file does not match the known hash")

    monkeypatch.setattr(pooch, "retrieve", corrupt)
    from s2slide.errors import ChecksumError

    with pytest.raises(ChecksumError, match="run again"):
        l4s.download("train", n=2)


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
