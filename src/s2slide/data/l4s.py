"""Landslide4Sense (Ghorbanzadeh et al. 2022): read, normalise, download, or simulate patches.

The data set holds 128 x 128 px patches at about 10 m: ``img/image_N.h5`` (HDF5 dataset
``img``, float, 128 x 128 x 14) and ``mask/mask_N.h5`` (dataset ``mask``, 128 x 128, 0/1).
Channels: Sentinel-2 B1-B12 (with B10, without B8A), ALOS PALSAR slope, then DEM
(:data:`s2slide.data.bands.L4S_CHANNELS`). The files are already rescaled by the authors; the
official baseline normalises each channel with fixed means and standard deviations
(:data:`s2slide.data.bands.L4S_MEAN`, :data:`~s2slide.data.bands.L4S_STD`).

Seed 001 keeps six channels (:data:`SEED001_CHANNELS`): red, green, blue and near-infrared,
which show bare soil against vegetation, plus slope and elevation, because landslides
happen on steep ground; the same six can be built from any Sentinel-2 scene with a DEM,
which is what transfer to a new area needs.

Online, :func:`download` fetches the data set from Zenodo (DOI 10.5281/zenodo.10463239);
offline, :func:`load_patches` falls back to ``s2slide.data.simulate.l4s_patches``. Chapter 6.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np

from s2slide import config
from s2slide.data import bands
from s2slide.errors import (ChecksumError, DownloadError, InvalidInputError, MissingBandError,
                            NetworkUnavailableError, ShapeMismatchError)

#: Zenodo record of Landslide4Sense (DOI 10.5281/zenodo.10463239).
ZENODO_RECORD = "10463239"
ZENODO_API = f"https://zenodo.org/api/records/{ZENODO_RECORD}"
#: Seed 001's channels: red, green, blue, NIR (B08), slope, elevation.
SEED001_CHANNELS: tuple[str, ...] = ("B04", "B03", "B02", "B08", "slope", "dem")
PATCH_SHAPE = (128, 128, 14)


def _read_dataset(path: Path, key: str) -> np.ndarray:
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file; point to an img/image_N.h5 or "
                                "mask/mask_N.h5 file of Landslide4Sense")
    with h5py.File(path, "r") as f:
        if key not in f:
            raise MissingBandError(f"{path.name} has no HDF5 dataset {key!r} (it has "
                                   f"{', '.join(map(repr, f.keys())) or 'none'}): is it a "
                                   f"Landslide4Sense {'image' if key == 'img' else 'mask'} file?")
        return np.asarray(f[key])


def read_patch(image_path: str | Path,
               mask_path: str | Path | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Read one Landslide4Sense patch and, optionally, its mask.

    Parameters
    ----------
    image_path : str or Path
        ``img/image_N.h5`` (dataset ``img``, 128 x 128 x 14).
    mask_path : str or Path, optional
        ``mask/mask_N.h5`` (dataset ``mask``, 128 x 128 of 0/1).

    Returns
    -------
    image : ndarray
        float32, (128, 128, 14), channels :data:`s2slide.data.bands.L4S_CHANNELS`, file units.
    mask : ndarray or None
        uint8, (128, 128), 1 = landslide.
    """
    image = _read_dataset(Path(image_path), "img")
    if image.shape != PATCH_SHAPE:
        raise ShapeMismatchError(f"{Path(image_path).name}: image shape {image.shape}, "
                                 f"expected {PATCH_SHAPE} (y, x, channel) as in Landslide4Sense")
    if mask_path is None:
        return image.astype(np.float32), None
    mask = _read_dataset(Path(mask_path), "mask")
    if mask.shape != PATCH_SHAPE[:2]:
        raise ShapeMismatchError(f"{Path(mask_path).name}: mask shape {mask.shape}, expected "
                                 f"{PATCH_SHAPE[:2]}")
    if not np.isin(np.unique(mask), (0, 1)).all():
        raise InvalidInputError(f"{Path(mask_path).name}: mask values {np.unique(mask)[:5]} are "
                                "not 0/1; is it a probability map? threshold it (mask > 0.5)")
    return image.astype(np.float32), mask.astype(np.uint8)


