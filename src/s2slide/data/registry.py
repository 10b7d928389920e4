"""The mirror: a registry of the course's real sample files, each by public address and SHA-256.

The files themselves are never copied into the course repository. :func:`fetch` finds a file

1. in the local mirror folder named by ``S2SLIDE_MIRROR`` (:func:`s2slide.config.mirror_dir`;
   the book build and the tests point it at ``../shared/data``), checking its SHA-256 there too;
2. else in the download cache ``<S2SLIDE_CACHE>/mirror`` (checked, re-downloaded if it does not
   match);
3. else downloads it from its public address (a GitHub raw URL pinned to a commit, so the bytes
   never change) into the cache: to a temporary name in the same folder
   (``<name>.<host>-<pid>-<random>.s2tmp``, :func:`s2slide.files.atomic`), checked, then renamed
   (:func:`s2slide.data.net.download`). A temporary left by a killed process is removed by the
   next fetch (:func:`s2slide.files.clean_stale`). The download has an overall deadline
   (``timeout + size / 100 kB/s``), not only a per-read timeout.

:data:`ONLINE_FILES` are public files the mirror does not hold and whose SHA-256 could not be
computed when they were registered (no copy could be fetched). They come by the same public
address; on the first download the file is checked against the Git blob id its repository's
tree records (when known), and its SHA-256 is recorded beside it in the cache (a *pin*,
``<file>.sha256``); every later use and download must match the pin.

Offline (``S2SLIDE_OFFLINE`` or ``CI``) step 3 raises :class:`~s2slide.errors.NetworkUnavailableError`
saying how to point ``S2SLIDE_MIRROR`` at a copy.

The cache folder keeps pooch's layout (:func:`create_pooch` describes the same registry for
those who use pooch), but the download itself is done here: pooch's downloader has only a
per-read timeout and leaves its ``tmpXXXX`` file behind when the process is killed.

Every file keeps its source's licence and attribution: :data:`SOURCES`, :func:`info`.
Introduced in chapter 1; the data page of the book lists every entry.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from s2slide import checks, config, files
from s2slide.errors import ChecksumError, InvalidInputError, NetworkUnavailableError

__all__ = ["SOURCES", "FILES", "ONLINE_FILES", "Source", "MirrorFile", "OnlineFile", "url", "info",
           "fetch", "sha256", "git_blob_sha1", "pinned_sha256", "create_pooch", "verify"]


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


@dataclass(frozen=True)
class OnlineFile:
    """A public file not in the mirror: SHA-256 unknown until the first download, then pinned.

    ``git_blob_sha1`` is the blob id of the file in its source repository's tree at the pinned
    commit (``git ls-tree``), which identifies its bytes; None when unknown.
    """

    source: str
    remote_path: str
    git_blob_sha1: str | None
    description: str


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
    "landslide4sense": Source(
        "CamDucLe/Landslide-Project-Sentinel2", "0af1ab6aecc1a8bdde0c704688d379e9fbe9aced",
        "CC BY 4.0 (Landslide4Sense, Ghorbanzadeh et al. 2022); the redistributing repository "
        "states no licence of its own",
        "Landslide4Sense training patches (Ghorbanzadeh et al. 2022, IEEE TGRS 60, Zenodo "
        "10.5281/zenodo.10463239, CC BY 4.0), as redistributed by "
        "CamDucLe/Landslide-Project-Sentinel2. " + _S2.format(year="2015-2021") + ".",
        "Ghorbanzadeh O. et al. (2022), IEEE TGRS 60, 4709817"),
    "luding-inventory": Source(
        "links-ads/igarss-landslide-delineation", "883099a20073fab69f420d051535c18812d1bd2f",
        "MIT (c) 2024 AI, Data & Space (LINKS Foundation); polygons from the open Luding "
        "inventories cited by Monopoli et al. (2024)",
        "Luding 2022 landslide polygons via links-ads/igarss-landslide-delineation (MIT), "
        "harmonised by Monopoli et al. (2024) from Zhang et al. (2023), Liu et al. (2023) and "
        "Huang et al. (2023, Earthquake Research Advances 3(1) 100181).",
        "Huang Y. et al. (2023), Earthquake Research Advances 3(1), 100181"),
    "l2a-29rkh": Source(
        "cogeotiff/rio-tiler-pds", "f8b93f3b9cbe2d94271f36d43a8878953aec2682",
        "BSD 3-Clause (c) 2017 Mapbox (cogeotiff/rio-tiler-pds)",
        "Sentinel-2 L2A tile 29RKH of 2020-02-19 (Cloud-Optimised GeoTIFFs downsampled 10x) and its "
        "Earth Search STAC item, test fixtures of cogeotiff/rio-tiler-pds (BSD 3-Clause). "
        + _S2.format(year=2020) + ".",
        "cogeotiff, rio-tiler-pds (GitHub), tests/fixtures"),
}

_KD = "datasets/input/"
_JP = "Japan_data/"
_MT = "Multi-Temporal Inventories/"
_L4S = "demo-code/data/"
_RKH = "tests/fixtures/sentinel-cogs/sentinel-s2-l2a-cogs/29/R/KH/2020/2/S2A_29RKH_20200219_0_L2A/"
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
    "l2a-29RKH-2020/AOT.tif": MirrorFile(
        "efd3e0a7993959b7f85cc2a5c13122ac008433b4063c894b34eb41c993a822ab", 4108, "l2a-29rkh",
        _RKH + 'AOT.tif'),
    "l2a-29RKH-2020/B01.tif": MirrorFile(
        "68ab325dabae57b3bb7797b9b1dbd4246fd583a97964c729e391891b80ffe72d", 62941, "l2a-29rkh",
        _RKH + 'B01.tif'),
    "l2a-29RKH-2020/B02.tif": MirrorFile(
        "b71f92be3aabdcf05247b72f43cbb2491737dcf7f4624d1016a38f2c48658f42", 2251637, "l2a-29rkh",
        _RKH + 'B02.tif'),
    "l2a-29RKH-2020/B03.tif": MirrorFile(
        "6682575d3714324b78f0128d8c066b3c5109d5459db1b6b13972588740946dfc", 2320211, "l2a-29rkh",
        _RKH + 'B03.tif'),
    "l2a-29RKH-2020/B04.tif": MirrorFile(
        "03d15e216bdc97fce93f6067bb4699dc58a89205ac2b169e0be7c51946aaff47", 2381555, "l2a-29rkh",
        _RKH + 'B04.tif'),
    "l2a-29RKH-2020/B05.tif": MirrorFile(
        "aeb4ccb050e7b432c60c11f8139431835d40e53ce2d448f8a00afb5b1ee644e6", 578001, "l2a-29rkh",
        _RKH + 'B05.tif'),
    "l2a-29RKH-2020/B06.tif": MirrorFile(
        "18726034ad80fab3839b658f3fb45f9ccb488a6359f59feb22e7d4d1251af90b", 579162, "l2a-29rkh",
        _RKH + 'B06.tif'),
    "l2a-29RKH-2020/B07.tif": MirrorFile(
        "524fd79deee5c5c98dcd9155d077c7690705f718b2d8405354eb5f0a7d7815ea", 579954, "l2a-29rkh",
        _RKH + 'B07.tif'),
    "l2a-29RKH-2020/B08.tif": MirrorFile(
        "87949addca5d82a8da80a7d9d1a4e81df2b083ca9b2e92954d9a1c473b5a7a1b", 2416718, "l2a-29rkh",
        _RKH + 'B08.tif'),
    "l2a-29RKH-2020/B09.tif": MirrorFile(
        "6a61d16fc6bfe4badc533839baf844970badecd3903e67662cf69d8f4b6b3081", 67036, "l2a-29rkh",
        _RKH + 'B09.tif'),
    "l2a-29RKH-2020/B11.tif": MirrorFile(
        "b347d37a30aee947edd044cae80eaf0214c2751520cff4f26b6e4bf1b76155aa", 588442, "l2a-29rkh",
        _RKH + 'B11.tif'),
    "l2a-29RKH-2020/B12.tif": MirrorFile(
        "06b808fa8e5b53b3cadd1a5713bd9c58e52083ff2473285fadbdcbffc22640c0", 586447, "l2a-29rkh",
        _RKH + 'B12.tif'),
    "l2a-29RKH-2020/B8A.tif": MirrorFile(
        "74d496a4274f3cb9dbf731ccd972ac68be5697b4019d2387655684488ae01594", 581064, "l2a-29rkh",
        _RKH + 'B8A.tif'),
    "l2a-29RKH-2020/L2A_PVI.tif": MirrorFile(
        "b275adf02d25f8deae22375a11147660961821a925529fa11b2b7e77234ddf72", 3038, "l2a-29rkh",
        _RKH + 'L2A_PVI.tif'),
    "l2a-29RKH-2020/LICENSE": MirrorFile(
        "06bf4922e45ceefcd44452decd9925d8c08949586103e65cded9bfe2e06a29c9", 1506, "l2a-29rkh",
        'LICENSE'),
    "l2a-29RKH-2020/S2A_29RKH_20200219_0_L2A.json": MirrorFile(
        "a85d8a3aa1eb74e7354273499d5dc7b026792a9449deb48a107147f2e88dd885", 20848, "l2a-29rkh",
        _RKH + 'S2A_29RKH_20200219_0_L2A.json'),
    "l2a-29RKH-2020/SCL.tif": MirrorFile(
        "12a5f0c708d36e0f61e18121178d1c9b1beae07bc0194e42e011763f4528d6d6", 8268, "l2a-29rkh",
        _RKH + 'SCL.tif'),
    "l2a-29RKH-2020/TCI.tif": MirrorFile(
        "d34e12705160627044827e3c52fcc7a58e930c0530e5009e048b2f4c0ed1ce4b", 2411195, "l2a-29rkh",
        _RKH + 'TCI.tif'),
    "l2a-29RKH-2020/WVP.tif": MirrorFile(
        "edeb56b4c0aa682458918e8951866a70d85f6afb0188248a915e9e72dc01e55d", 1688912, "l2a-29rkh",
        _RKH + 'WVP.tif'),
    "landslide4sense-sample/img/image_1.h5": MirrorFile(
        "05933f459b84368f046a6dacf4204528b470718754dd617dfb60755de50ecb6d", 1837056, "landslide4sense",
        _L4S + 'images/image_1.h5'),
    "landslide4sense-sample/img/image_16.h5": MirrorFile(
        "dcc0d69a8f730dd8940b71bca6b28a328d0ce7782f9bb96cad94e5049795a96b", 1837056, "landslide4sense",
        _L4S + 'images/image_16.h5'),
    "landslide4sense-sample/img/image_253.h5": MirrorFile(
        "c4081a3abd63410971eb10b612117e9302ea8b014d79ae513d3c3a389a8fe743", 1837056, "landslide4sense",
        _L4S + 'images/image_253.h5'),
    "landslide4sense-sample/img/image_27.h5": MirrorFile(
        "376e330b3bfbbd515205a072bdab073172865360d2dcc7c367e3ffab0f8ad643", 1837056, "landslide4sense",
        _L4S + 'images/image_27.h5'),
    "landslide4sense-sample/img/image_3.h5": MirrorFile(
        "47579a11a1475e26368b075b652e0996259ccf1b0b5b217edc40ecacb448e8ce", 1837056, "landslide4sense",
        _L4S + 'images/image_3.h5'),
    "landslide4sense-sample/img/image_300.h5": MirrorFile(
        "0db0d41bdf990b7dd11767c7e2601ee96486555ca73071fcc0d5ec570328bc7d", 1837056, "landslide4sense",
        _L4S + 'images/image_300.h5'),
    "landslide4sense-sample/img/image_38.h5": MirrorFile(
        "4ded8315587bd0a97fd1892d3a6331c54596b117faf81c1efd49d11de3260f72", 1837056, "landslide4sense",
        _L4S + 'images/image_38.h5'),
    "landslide4sense-sample/img/image_40.h5": MirrorFile(
        "8386e5f33e49790bb280dae5c107baa356b87d26ff96782f5104f71df6596785", 1837056, "landslide4sense",
        _L4S + 'images/image_40.h5'),
    "landslide4sense-sample/img/image_41.h5": MirrorFile(
        "94296cbd055981082b515ab37fa41f28c025aabd4c14f590256addd9cb05e69d", 1837056, "landslide4sense",
        _L4S + 'images/image_41.h5'),
    "landslide4sense-sample/img/image_45.h5": MirrorFile(
        "145124725c0f0b5d89101b2a555c5f3866742ad8281774718beac6a052c1962c", 1837056, "landslide4sense",
        _L4S + 'images/image_45.h5'),
    "landslide4sense-sample/img/image_461.h5": MirrorFile(
        "69631d55562beb5a04a03498a7ca7c28e205a5e8a3b5dbb6c29dbe86fbfe2a64", 1837056, "landslide4sense",
        _L4S + 'images/image_461.h5'),
    "landslide4sense-sample/img/image_525.h5": MirrorFile(
        "ca39664d24a4ae131b00ab07ca6b36c88380cb3c5545d935351ad71b34036dd4", 1837056, "landslide4sense",
        _L4S + 'images/image_525.h5'),
    "landslide4sense-sample/img/image_600.h5": MirrorFile(
        "c458509b4fc31a18f23baddb660d88f109f5519e9b854b424305483551f6e3b7", 1837056, "landslide4sense",
        _L4S + 'images/image_600.h5'),
    "landslide4sense-sample/img/image_72.h5": MirrorFile(
        "d8fbf77711e4e49e58872cd60b155d018e564fd8f4a76de4af12c595fe619074", 1837056, "landslide4sense",
        _L4S + 'images/image_72.h5'),
    "landslide4sense-sample/img/image_800.h5": MirrorFile(
        "318a35a400d9ed2d6c31237505435580c3eceea59144e3a37984eda127e34d9a", 1837056, "landslide4sense",
        _L4S + 'images/image_800.h5'),
    "landslide4sense-sample/mask/mask_1.h5": MirrorFile(
        "5ab8737ab1c08d51ace62c5d02a21b78944baf6dbc6f942f71cc07696319f8b6", 18432, "landslide4sense",
        _L4S + 'masks/mask_1.h5'),
    "landslide4sense-sample/mask/mask_16.h5": MirrorFile(
        "de8e3360501871618cb2998e31d0d22256b080a8b8a808ffc7b6052914eea12c", 18432, "landslide4sense",
        _L4S + 'masks/mask_16.h5'),
    "landslide4sense-sample/mask/mask_253.h5": MirrorFile(
        "02d3265872b3d0170ecaf94bcfd1cbe1a3da5bba0a8212c5f65207ce88b102c7", 18432, "landslide4sense",
        _L4S + 'masks/mask_253.h5'),
    "landslide4sense-sample/mask/mask_27.h5": MirrorFile(
        "dcec216e755bb997bf3915bb6e4a0262f9a5de5c974046b02dbfbc8c6d5b9ea6", 18432, "landslide4sense",
        _L4S + 'masks/mask_27.h5'),
    "landslide4sense-sample/mask/mask_3.h5": MirrorFile(
        "fc21e7ac2e5f0ae4551a97f9f97bd5d996eef7c6aedcbc312e15691b19be1bf0", 18432, "landslide4sense",
        _L4S + 'masks/mask_3.h5'),
    "landslide4sense-sample/mask/mask_300.h5": MirrorFile(
        "d9cf6adcca80c4126af916a9f382bed52f24daa0c527eb1fd46e179d1a5289bf", 18432, "landslide4sense",
        _L4S + 'masks/mask_300.h5'),
    "landslide4sense-sample/mask/mask_38.h5": MirrorFile(
        "a8843c09eeb2bb505986d8913a41187ef9aac23f5f772e1330237cd99fd76c16", 18432, "landslide4sense",
        _L4S + 'masks/mask_38.h5'),
    "landslide4sense-sample/mask/mask_40.h5": MirrorFile(
        "36cd0142eeaf8390b0e018f46115eaa4b2c9cebd489833c9ba7ebc3dc4d84967", 18432, "landslide4sense",
        _L4S + 'masks/mask_40.h5'),
    "landslide4sense-sample/mask/mask_41.h5": MirrorFile(
        "c501ebb932b6b0bb0251a6fb963e0289f747842c4265d1ba66fc9877aec25585", 18432, "landslide4sense",
        _L4S + 'masks/mask_41.h5'),
    "landslide4sense-sample/mask/mask_45.h5": MirrorFile(
        "3f55b487635c3ec1499f5836799aaca872041c537e57ab6443c41c7fe493915c", 18432, "landslide4sense",
        _L4S + 'masks/mask_45.h5'),
    "landslide4sense-sample/mask/mask_461.h5": MirrorFile(
        "8d4b324ec938dbff95f647c670a0cdd31ca64749f4f69874e14521ca4adcab08", 18432, "landslide4sense",
        _L4S + 'masks/mask_461.h5'),
    "landslide4sense-sample/mask/mask_525.h5": MirrorFile(
        "7b4e8ebc2a31ff22e997428b50c57d3a3f9950accecc57773ffdb06dc4bafa04", 18432, "landslide4sense",
        _L4S + 'masks/mask_525.h5'),
    "landslide4sense-sample/mask/mask_600.h5": MirrorFile(
        "b88f000b5ebba7ab8e7c7c2327c8b1092f4029aab7c521a3c037f332a79b6b97", 18432, "landslide4sense",
        _L4S + 'masks/mask_600.h5'),
    "landslide4sense-sample/mask/mask_72.h5": MirrorFile(
        "87e1ba8afb7cfc17a8873825411e89cc71061a662c8e1c765a9a7e655f2f115f", 18432, "landslide4sense",
        _L4S + 'masks/mask_72.h5'),
    "landslide4sense-sample/mask/mask_800.h5": MirrorFile(
        "75375875fa90d0426df93cfb52badf5f5a259faa46de2dd970a31b716fee6069", 18432, "landslide4sense",
        _L4S + 'masks/mask_800.h5'),
}


#: Public files the mirror lacks, SHA-256 pinned on first download (module docstring).
ONLINE_FILES: dict[str, OnlineFile] = {
    # Seed 004's Luding county inventory (8,194 polygons in its Table 1); listed in the
    # repository tree at the pinned commit as blob 336c87a3 (no .gitattributes: not Git LFS).
    "inventories/luding-2022/china_landslides.gpkg": OnlineFile(
        "luding-inventory", "inventories/china_landslides.gpkg",
        "336c87a338c3c880fd7a9ff9e32272e50deb00f6",
        "2022-09-05 Luding earthquake landslide polygons (seed 004's geodatabase)"),
}


def _entry(relpath: str) -> MirrorFile | OnlineFile:
    try:
        return FILES[relpath] if relpath in FILES else ONLINE_FILES[relpath]
    except KeyError:
        folders = sorted({p.split("/")[0] for p in (*FILES, *ONLINE_FILES)})
        raise InvalidInputError(
            f"{relpath!r} is not a registered sample file; registered folders: "
            f"{', '.join(folders)} (see s2slide.data.registry.FILES for every path)") from None


def url(relpath: str) -> str:
    """Public address of a registered file: a GitHub raw URL pinned to a commit (spaces encoded)."""
    entry = _entry(relpath)
    src = SOURCES[entry.source]
    return (f"https://raw.githubusercontent.com/{src.repo}/{src.commit}/"
            f"{quote(entry.remote_path)}")


def info(relpath: str) -> dict[str, str | None]:
    """Where a file comes from: public address, repository@commit, licence, attribution, sha256.

    For an :data:`ONLINE_FILES` entry ``sha256`` is the pin recorded on the first download, or
    None before it (``sha256_note`` says which).
    """
    entry = _entry(relpath)
    src = SOURCES[entry.source]
    out: dict[str, str | None] = {
        "file": relpath, "url": url(relpath), "repository": f"{src.repo}@{src.commit}",
        "path": entry.remote_path, "licence": src.licence, "attribution": src.attribution,
        "citation": src.citation}
    if isinstance(entry, MirrorFile):
        return out | {"sha256": entry.sha256, "sha256_note": "registered"}
    pin = pinned_sha256(relpath)
    note = (f"pinned on first download in {_pin_path(relpath)}" if pin else
            "unknown until the first download, which records it in the cache")
    return out | {"sha256": pin, "sha256_note": note, "git_blob_sha1": entry.git_blob_sha1}


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file (read in blocks by :func:`hashlib.file_digest`)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def git_blob_sha1(path: Path) -> str:
    """Git's blob id of a file: SHA-1 of ``b"blob <size>\\0"`` followed by the bytes."""
    header = f"blob {path.stat().st_size}\0".encode()
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, lambda: hashlib.sha1(header)).hexdigest()


