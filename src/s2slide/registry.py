"""The mirror: a registry of the course's real sample files, each by public address and SHA-256.

The files themselves are never copied into the course repository. :func:`fetch` finds a file

1. in the local mirror folder named by ``S2SLIDE_MIRROR`` (:func:`s2slide.config.mirror_dir`;
   the book build and the tests point it at ``../shared/data``), checking its SHA-256 there too;
2. else in the download cache ``<S2SLIDE_CACHE>/mirror`` (checked, re-downloaded if it does not
   match);
3. else downloads it with :mod:`pooch` from its public address (a GitHub raw URL pinned to a
   commit, so the bytes never change) and checks it.

Offline (``S2SLIDE_OFFLINE`` or ``CI``) step 3 raises :class:`~s2slide.errors.NetworkUnavailableError`
saying how to point ``S2SLIDE_MIRROR`` at a copy.

Every file keeps its source's licence and attribution: :data:`SOURCES`, :func:`info`.
Introduced in chapter 1; the data page of the book lists every entry.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from s2slide import config
from s2slide.errors import (ChecksumError, DownloadError, InvalidInputError,
                            NetworkUnavailableError)

__all__ = ["SOURCES", "FILES", "Source", "MirrorFile", "url", "info", "fetch", "sha256",
           "create_pooch", "verify"]


@dataclass(frozen=True)
class Source:
    """A public repository that holds some of the sample files, pinned to one commit."""

    repo: str
    commit: str
    licence: str
    attribution: str
    citation: str = ""


@dataclass(frozen=True)
class MirrorFile:
    """One registered file: its SHA-256, size (bytes), source key and path in the source repo."""

    sha256: str
    size: int
    source: str
    remote_path: str


_S2 = "Contains modified Copernicus Sentinel data {year}"

SOURCES: dict[str, Source] = {
    "iburi": Source(
        "ChenyuZhang16/landslide-mapping-with-cnn", "c2b36ca13f1d56af772960fadeeecc86824ac06c",
        "MIT (c) 2021 ChenyuZhang16",
        "Iburi 2018 Sentinel-2 B2/B3/B4 and DSM/slope from ChenyuZhang16/landslide-mapping-with-cnn "
        "(MIT). " + _S2.format(year=2018) + ".",
        "Zhang C., landslide-mapping-with-cnn (GitHub, 2021)"),
    "kaikoura-diff": Source(
        "mhscience/landslides_detection", "9f93913a2f79e5eb72bad0634edd0214be895221",
        "MIT (c) 2019 mhscience",
        "Kaikoura 2016 change rasters and labels from mhscience/landslides_detection (MIT). "
        + _S2.format(year=2016) + ".",
        "mhscience, landslides_detection (GitHub, 2019)"),
    "kaikoura-points": Source(
        "loreabad6/KaikouraDammedLakes_public", "4f6db50bc3c332c46c4818628fa01fee7b414e32",
        "MIT (c) 2020 Lorena Abad; points from the GNS Science landslide catalogue",
        "Kaikoura 2016 landslide points via loreabad6/KaikouraDammedLakes_public (MIT), "
        "from the GNS Science landslide catalogue.",
        "Abad L., KaikouraDammedLakes_public (GitHub, 2020)"),
    "mesetas": Source(
        "links-ads/igarss-landslide-delineation", "883099a20073fab69f420d051535c18812d1bd2f",
        "MIT (c) 2024 AI, Data & Space (LINKS Foundation); inventory from USGS ScienceBase",
        "Mesetas 2019 landslide polygons via links-ads/igarss-landslide-delineation (MIT); "
        "inventory: Garcia-Delgado et al. (2021), USGS ScienceBase.",
        "Garcia-Delgado H. et al. (2021), USGS ScienceBase"),
    "bhuyan": Source(
        "kushanavbhuyan/Large-scale-multi-spatiotemporal-landslide-mapping",
        "70f7637c6eaedc0afd73d9c7791a717a891c5f58", "MIT (c) 2022 Kushanav Bhuyan",
        "Multi-temporal landslide inventories by Bhuyan et al. (2023), "
        "kushanavbhuyan/Large-scale-multi-spatiotemporal-landslide-mapping (MIT).",
        "Bhuyan K. et al. (2023), Scientific Reports 13, 162"),
}

_KD = "datasets/input/"
_JP = "Japan_data/"
_MT = "Multi-Temporal Inventories/"
#: Every real sample file: relative path in the mirror -> checksum, size, source, remote path.
#: Checksums and sizes are those of shared/data/README.md (tests compare them).
FILES: dict[str, MirrorFile] = {
    "iburi-2018/LICENSE": MirrorFile(
        "a752aef3b1d02224add79cee8aea9528a9ecc8d0a6dc795e9484c77593b10503", 1070, "iburi", "LICENSE"),
    "iburi-2018/download.DSM.tif": MirrorFile(
        "36a9dbb41cea83dd7d61ae9fa8280f8a2f4533cbad55a2c4969011ec09155d29", 158631, "iburi",
        _JP + "dem/download.DSM.tif"),
    "iburi-2018/download.hillshade.tif": MirrorFile(
        "a7234438ed4af5d0c5670432262495118aebae7f6a1489ab3b2fb804c21f2d9c", 131171, "iburi",
        _JP + "hs/download.hillshade.tif"),
    "iburi-2018/download.slope.tif": MirrorFile(
        "c1bb63a750d4f61242561f4545df2204410ca80f509c206dab8b71299b3e396d", 464681, "iburi",
        _JP + "slope/download.slope.tif"),
    "iburi-2018/post-event/download.B2.tif": MirrorFile(
        "4dfd27bf147262e30b32673724df88ab16a85674a956cf07dcbfb82fe2c3f96b", 1689602, "iburi",
        _JP + "post-event/download.B2.tif"),
    "iburi-2018/post-event/download.B3.tif": MirrorFile(
        "72971b798b7428d801b3c434b9f08d0a0f8fa0f6a2f9b0d60346626270882c43", 1813795, "iburi",
        _JP + "post-event/download.B3.tif"),
    "iburi-2018/post-event/download.B4.tif": MirrorFile(
        "c6823eb833e931ab26be226e2c48d16b1c6b19751ee7d66a235b84009322de26", 1912717, "iburi",
        _JP + "post-event/download.B4.tif"),
    "iburi-2018/pre-event/download.B2.tif": MirrorFile(
        "3aa8158dbb56becdfed55d058eb4ca996aec8dfaafbc3b22ce20af9da9279fa0", 1034925, "iburi",
        _JP + "pre-event/download.B2.tif"),
    "iburi-2018/pre-event/download.B3.tif": MirrorFile(
        "417c0af88bc35aa10c1c52d26116ee636cc6b0e043af5aa1cb62d56c376811b2", 1066155, "iburi",
        _JP + "pre-event/download.B3.tif"),
    "iburi-2018/pre-event/download.B4.tif": MirrorFile(
        "6fa22029e5e9a461e03a66069ef8d28cbc44f3d050b3c74c33ef71cb647238d4", 1117257, "iburi",
        _JP + "pre-event/download.B4.tif"),
    "inventories/bhuyan-2023/China.zip": MirrorFile(
        "3ef18e90513659ca5f5a8b5e9dd6f33723fba6e1ec8beef2ee32f52aa7f552ef", 3627886, "bhuyan",
        _MT + "China.zip"),
    "inventories/bhuyan-2023/LICENSE.md": MirrorFile(
        "f141c48639cad870f023ac03077adc477b99c67a4d539e475e8cc82fbab00f05", 1072, "bhuyan",
        "LICENSE.md"),
    "inventories/bhuyan-2023/Nepal.zip": MirrorFile(
        "cfa2f4aa5e120bfc3024db1a7d078955a31c2c99ee67bb69f4f3daa92b3acc67", 279761, "bhuyan",
        _MT + "Nepal.zip"),
    "inventories/bhuyan-2023/PNG.zip": MirrorFile(
        "9dc9bff5aaa7934899d1358b22a113f4eb586254379fb8ca48cdd0a8d9d0c59d", 1644986, "bhuyan",
        _MT + "PNG.zip"),
    "inventories/mesetas-2019/LICENSE": MirrorFile(
        "863b4b25dfcc84b3b1a4b88d3009f4b4673129bcaa74fce514e9b05d1de078fc", 1073, "mesetas",
        "LICENSE"),
    "inventories/mesetas-2019/colombia_landslides.gpkg": MirrorFile(
        "c55da5d5d5c72dd6eed2ad1173ce261a3b1eb4080b17b04ba7a49e1a2e04d29f", 2260992, "mesetas",
        "inventories/colombia_landslides.gpkg"),
    "kaikoura-2016/LICENSE-KaikouraDammedLakes_public": MirrorFile(
        "1b9c4e8d88e565a6b8bed7d7ee3e1d68a4b5277be553929ee81a448d15ff7d94", 1078,
        "kaikoura-points", "LICENSE"),
    "kaikoura-2016/LICENSE-landslides_detection": MirrorFile(
        "1bdccd327d49fbec449434dcb89f7162ed846f1b994a3393ee855badd3c35062", 1066, "kaikoura-diff",
        "LICENSE"),
    "kaikoura-2016/Landslides_Kaikoura_2016.kmz": MirrorFile(
        "764162430d47d7c3b782885db9f8378cecb5c074773ccd20b26d16211bc542c5", 102479,
        "kaikoura-points", "ref_data/Landslides_Kaikoura_2016.kmz"),
    "kaikoura-2016/diff_landslide_69.tif": MirrorFile(
        "9150add17191f5731af94242fd613aa5dc06a3b08d9482942d959e0e84fc061a", 3765575, "kaikoura-diff",
        _KD + "satellite_imagery/image_difference/diff_landslide_69.tif"),
    "kaikoura-2016/diff_landslide_70.tif": MirrorFile(
        "f7fe3800efe2b4170075539bb032e89e561422b227e89ca6ceae1ebe5db9b4dd", 3638333, "kaikoura-diff",
        _KD + "satellite_imagery/image_difference/diff_landslide_70.tif"),
    "kaikoura-2016/label_landslide_69.dbf": MirrorFile(
        "6e7578dfb680b0f10c154dc02a0d0c4a9ca8290f74c9ce83ee00b4de01149a47", 132, "kaikoura-diff",
        _KD + "labels_shp/label_landslide_69.dbf"),
    "kaikoura-2016/label_landslide_69.prj": MirrorFile(
        "d32c3b073f84a3888dd6fcbeaacfc3cffe2b7b7aba8f7664250f696c5bba0b48", 397, "kaikoura-diff",
        _KD + "labels_shp/label_landslide_69.prj"),
    "kaikoura-2016/label_landslide_69.shp": MirrorFile(
        "e1f71af4e1908c642410ea444d3c647738a83aa380e0b495e5c38e4f7c81a129", 1188, "kaikoura-diff",
        _KD + "labels_shp/label_landslide_69.shp"),
    "kaikoura-2016/label_landslide_69.shx": MirrorFile(
        "46bf1bcfa67e858c8ee77deba4d86743fa561d8e3d69a868c23bdd85f982fe21", 148, "kaikoura-diff",
        _KD + "labels_shp/label_landslide_69.shx"),
    "kaikoura-2016/label_landslide_70.dbf": MirrorFile(
        "2eaaad074af3f1750fcaec268a56c8f380791b51f97030db03df691376c57bd9", 165, "kaikoura-diff",
        _KD + "labels_shp/label_landslide_70.dbf"),
    "kaikoura-2016/label_landslide_70.prj": MirrorFile(
        "d32c3b073f84a3888dd6fcbeaacfc3cffe2b7b7aba8f7664250f696c5bba0b48", 397, "kaikoura-diff",
        _KD + "labels_shp/label_landslide_70.prj"),
    "kaikoura-2016/label_landslide_70.shp": MirrorFile(
        "2691bfe8209f9912fee25b01ac2cbd795bb2db4f244f2fcd24cc4bf38d3ae7d9", 1372, "kaikoura-diff",
        _KD + "labels_shp/label_landslide_70.shp"),
    "kaikoura-2016/label_landslide_70.shx": MirrorFile(
        "bd6359160e65b90324c4bcc31d0bde93f3211853a9df85e46d86652590aeaa92", 172, "kaikoura-diff",
        _KD + "labels_shp/label_landslide_70.shx"),
}


def _entry(relpath: str) -> MirrorFile:
    try:
        return FILES[relpath]
    except KeyError:
        folders = sorted({p.split("/")[0] for p in FILES})
        raise InvalidInputError(
            f"{relpath!r} is not a registered sample file; registered folders: "
            f"{', '.join(folders)} (see s2slide.registry.FILES for every path)") from None


def url(relpath: str) -> str:
    """Public address of a registered file: a GitHub raw URL pinned to a commit (spaces encoded)."""
    entry = _entry(relpath)
    src = SOURCES[entry.source]
    return (f"https://raw.githubusercontent.com/{src.repo}/{src.commit}/"
            f"{quote(entry.remote_path)}")


def info(relpath: str) -> dict[str, str]:
    """Where a file comes from: public address, repository@commit, licence, attribution, sha256."""
    entry = _entry(relpath)
    src = SOURCES[entry.source]
    return {"file": relpath, "url": url(relpath), "repository": f"{src.repo}@{src.commit}",
            "path": entry.remote_path, "licence": src.licence, "attribution": src.attribution,
            "citation": src.citation, "sha256": entry.sha256}


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, relpath: str) -> None:
    """Raise :class:`ChecksumError` unless ``path`` has the registered SHA-256 of ``relpath``."""
    expected = _entry(relpath).sha256
    found = sha256(path)
    if found != expected:
        raise ChecksumError(
            f"{path} does not match the registered SHA-256 of {relpath!r} "
            f"(expected {expected[:12]}..., found {found[:12]}...): the copy is corrupted or "
            f"changed; delete it and fetch it again from {url(relpath)}")


def create_pooch():
    """A :class:`pooch.Pooch` over every registered file, caching in ``<cache_dir>/mirror``."""
    import pooch

    return pooch.create(path=config.cache_dir() / "mirror", base_url="",
                        registry={p: f"sha256:{e.sha256}" for p, e in FILES.items()},
                        urls={p: url(p) for p in FILES}, retry_if_failed=2)


def _from_mirror(relpath: str) -> Path | None:
    folder = config.mirror_dir()
    if folder is None or not (folder / relpath).is_file():
        return None
    path = folder / relpath
    verify(path, relpath)
    return path


def _cached(relpath: str) -> Path | None:
    """The cached download if it is intact; a tampered one is deleted (with a warning)."""
    path = config.cache_dir() / "mirror" / relpath
    if not path.is_file():
        return None
    try:
        verify(path, relpath)
        return path
    except ChecksumError as err:
        warnings.warn(f"{err}; fetching it again", stacklevel=3)
        path.unlink()
        return None


def fetch(relpath: str, *, progressbar: bool = True) -> Path:
    """Path of a verified local copy of a registered sample file (mirror, cache or download).

    Parameters
    ----------
    relpath : str
        Path relative to the mirror root, e.g. ``"kaikoura-2016/diff_landslide_69.tif"``.
    progressbar : bool
        Show a download progress bar (tqdm) when the file must be downloaded.

    Raises
    ------
    ChecksumError
        The copy in ``S2SLIDE_MIRROR`` or the download does not match the registered SHA-256.
    NetworkUnavailableError
        The file is in neither the mirror nor the cache and the course is offline.
    DownloadError
        The download failed.
    """
    found = _from_mirror(relpath) or _cached(relpath)
    if found is not None:
        return found
    if config.offline():
        raise NetworkUnavailableError(
            f"{relpath!r} is not in the local mirror ({config.mirror_dir() or 'S2SLIDE_MIRROR unset'}) "
            "and S2SLIDE_OFFLINE/CI forbids downloading it: set S2SLIDE_MIRROR to a folder holding "
            "the course's sample files (e.g. ../shared/data), or unset S2SLIDE_OFFLINE to download "
            f"it from {url(relpath)}")
    try:
        return Path(create_pooch().fetch(relpath, progressbar=progressbar))
    except ValueError as err:  # pooch: hash mismatch of the download
        raise ChecksumError(f"download of {relpath!r} from {url(relpath)} is corrupted: {err}") from err
    except Exception as err:  # requests' errors: connection, HTTP status
        raise DownloadError(
            f"could not download {relpath!r} from {url(relpath)} ({type(err).__name__}: {err}); "
            "check the network, or set S2SLIDE_MIRROR to a local copy of the sample files") from err