def write_patch(image_path: str | Path, image: np.ndarray, mask_path: str | Path | None = None,
                mask: np.ndarray | None = None) -> None:
    """Write a patch (and mask) in the Landslide4Sense format, e.g. simulated patches or tests."""
    import h5py

    for path, key, arr in ((image_path, "img", image), (mask_path, "mask", mask)):
        if path is None or arr is None:
            continue
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with h5py.File(path, "w") as f:
            f.create_dataset(key, data=np.asarray(arr))


def channel_indices(channels: Sequence[str] = SEED001_CHANNELS) -> list[int]:
    """Positions of ``channels`` in :data:`s2slide.data.bands.L4S_CHANNELS` (``"B04"``, ``"slope"``)."""
    have = bands.L4S_CHANNELS
    missing = [c for c in channels if c not in have]
    if missing:
        raise MissingBandError(f"channel(s) {missing} are not in Landslide4Sense; it has "
                               f"{', '.join(have)}")
    return [have.index(c) for c in channels]


def normalise(images: np.ndarray, *, channels: Sequence[str] = SEED001_CHANNELS) -> np.ndarray:
    """The official per-channel normalisation ``(x - mean) / std``, then keep ``channels``.

    Parameters
    ----------
    images : ndarray
        (..., 14) in Landslide4Sense file units (one patch or a stack).
    channels : sequence of str
        Channels to keep, in this order (default: seed 001's six).

    Returns
    -------
    ndarray
        float32, (..., len(channels)); NaN (rare in the files) set to 0, the channel mean.
    """
    images = np.asarray(images, np.float32)
    if images.shape[-1] != len(bands.L4S_CHANNELS):
        raise ShapeMismatchError(f"the last axis has {images.shape[-1]} channels, expected 14 "
                                 "(Landslide4Sense order); normalise before selecting channels")
    idx = channel_indices(channels)
    mean = np.asarray(bands.L4S_MEAN, np.float32)[idx]
    std = np.asarray(bands.L4S_STD, np.float32)[idx]
    return np.nan_to_num((images[..., idx] - mean) / std, nan=0.0)


def scene_channels(ds, *, when: str = "post", channels: Sequence[str] = SEED001_CHANNELS,
                   valid=None) -> np.ndarray:
    """A scene from ``data.load_scene`` as model input: channels standardised over the scene.

    The units of the Landslide4Sense files are the authors' own rescaling, documented
    nowhere as a formula from reflectance; so each channel of the new scene is given the
    same first two moments as normalised training data (mean 0, standard deviation 1 over
    the scene's valid pixels). What remains different between the two is domain shift.

    Returns
    -------
    ndarray
        float32, (y, x, len(channels)).
    """
    layers = []
    for name in channels:
        arr = ds[name].values if name in ("slope", "dem") else ds[when].sel(band=name).values
        good = np.isfinite(arr) & (True if valid is None else np.asarray(valid, bool))
        if good.sum() < 2:
            raise InvalidInputError(f"channel {name!r} has fewer than 2 valid pixels: "
                                    "choose another scene or date")
        mean, std = arr[good].mean(), arr[good].std()
        layers.append(np.nan_to_num((arr - mean) / max(std, 1e-6), nan=0.0))
    return np.stack(layers, axis=-1).astype(np.float32)


def _zenodo_file(split: str) -> tuple[str, str, str]:
    """(url, 'md5:...', name) of ``split``'s zip in the Zenodo record."""
    import requests

    try:
        meta = requests.get(ZENODO_API, timeout=30)
        meta.raise_for_status()
    except requests.RequestException as err:
        raise NetworkUnavailableError(f"cannot reach Zenodo ({err}); check the connection, or "
                                      "use source='simulated'") from err
    files = meta.json().get("files", [])
    for f in files:
        if split.lower() in f["key"].lower() and f["key"].lower().endswith(".zip"):
            return f["links"]["self"], f["checksum"], f["key"]
    raise DownloadError(f"no {split!r} zip in Zenodo record {ZENODO_RECORD}; it holds "
                        f"{', '.join(f['key'] for f in files)}")


