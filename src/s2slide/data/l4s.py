"""Landslide4Sense (Ghorbanzadeh et al. 2022): read, normalise, download, or simulate patches.

The data set holds 128 x 128 px patches at about 10 m: ``img/image_N.h5`` (HDF5 dataset
``img``, float, 128 x 128 x 14) and ``mask/mask_N.h5`` (dataset ``mask``, 128 x 128, 0/1).
Channels: Sentinel-2 B1-B12 (with B10, without B8A), ALOS PALSAR slope, then DEM
(:data:`s2slide.data.bands.L4S_CHANNELS`). The files are already rescaled by the authors; the
official baseline normalises each channel with fixed constants
(:data:`s2slide.data.bands.L4S_MEAN`, :data:`~s2slide.data.bands.L4S_STD`), which are *not*
the statistics of the files: those were measured on real patches
(:data:`~s2slide.data.bands.L4S_FILE_MEAN`, :func:`channel_statistics`).

Seed 001 keeps six channels (:data:`SEED001_CHANNELS`): red, green, blue and near-infrared,
which show bare soil against vegetation, plus slope and elevation, because landslides
happen on steep ground; the same six can be built from any Sentinel-2 scene with a DEM,
which is what transfer to a new area needs (:func:`scene_channels`).

Three sources (:func:`load_patches`): online, :func:`download` fetches the data set from Zenodo
(DOI 10.5281/zenodo.10463239); ``source="mirror"`` reads the 15 real training patches of the
course's mirror through :mod:`s2slide.data.registry` (public address and SHA-256); offline,
``s2slide.data.simulate.l4s_patches`` makes simulated ones. Chapter 6.
"""

from __future__ import annotations

import os
import re
import warnings
import zipfile
from pathlib import Path
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from s2slide import config, files
from s2slide.data import bands, registry
from s2slide.errors import (DataFileError, DownloadError, InvalidInputError,
                            MissingBandError, MissingFileError, NetworkUnavailableError,
                            NoValidDataError, ShapeMismatchError)

#: Zenodo record of Landslide4Sense (DOI 10.5281/zenodo.10463239).
ZENODO_RECORD = "10463239"
ZENODO_API = f"https://zenodo.org/api/records/{ZENODO_RECORD}"
#: Seed 001's channels: red, green, blue, NIR (B08), slope, elevation.
SEED001_CHANNELS: tuple[str, ...] = ("B04", "B03", "B02", "B08", "slope", "dem")
PATCH_SHAPE = (128, 128, 14)
#: Folder of the real sample patches in the mirror (:data:`s2slide.data.registry.FILES`).
SAMPLE_FOLDER = "landslide4sense-sample"
_IMAGE_NAME = re.compile(r"^image_(\d+)\.h5$")
#: Patch numbers of the real sample (official training-split file names, as redistributed).
SAMPLE_IDS: tuple[int, ...] = tuple(sorted(
    int(m.group(1)) for p in registry.FILES if p.startswith(f"{SAMPLE_FOLDER}/img/")
    and (m := _IMAGE_NAME.match(p.rsplit("/", 1)[1]))))


def _check_path(path, what: str) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidInputError(f"{what}={path!r}: give the path of a Landslide4Sense .h5 file, "
                                "e.g. 'TrainData/img/image_1.h5'")
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: no such file; point to an img/image_N.h5 or "
                               "mask/mask_N.h5 file of Landslide4Sense")
    return path


def _read_dataset(path: Path, key: str) -> np.ndarray:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if key not in f:
                kind = "image" if key == "img" else "mask"
                raise MissingBandError(f"{path.name} has no HDF5 dataset {key!r} (it has "
                                       f"{', '.join(map(repr, f.keys())) or 'none'}): is it a "
                                       f"Landslide4Sense {kind} file?")
            return np.asarray(f[key])
    except OSError as err:  # h5py: not HDF5, truncated, unreadable
        raise DataFileError(f"{path} cannot be read as HDF5 ({err}): it is truncated or not a "
                            "Landslide4Sense .h5 file; delete it and download it again "
                            "(l4s.download, or registry.fetch for the mirror's sample)") from err