def verify(path: Path, relpath: str) -> None:
    """Raise :class:`ChecksumError` unless ``path`` has the registered SHA-256 of ``relpath``."""
    if relpath in ONLINE_FILES:
        _verify_online(path, relpath)
        return
    expected = _entry(relpath).sha256
    found = sha256(path)
    if found != expected:
        raise ChecksumError(
            f"{path} does not match the registered SHA-256 of {relpath!r} "
            f"(expected {expected[:12]}..., found {found[:12]}...): the copy is corrupted or "
            f"changed; delete it and fetch it again from {url(relpath)}")


def _pin_path(relpath: str) -> Path:
    return config.cache_dir() / "mirror" / f"{relpath}.sha256"


def pinned_sha256(relpath: str) -> str | None:
    """The SHA-256 recorded on the first download of an :data:`ONLINE_FILES` entry, or None."""
    pin = _pin_path(relpath)
    return pin.read_text().split()[0] if pin.is_file() else None


def _verify_online(path: Path, relpath: str) -> None:
    """Check a copy against its pin, else against the source tree's blob id (ChecksumError)."""
    pin, blob = pinned_sha256(relpath), ONLINE_FILES[relpath].git_blob_sha1
    if pin is not None and sha256(path) != pin:
        raise ChecksumError(
            f"{path} does not match the SHA-256 pinned on the first download of {relpath!r} "
            f"({pin[:12]}..., in {_pin_path(relpath)}): delete the copy and fetch it again from "
            f"{url(relpath)}; if the source itself changed, delete the pin too")
    if pin is None and blob is not None and git_blob_sha1(path) != blob:
        raise ChecksumError(
            f"{path} is not the file of {url(relpath)}: its Git blob id is not the "
            f"{blob[:12]}... that the source repository's tree records; delete it and fetch again")