def download(split: str = "train", *, n: int | None = None, progressbar: bool = True) -> Path:
    """Download a Landslide4Sense split from Zenodo (checksum checked) and unpack it.

    Parameters
    ----------
    split : str
        ``"train"`` (3,799 patches), ``"valid"`` (245) or ``"test"`` (800).
    n : int, optional
        Unpack only the first ``n`` patches (by number): a subset for a quick start. The
        zip itself is downloaded whole, once, into the cache.
    progressbar : bool
        Show a tqdm progress bar while downloading.

    Returns
    -------
    Path
        A folder holding ``img/image_N.h5`` and ``mask/mask_N.h5``.
    """
    import pooch

    if config.offline():
        raise NetworkUnavailableError("S2SLIDE_OFFLINE is set, so Landslide4Sense is not "
                                      "downloaded: unset it, or use source='simulated'")
    url, checksum, name = _zenodo_file(split)
    folder = config.cache_dir() / "landslide4sense"
    try:
        archive = pooch.retrieve(url, known_hash=checksum, fname=name, path=folder,
                                 progressbar=progressbar)
    except ValueError as err:  # pooch: hash mismatch (the partial file is removed)
        raise ChecksumError(f"{name}: {err}; run again to download afresh") from err
    out = folder / f"{split}_{n or 'all'}"
    _unpack(Path(archive), out, n=n)
    return out


def _unpack(archive: Path, out: Path, *, n: int | None) -> None:
    pattern = re.compile(r"(?:^|/)(img/image|mask/mask)_(\d+)\.h5$")
    with zipfile.ZipFile(archive) as zf:
        members = [(m, pattern.search(m)) for m in zf.namelist()]
        members = [(m, g) for m, g in members if g]
        numbers = sorted({int(g.group(2)) for _, g in members})
        keep = set(numbers[:n] if n else numbers)
        for member, g in members:
            target = out / f"{g.group(1)}_{g.group(2)}.h5"
            if int(g.group(2)) in keep and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(zf.read(member))


def read_folder(folder: str | Path, *, n: int | None = None,
                channels: Sequence[str] = SEED001_CHANNELS) -> tuple[np.ndarray, np.ndarray]:
    """Read and normalise the patches of a folder (``img/``, ``mask/``), sorted by number.

    Returns images float32 (n, 128, 128, len(channels)) and masks uint8 (n, 128, 128).
    """
    folder = Path(folder)
    paths = sorted((folder / "img").glob("image_*.h5"), key=lambda p: int(p.stem.split("_")[1]))
    if not paths:
        raise FileNotFoundError(f"no img/image_N.h5 in {folder}: download first (l4s.download)")
    paths = paths[:n] if n else paths
    images = np.empty((len(paths), 128, 128, len(channels)), np.float32)
    masks = np.empty((len(paths), 128, 128), np.uint8)
    for i, path in enumerate(paths):
        img, masks[i] = read_patch(path, folder / "mask" / path.name.replace("image", "mask"))
        images[i] = normalise(img, channels=channels)
    return images, masks