def _check_mask(mask: np.ndarray, name: str) -> np.ndarray:
    values = np.unique(mask)
    if np.isin(values, (0, 1)).all():
        return mask.astype(np.uint8)
    if np.isin(values, (0, 255)).all():
        raise InvalidInputError(f"{name}: mask values are 0 and 255 (an 8-bit picture mask), "
                                "Landslide4Sense masks are 0/1: convert it with "
                                "(mask > 0).astype('uint8') and write it back")
    raise InvalidInputError(f"{name}: mask values {values[:5]} are not 0/1; is it a probability "
                            "map? threshold it (mask > 0.5)")


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
        float32, (128, 128, 14), channels :data:`s2slide.data.bands.L4S_CHANNELS`, file units;
        NaN kept as in the file (:func:`normalise` fills them and says so).
    mask : ndarray or None
        uint8, (128, 128), 1 = landslide.

    Raises
    ------
    MissingFileError, DataFileError
        No such file; a truncated or non-HDF5 file.
    MissingBandError, ShapeMismatchError, InvalidInputError
        Wrong HDF5 key, wrong shape, a mask that is not 0/1 (0/255 included).
    """
    image_path = _check_path(image_path, "image_path")
    image = _read_dataset(image_path, "img")
    if image.shape != PATCH_SHAPE:
        raise ShapeMismatchError(f"{image_path.name}: image shape {image.shape}, "
                                 f"expected {PATCH_SHAPE} (y, x, channel) as in Landslide4Sense")
    if mask_path is None:
        return image.astype(np.float32), None
    mask_path = _check_path(mask_path, "mask_path")
    mask = _read_dataset(mask_path, "mask")
    if mask.shape != PATCH_SHAPE[:2]:
        raise ShapeMismatchError(f"{mask_path.name}: mask shape {mask.shape}, expected "
                                 f"{PATCH_SHAPE[:2]}")
    return image.astype(np.float32), _check_mask(mask, mask_path.name)


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
    if isinstance(channels, str):
        channels = (channels,)
    missing = [c for c in channels if c not in have]
    if missing:
        raise MissingBandError(f"channel(s) {missing} are not in Landslide4Sense; it has "
                               f"{', '.join(have)}")
    return [have.index(c) for c in channels]


def _as_float(images, name: str) -> np.ndarray:
    if images is None or isinstance(images, (str, bytes)):
        raise InvalidInputError(f"{name}={images!r}: give an array (..., channels), e.g. from "
                                "l4s.read_patch or l4s.load_patches")
    try:
        return np.asarray(images, np.float32)
    except (TypeError, ValueError) as err:  # ragged lists, strings
        raise InvalidInputError(f"{name} cannot be read as a float array ({err}): give one "
                                "numeric array of shape (..., channels)") from err


def _fill_non_finite(x: np.ndarray, fill: np.ndarray, channels: Sequence[str]) -> None:
    """Fill NaN/inf of ``x`` (..., y, x, c) in place with ``fill`` (c,), saying so.

    A patch with no finite value in a channel is refused: there is nothing to fill from.
    """
    bad = ~np.isfinite(x)
    if not bad.any():
        return
    spatial = (-3, -2) if x.ndim >= 3 else tuple(range(x.ndim - 1))
    empty = np.argwhere(bad.all(axis=spatial))
    if empty.size:
        where = [int(i) for i in empty[0][:-1]] or [0]
        raise NoValidDataError(f"patch {where[0] if len(where) == 1 else tuple(where)} has no "
                               f"finite value in channel "
                               f"{channels[empty[0][-1]]!r}: drop that patch (it holds no data)")
    warnings.warn(f"{int(bad.sum())} NaN or infinite value(s) ({bad.mean():.2%} of the values) "
                  "set to the channel's mean in the real files (bands.L4S_FILE_MEAN, normalised)",
                  stacklevel=3)
    x[bad] = np.broadcast_to(fill, x.shape)[bad]


def normalise(images: np.ndarray, *, channels: Sequence[str] = SEED001_CHANNELS) -> np.ndarray:
    """The official per-channel normalisation ``(x - mean) / std``, then keep ``channels``.

    ``mean`` and ``std`` are the official baseline's constants (:data:`bands.L4S_MEAN`), as the
    official code uses them; they are not the statistics of the files, so normalised real
    patches are not mean 0, std 1 (:func:`normalised_moments` gives what they are).

    Parameters
    ----------
    images : ndarray
        (..., 14) in Landslide4Sense file units (one patch (y, x, 14) or a stack (n, y, x, 14)).
    channels : sequence of str
        Channels to keep, in this order (default: seed 001's six).

    Returns
    -------
    ndarray
        float32, (..., len(channels)). A constant channel (a flat DEM) stays constant. NaN or
        infinite values are set to the channel's mean in the real files, with a warning.

    Raises
    ------
    NoValidDataError
        A patch with no finite value in a kept channel (e.g. an all-NaN patch): drop it.
    """
    images = _as_float(images, "images")
    if images.ndim < 1 or images.shape[-1] != len(bands.L4S_CHANNELS):
        raise ShapeMismatchError(f"the last axis has {images.shape[-1:] or 'no'} channels, "
                                 "expected 14 (Landslide4Sense order); normalise before "
                                 "selecting channels")
    idx = channel_indices(channels)
    mean = np.asarray(bands.L4S_MEAN, np.float32)[idx]
    std = np.asarray(bands.L4S_STD, np.float32)[idx]
    x = images[..., idx]
    _fill_non_finite(x, np.asarray(bands.L4S_FILE_MEAN, np.float32)[idx], channels)
    return (x - mean) / std


class ChannelStats(NamedTuple):
    """Per-channel statistics of a stack of patches (:func:`channel_statistics`)."""

    mean: np.ndarray
    std: np.ndarray
    contrast: np.ndarray
    landslide_share: float


def channel_statistics(images: np.ndarray, masks: np.ndarray | None = None) -> ChannelStats:
    """Mean, std and landslide-versus-background contrast of each channel, over all pixels.

    Parameters
    ----------
    images : ndarray
        (n, y, x, c) in any units (file units or normalised); NaN ignored.
    masks : ndarray, optional
        (n, y, x) of 0/1, 1 = landslide.

    Returns
    -------
    ChannelStats
        ``mean`` and ``std`` (float64, (c,), pooled over every pixel of every patch),
        ``contrast`` ((mean over landslide pixels - mean over background) / std, (c,); NaN without
        masks or without landslide pixels) and ``landslide_share`` (0-1; NaN without masks).
    """
    images = _as_float(images, "images")
    if images.ndim != 4:
        raise ShapeMismatchError(f"images have shape {images.shape}: give a stack "
                                 "(n, y, x, channels)")
    flat = images.reshape(-1, images.shape[-1])
    ls = None if masks is None else _check_mask(np.asarray(masks), "masks").reshape(-1).astype(bool)
    if ls is not None and ls.size != flat.shape[0]:
        raise ShapeMismatchError(f"masks {np.shape(masks)} do not match images {images.shape}")
    mean, std, contrast = (np.full(flat.shape[1], np.nan) for _ in range(3))
    for k in range(flat.shape[1]):  # one channel at a time in float64: bounded memory
        v = flat[:, k].astype(np.float64)
        mean[k], std[k] = np.nanmean(v), np.nanstd(v)
        if ls is not None and ls.any() and (~ls).any():
            contrast[k] = (np.nanmean(v[ls]) - np.nanmean(v[~ls])) / std[k]
    share = float("nan") if ls is None else float(ls.mean())
    return ChannelStats(mean, std, contrast, share)


def normalised_moments(channels: Sequence[str] = SEED001_CHANNELS, *,
                       reference: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std that normalised training patches have.

    Parameters
    ----------
    channels : sequence of str
        The channels, in order (default: seed 001's six).
    reference : ndarray, optional
        Normalised training images (n, y, x, len(channels)), e.g. from :func:`load_patches`:
        their own pooled moments. None: those of the real files (:data:`bands.L4S_FILE_MEAN`
        and ``L4S_FILE_STD`` through the official normalisation).

    Returns
    -------
    (mean, std)
        float64, (len(channels),), in normalised units.
    """
    idx = channel_indices(channels)
    if reference is None:
        official_mean, official_std = np.asarray(bands.L4S_MEAN), np.asarray(bands.L4S_STD)
        mean = (np.asarray(bands.L4S_FILE_MEAN) - official_mean) / official_std
        return mean[idx], (np.asarray(bands.L4S_FILE_STD) / official_std)[idx]
    ref = _as_float(reference, "reference")
    if ref.ndim < 2 or ref.shape[-1] != len(idx):
        raise ShapeMismatchError(f"reference has shape {ref.shape}: its last axis must hold the "
                                 f"{len(idx)} channels {list(channels)}, normalised (as "
                                 "load_patches gives them)")
    stats = channel_statistics(ref.reshape(1, -1, 1, len(idx)))
    flat_channels = [channels[k] for k in np.flatnonzero(~(stats.std > 0))]  # NaN or 0
    if flat_channels:
        raise InvalidInputError(f"reference channel(s) {flat_channels} are constant or empty: a "
                                "model cannot have learnt from them; check the training images")
    return stats.mean, stats.std


def _scene_layer(ds, name: str, when: str) -> np.ndarray:
    if name in ("slope", "dem"):
        if name not in ds:
            raise MissingBandError(f"the scene has no {name!r} layer (it has "
                                   f"{', '.join(map(str, ds.data_vars))}): load it with a DEM")
        return np.asarray(ds[name].values, np.float64)
    if when not in ds:
        raise InvalidInputError(f"when={when!r}: the scene has no such image; use 'pre' or 'post'")
    have = [str(b) for b in ds[when]["band"].values]
    if name not in have:
        raise MissingBandError(f"band {name!r} is not in the scene's {when!r} image (it has "
                               f"{', '.join(have)}); Landslide4Sense channels beyond these (B10 "
                               "is L1C only) cannot be built from it: choose other channels")
    return np.asarray(ds[when].sel(band=name).values, np.float64)


def scene_channels(ds, *, when: str = "post", channels: Sequence[str] = SEED001_CHANNELS,
                   valid=None, reference: np.ndarray | None = None) -> np.ndarray:
    """A scene from ``data.load_scene`` as model input, moment-matched to the training data.

    The units of the Landslide4Sense files are the authors' own rescaling, documented
    nowhere as a formula from reflectance; so each channel of the new scene is standardised
    over its valid pixels and then given the mean and standard deviation that normalised
    training data have in that channel (:func:`normalised_moments`): by default those of the
    real files, or those of ``reference``, the training images of the model at hand. This is
    moment matching, itself a simple domain adaptation: it removes a difference of offset and
    spread per channel (other units, illumination, season), not a difference in the shape of the
    distributions or in how landslides look against their background.

    Parameters
    ----------
    ds : xarray.Dataset
        ``pre``/``post`` reflectance (band, y, x) and ``slope``, ``dem`` (y, x).
    when : str
        ``"post"`` or ``"pre"``.
    channels : sequence of str
        Landslide4Sense channel names (default: seed 001's six).
    valid : array of bool, optional
        (y, x) pixels to compute the scene's moments on (clouds and nodata out).
    reference : ndarray, optional
        Normalised training images (n, y, x, len(channels)) whose moments to match.

    Returns
    -------
    ndarray
        float32, (y, x, len(channels)); NaN set to the channel's target mean. A constant channel
        (a flat DEM) becomes that mean, with a warning.
    """
    target_mean, target_std = normalised_moments(channels, reference=reference)
    layers = []
    for k, name in enumerate(channels):
        arr = _scene_layer(ds, name, when)
        good = np.isfinite(arr) & (True if valid is None else np.asarray(valid, bool))
        if good.sum() < 2:
            raise NoValidDataError(f"channel {name!r} has fewer than 2 valid pixels: "
                                   "choose another scene or date")
        mean, std = arr[good].mean(), arr[good].std()
        if not std > 0:
            warnings.warn(f"channel {name!r} is constant over the scene: it is set to the "
                          "training data's mean and carries no information", stacklevel=2)
        z = (arr - mean) / std if std > 0 else np.zeros_like(arr)
        layers.append(np.nan_to_num(target_mean[k] + target_std[k] * z, nan=target_mean[k]))
    return np.stack(layers, axis=-1).astype(np.float32)


#: Seconds allowed for Zenodo's record and for the archive to start; the archive itself may take
#: ``timeout + size / 100 kB/s`` and must keep up 1 kB/s (:func:`s2slide.data.net.download`).
ZENODO_TIMEOUT_S = 30.0
_ZENODO_HINT = ("check the connection and run again, read the mirror's 15 real patches with "
                "load_patches(n, source='mirror'), or use source='simulated'")


def _zenodo_file(split: str, *, timeout: float) -> tuple[str, str, str, int | None]:
    """(url, 'md5:...', name, size in bytes) of ``split``'s zip in the Zenodo record.

    Raises
    ------
    NetworkUnavailableError
        Zenodo does not answer JSON within ``timeout`` seconds (connect + transfer).
    DownloadError
        The record holds no such zip.
    """
    from s2slide.data import net

    meta = net.get_json(ZENODO_API, what=f"Zenodo (Landslide4Sense record {ZENODO_RECORD})",
                        timeout=timeout, hint=_ZENODO_HINT)
    files = [f for f in (meta.get("files") if isinstance(meta, dict) else None) or []
             if isinstance(f, dict)]
    for f in files:
        key = str(f.get("key", ""))
        if split.lower() in key.lower() and key.lower().endswith(".zip"):
            try:
                return f["links"]["self"], f["checksum"], key, f.get("size")
            except (KeyError, TypeError):
                break
    held = ", ".join(str(f.get("key")) for f in files) or "no files"
    raise DownloadError(f"no {split!r} zip (with its address and checksum) in Zenodo record "
                        f"{ZENODO_RECORD}; it holds {held}. Zenodo may have changed its answer: "
                        "use source='mirror' or 'simulated'")


def _cached_archive(archive: Path, checksum: str) -> bool:
    """Whether ``archive`` is in the cache and matches ``checksum``; a damaged one is deleted."""
    from s2slide.data import net

    if not archive.is_file():
        return False
    if net.matches(archive, checksum):
        return True
    warnings.warn(f"{archive} does not match Zenodo's {checksum[:16]}... (a damaged copy); "
                  "downloading it again", stacklevel=3)
    archive.unlink()
    return False


def download(split: str = "train", *, n: int | None = None, progressbar: bool = True,
             timeout: float = ZENODO_TIMEOUT_S) -> Path:
    """Download a Landslide4Sense split from Zenodo (checksum checked) and unpack it.

    Every request is bounded (:mod:`s2slide.data.net`): the record within ``timeout`` seconds,
    the archive within ``timeout + size / 100 kB/s``, cut earlier if it averages under 1 kB/s.
    The archive goes to a temporary name in the cache folder and is renamed into place only
    complete and matching Zenodo's MD5; a temporary left by a killed run is removed by the next.

    Parameters
    ----------
    split : str
        ``"train"`` (3,799 patches), ``"valid"`` (245) or ``"test"`` (800).
    n : int, optional
        Unpack only the first ``n`` patches (by number): a subset for a quick start. The
        zip itself is downloaded whole, once, into the cache.
    progressbar : bool
        Show a tqdm progress bar while downloading.
    timeout : float
        Seconds allowed for Zenodo to answer (connect + transfer of the record, or the start
        of the archive).

    Returns
    -------
    Path
        A folder holding ``img/image_N.h5`` and ``mask/mask_N.h5``.

    Raises
    ------
    NetworkUnavailableError
        Offline, or Zenodo does not answer (or sends too slowly) in the time allowed.
    DownloadError
        An HTTP error, no such split in the record, a disk that cannot take the archive;
        :class:`~s2slide.errors.ChecksumError` for an archive that does not match its MD5.
    """
    from s2slide.data import net

    if config.offline():
        raise NetworkUnavailableError("S2SLIDE_OFFLINE is set, so Landslide4Sense is not "
                                      "downloaded: unset it, or use source='simulated'")
    url, checksum, name, size = _zenodo_file(split, timeout=timeout)
    folder = config.cache_dir() / "landslide4sense"
    archive = folder / name
    if not _cached_archive(archive, checksum):
        net.download(url, archive, what=f"Zenodo's Landslide4Sense archive {name}",
                     timeout=timeout, size=size, checksum=checksum, progress=progressbar,
                     attempts=2, hint=_ZENODO_HINT)
    out = folder / f"{split}_{n or 'all'}"
    _unpack(archive, out, n=n)
    return out


def _unpack(archive: Path, out: Path, *, n: int | None) -> None:
    """Extract the first ``n`` patches (all if None), each file written whole or not at all."""
    pattern = re.compile(r"(?:^|/)(img/image|mask/mask)_(\d+)\.h5$")
    with zipfile.ZipFile(archive) as zf:
        members = [(m, pattern.search(m)) for m in zf.namelist()]
        members = [(m, g) for m, g in members if g]
        numbers = sorted({int(g.group(2)) for _, g in members})
        keep = set(numbers[:n] if n else numbers)
        for sub in ("img", "mask"):
            (out / sub).mkdir(parents=True, exist_ok=True)
            files.clean_stale(out / sub)  # once per folder, not once per file
        for member, g in members:
            target = out / f"{g.group(1)}_{g.group(2)}.h5"
            if int(g.group(2)) in keep and not target.exists():
                files.write_bytes(target, zf.read(member), clean=False)


def read_patches(pairs: Sequence[tuple[str | Path, str | Path]], *,
                 channels: Sequence[str] = SEED001_CHANNELS,
                 raw: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Read (image, mask) file pairs with :func:`read_patch` and normalise them.

    Returns images float32 (n, 128, 128, len(channels)), officially normalised (``raw=True``:
    all 14 channels in file units, ``channels`` ignored), and masks uint8 (n, 128, 128).
    """
    pairs = list(pairs)
    if not pairs:
        raise InvalidInputError("no patch to read: give (image_path, mask_path) pairs")
    depth = len(bands.L4S_CHANNELS) if raw else len(channels)
    images = np.empty((len(pairs), *PATCH_SHAPE[:2], depth), np.float32)
    masks = np.empty((len(pairs), *PATCH_SHAPE[:2]), np.uint8)
    for i, (image_path, mask_path) in enumerate(pairs):
        img, masks[i] = read_patch(image_path, mask_path)
        images[i] = img if raw else normalise(img, channels=channels)
    return images, masks


def _numbered_images(folder: Path) -> dict[int, Path]:
    """``img/image_N.h5`` of ``folder`` by N; other files there are named in a warning."""
    found, others = {}, []
    for path in sorted((folder / "img").glob("*")):
        m = _IMAGE_NAME.match(path.name)
        if m and path.is_file():
            found[int(m.group(1))] = path
        else:
            others.append(path.name)
    if others:
        more = ", ..." if len(others) > 5 else ""
        warnings.warn(f"{folder / 'img'}: ignored {len(others)} file(s) not named image_N.h5 "
                      f"({', '.join(others[:5])}{more})", stacklevel=3)
    return found


def read_folder(folder: str | Path, *, n: int | None = None,
                channels: Sequence[str] = SEED001_CHANNELS, exclude: Sequence[int] = (),
                raw: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Read and normalise the patches of a folder (``img/``, ``mask/``), sorted by number.

    Files in ``img/`` not named ``image_N.h5`` (``image_1 (copy).h5``) are skipped with a
    warning. Patch numbers in ``exclude`` are left out (e.g. :data:`SAMPLE_IDS`, to keep the
    mirror's real sample out of a training set). Returns images float32
    (n, 128, 128, len(channels)) and masks uint8 (n, 128, 128), as :func:`read_patches`.

    Raises
    ------
    MissingFileError
        No ``img/image_N.h5``, or images without their ``mask/mask_N.h5``.
    """
    folder = Path(folder)
    numbered = _numbered_images(folder)
    if not numbered:
        raise MissingFileError(f"no img/image_N.h5 in {folder}: download first (l4s.download)")
    ids = [i for i in sorted(numbered) if i not in set(exclude)][:n or None]
    no_mask = [i for i in ids if not (folder / "mask" / f"mask_{i}.h5").is_file()]
    if no_mask:
        raise MissingFileError(
            f"{folder}: {len(no_mask)} of {len(ids)} images have no mask/mask_N.h5 (e.g. "
            f"mask_{no_mask[0]}.h5): put the masks beside the images, or read images without "
            "labels one by one with l4s.read_patch(path) (Landslide4Sense's validation and test "
            "splits were first published without masks)")
    pairs = [(numbered[i], folder / "mask" / f"mask_{i}.h5") for i in ids]
    return read_patches(pairs, channels=channels, raw=raw)


def sample_pairs(*, progressbar: bool = False) -> list[tuple[Path, Path]]:
    """(image, mask) paths of the 15 real sample patches, through :mod:`s2slide.data.registry`.

    Each file comes from the local mirror (``S2SLIDE_MIRROR``), the cache, or its public
    address (a GitHub raw URL pinned to a commit), and is checked against its SHA-256.
    Ids :data:`SAMPLE_IDS`; 13 of the 15 hold landslide pixels.
    """
    return [(registry.fetch(f"{SAMPLE_FOLDER}/img/image_{i}.h5", progressbar=progressbar),
             registry.fetch(f"{SAMPLE_FOLDER}/mask/mask_{i}.h5", progressbar=progressbar))
            for i in SAMPLE_IDS]


def _simulated(n: int, *, seed: int, channels, landscapes) -> tuple[np.ndarray, np.ndarray, str]:
    from s2slide.data import simulate

    raw, masks = simulate.l4s_patches(n, seed=seed, landscapes=landscapes)
    names = simulate._check_landscapes(landscapes)  # a plain "luding" is one name
    where = f"{' + '.join(names)} landscape, " if names else ""
    label = (f"simulated Landslide4Sense-format patches ({where}s2slide.data.simulate, "
             f"seed {seed}), {n} patches")
    return normalise(raw, channels=channels), masks, label


def load_patches(n: int, *, source: str = "auto", seed: int = 0,
                 channels: Sequence[str] = SEED001_CHANNELS,
                 landscapes: Sequence[str] | None = None,
                 exclude: Sequence[int] = ()) -> tuple[np.ndarray, np.ndarray, str]:
    """``n`` normalised patches: real from Zenodo or the mirror, or simulated.

    ``source``: ``"live"`` downloads the training split from Zenodo (errors raised);
    ``"auto"`` does so when online and falls back to simulated patches, saying why, when the
    download fails (no network, an HTTP error, a bad checksum) or offline; ``"mirror"`` reads
    the 15 real sample patches of the mirror (:func:`sample_pairs`; at most 15);
    ``"simulated"`` makes them with :func:`s2slide.data.simulate.l4s_patches`.

    ``landscapes`` chooses the simulated landscapes; leave the transfer target out of them, as
    the real Landslide4Sense regions leave it out. ``exclude`` leaves patch numbers out of the
    Zenodo patches: pass :data:`SAMPLE_IDS` to keep the mirror's sample (training patches of
    the same split, by their official file names) out of a training set scored on it.

    Returns
    -------
    images : ndarray
        float32, (n, 128, 128, len(channels)), officially normalised.
    masks : ndarray
        uint8, (n, 128, 128).
    label : str
        Where they come from, for figure titles (``"... simulated ..."`` offline).
    """
    if source not in ("auto", "live", "mirror", "simulated"):
        raise InvalidInputError(f"source={source!r}: use 'auto', 'live', 'mirror' or 'simulated'")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InvalidInputError(f"n={n!r}: ask for at least one patch, e.g. load_patches(200)")
    if source == "mirror":
        if n > len(SAMPLE_IDS):
            warnings.warn(f"n={n}: the mirror holds {len(SAMPLE_IDS)} real patches; reading all "
                          "of them (source='auto' online downloads the whole training split)",
                          stacklevel=2)
        images, masks = read_patches(sample_pairs()[:n], channels=channels)
        return images, masks, f"real Landslide4Sense patches ({len(images)}, mirror)"
    if source == "live" or (source == "auto" and not config.offline()):
        try:
            folder = download("train", n=n + len(set(exclude)))
            images, masks = read_folder(folder, n=n, channels=channels, exclude=exclude)
            label = f"Landslide4Sense training patches (Zenodo), {len(images)} patches"
            return images, masks, label
        except (NetworkUnavailableError, DownloadError) as err:  # no network, HTTP, checksum
            if source == "live":
                raise
            print(f"Landslide4Sense download failed ({type(err).__name__}: {err}); "
                  "using simulated patches")
    return _simulated(n, seed=seed, channels=channels, landscapes=landscapes)


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