def _download_online(relpath: str, *, progressbar: bool, timeout: float) -> Path:
    """First (or repeated) download of an ONLINE_FILES entry: check it, pin its SHA-256.

    Downloaded atomically by :func:`s2slide.data.net.download` (no size or checksum known to
    it), then held to the pin (or, before one exists, to the source tree's blob id).
    """
    from s2slide.data import net

    path = net.download(url(relpath), config.cache_dir() / "mirror" / relpath,
                        what=f"the online file {relpath!r}", timeout=timeout, progress=progressbar,
                        attempts=2, hint="check the network and run again")
    try:
        _verify_online(path, relpath)
    except ChecksumError:
        path.unlink()
        raise
    if pinned_sha256(relpath) is None:
        files.write_text(_pin_path(relpath), f"{sha256(path)}  {url(relpath)}\n")
    return path


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


def fetch(relpath: str, *, progressbar: bool = True, timeout: float = 60.0) -> Path:
    """Path of a verified local copy of a registered sample file (mirror, cache or download).

    Parameters
    ----------
    relpath : str
        Path relative to the mirror root, e.g. ``"kaikoura-2016/diff_landslide_69.tif"``.
    progressbar : bool
        Show a download progress bar (tqdm) when the file must be downloaded.
    timeout : float
        Seconds allowed to connect and start; the whole download may take
        ``timeout + size / 100 kB/s`` seconds (:func:`s2slide.data.net.download`).

    Raises
    ------
    ChecksumError
        The copy in ``S2SLIDE_MIRROR`` or the download does not match the registered SHA-256.
    NetworkUnavailableError
        The file is in neither the mirror nor the cache and the course is offline, or the
        server does not answer (or sends too slowly) within the deadline.
    DownloadError
        The download failed otherwise (an HTTP error, a disk that cannot take the file).
    """
    checks.text("relpath", relpath, example="'kaikoura-2016/diff_landslide_69.tif'")
    found = _from_mirror(relpath) or _cached(relpath)
    if found is not None:
        return found
    if config.offline() and relpath in ONLINE_FILES:
        raise NetworkUnavailableError(
            f"{relpath!r} is not in the mirror; it is downloaded on first use from "
            f"{url(relpath)}, which needs the network: unset S2SLIDE_OFFLINE (and CI) to fetch it")
    if config.offline():
        raise NetworkUnavailableError(
            f"{relpath!r} is not in the local mirror ({config.mirror_dir() or 'S2SLIDE_MIRROR unset'}) "
            "and S2SLIDE_OFFLINE/CI forbids downloading it: set S2SLIDE_MIRROR to a folder holding "
            "the course's sample files (e.g. ../shared/data), or unset S2SLIDE_OFFLINE to download "
            f"it from {url(relpath)}")
    from s2slide.data import net

    if relpath in ONLINE_FILES:
        return _download_online(relpath, progressbar=progressbar, timeout=timeout)
    entry = _entry(relpath)
    return net.download(url(relpath), config.cache_dir() / "mirror" / relpath,
                        what=f"the sample file {relpath!r}", timeout=timeout, size=entry.size,
                        checksum=f"sha256:{entry.sha256}", progress=progressbar, attempts=2,
                        hint="check the network and run again, or set S2SLIDE_MIRROR to a folder "
                             "holding the course's sample files")