def load_patches(n: int, *, source: str = "auto", seed: int = 0,
                 channels: Sequence[str] = SEED001_CHANNELS,
                 landscapes: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """``n`` normalised training patches: real (Zenodo) when online, else simulated.

    With ``source="auto"`` a failed download (no network, an HTTP error, a bad checksum) falls
    back to simulated patches and prints why; ``source="live"`` raises the error instead.

    ``landscapes`` chooses the simulated landscapes (see :func:`s2slide.data.simulate.l4s_patches`);
    leave the transfer target out of them, as the real Landslide4Sense regions leave it out.

    Returns
    -------
    images : ndarray
        float32, (n, 128, 128, len(channels)), officially normalised.
    masks : ndarray
        uint8, (n, 128, 128).
    label : str
        Where they come from, for figure titles (``"... simulated ..."`` offline).
    """
    if source not in ("auto", "live", "simulated"):
        raise InvalidInputError(f"source={source!r}: use 'auto', 'live' or 'simulated'")
    if source == "live" or (source == "auto" and not config.offline()):
        try:
            images, masks = read_folder(download("train", n=n), n=n, channels=channels)
            label = f"Landslide4Sense training patches (Zenodo), {len(images)} patches"
            return images, masks, label
        except (NetworkUnavailableError, DownloadError) as err:  # no network, HTTP, checksum
            if source == "live":
                raise
            print(f"Landslide4Sense download failed ({type(err).__name__}: {err}); "
                  "using simulated patches")
    from s2slide.data import simulate

    raw, masks = simulate.l4s_patches(n, seed=seed, landscapes=landscapes)
    names = simulate._check_landscapes(landscapes)  # a plain "luding" is one name
    where = f"{' + '.join(names)} landscape, " if names else ""
    label = f"simulated Landslide4Sense-format patches ({where}s2slide.data.simulate, seed {seed}), {n} patches"
    return normalise(raw, channels=channels), masks, label


# ----------------------------------------------------------------------------- file units
#: What each channel of the Landslide4Sense files was divided by (L1C digital numbers for
#: B1-B12, degrees for slope, metres for the DEM): ``file value = physical value / FILE_SCALE``.
#: These are the numbers seed 001's transfer notebook divides its Earth Engine download by to
#: put a new scene in the files' units (iamtekson/deep-learning-for-earth-observation,
#: ``01.1 predict_landslide_U_Net_using_GEE_dataset.ipynb``, ``img_mean``); the real sample
#: patches confirm them (``tests/test_l4s.py``): multiplied back, their vegetated pixels have a
#: reflectance NDVI of 0.6-0.8, slopes reach 55-76 degrees and elevations span 600-3,800 m.
#: An NDVI computed on file values (as seed 001's notebook does) is therefore not the
#: reflectance NDVI: NIR is divided by about 4.4 times more than red.
FILE_SCALE: tuple[float, ...] = (1111.81236406, 824.63171476, 663.41636217, 445.17289745,
                                 645.8582926, 1547.73508126, 1960.44401001, 1941.32229668,
                                 674.07572865, 9.04787384, 1113.98338755, 519.90397929,
                                 20.29228266, 772.83144788)


def scene_file_units(ds, *, when: str = "post",
                     channels: Sequence[str] = SEED001_CHANNELS) -> np.ndarray:
    """A scene from ``data.load_scene`` in Landslide4Sense file units, as seed 001 transfers.

    Reflectance times 10,000 (digital numbers without offset), slope in degrees and the DEM in
    metres, each divided by its :data:`FILE_SCALE`; no standardisation (seed 001's inputs scale
    each patch on their own, :func:`s2slide.models.inputs.seed001_inputs`). NaN stays NaN.

    Returns
    -------
    ndarray
        float32, (y, x, len(channels)).
    """
    channel_indices(channels)  # a helpful error for a channel Landslide4Sense does not have
    scale = dict(zip(bands.L4S_CHANNELS, FILE_SCALE))
    layers = []
    for name in channels:
        if name in ("slope", "dem"):
            layers.append(ds[name].values / scale[name])
        elif name in ds[when].band.values:
            layers.append(ds[when].sel(band=name).values * 10_000.0 / scale[name])
        else:
            raise MissingBandError(f"the scene has no band {name!r} (it has "
                                   f"{', '.join(map(str, ds[when].band.values))}); choose "
                                   "channels it holds, e.g. l4s.SEED001_CHANNELS")
    return np.stack(layers, axis=-1).astype(np.float32)
