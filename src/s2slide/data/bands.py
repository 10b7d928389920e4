"""Sentinel-2 band facts shared by every module (ESA Sentinel-2 User Handbook; FACTS.md).

``S2_L2A_BANDS`` lists the 12 bands of a Level-2A product in their usual order
(B10 cirrus exists only in L1C).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import NamedTuple


class Band(NamedTuple):
    name: str
    common_name: str
    centre_nm: int
    resolution_m: int


BANDS: dict[str, Band] = {b.name: b for b in (
    Band("B01", "coastal", 443, 60),
    Band("B02", "blue", 490, 10),
    Band("B03", "green", 560, 10),
    Band("B04", "red", 665, 10),
    Band("B05", "rededge1", 705, 20),
    Band("B06", "rededge2", 740, 20),
    Band("B07", "rededge3", 783, 20),
    Band("B08", "nir", 842, 10),
    Band("B8A", "nir08", 865, 20),
    Band("B09", "nir09", 945, 60),
    Band("B10", "cirrus", 1375, 60),
    Band("B11", "swir16", 1610, 20),
    Band("B12", "swir22", 2190, 20),
)}

#: The 12 bands of an L2A product, in order.
S2_L2A_BANDS: tuple[str, ...] = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A",
                                 "B09", "B11", "B12")
#: The bands seed 000 uses at 20 m: blue, green, red, narrow NIR, SWIR 1.
SEED000_BANDS: tuple[str, ...] = ("B02", "B03", "B04", "B8A", "B11")

#: Landslide4Sense channel order (FACTS.md): 12 Sentinel-2 bands (B1-B12 incl. B10, no B8A),
#: then slope (ALOS PALSAR), then DEM.
L4S_CHANNELS: tuple[str, ...] = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B09",
                                 "B10", "B11", "B12", "slope", "dem")
#: The official Landslide4Sense baseline's per-channel normalisation ``(x - L4S_MEAN) / L4S_STD``
#: (iarai/Landslide4Sense-2022). These are the baseline's constants, *not* the statistics of the
#: files (see :data:`L4S_FILE_MEAN`): normalised real patches have means of about 0.8-1.5 and
#: standard deviations of about 0.15-1, not 0 and 1. Kept because a model trained with the
#: official code expects its input normalised this way.
L4S_MEAN: tuple[float, ...] = (-0.4914, -0.3074, -0.1277, -0.0625, 0.0439, 0.0803, 0.0644, 0.0802,
                               0.3000, 0.4082, 0.0823, 0.0516, 0.3338, 0.7819)
L4S_STD: tuple[float, ...] = (0.9325, 0.8775, 0.8860, 0.8869, 0.8857, 0.8418, 0.8354, 0.8491,
                              0.9061, 1.6072, 0.8848, 0.9232, 0.9018, 1.2913)

#: What the real files hold, per channel (file units, pooled over every pixel): mean, standard
#: deviation, and the landslide-versus-background contrast ``(mean over landslide pixels - mean
#: over background pixels) / std``. Measured on the 15 real training patches of the mirror
#: (``landslide4sense-sample``: ids 1, 3, 16, 27, 38, 40, 41, 45, 72, 253, 300, 461, 525, 600, 800;
#: 245,760 pixels, 4,436 of them landslide) with
#: ``l4s.channel_statistics(*l4s.read_patches(l4s.sample_pairs(), raw=True))``; tests/test_l4s.py
#: recomputes them from the files. The one source of real statistics for the simulator
#: (``simulate.l4s_patches``) and the transfer (``l4s.scene_channels``). 15 patches from a few
#: regions: the full training set's values may differ (a full-mode run can measure its own).
L4S_FILE_MEAN: tuple[float, ...] = (0.8818, 0.8867, 0.9578, 0.9661, 1.087, 1.062, 1.028, 1.04,
                                    1.335, 1.768, 1.041, 1.055, 1.53, 2.667)
L4S_FILE_STD: tuple[float, ...] = (0.1484, 0.1979, 0.2684, 0.422, 0.3734, 0.3527, 0.3631, 0.3898,
                                   0.4291, 1.562, 0.4926, 0.6119, 0.5514, 1.071)
L4S_FILE_CONTRAST: tuple[float, ...] = (0.983, 1.85, 2.0, 2.7, 1.58, -0.202, -0.402, -0.443,
                                        -0.467, -0.242, 0.772, 1.66, 0.465, -0.0553)
#: Share of landslide pixels in the same 15 patches (0-1).
L4S_FILE_LANDSLIDE_SHARE = 0.01805

#: L2A digital numbers: reflectance = (DN + BOA_ADD_OFFSET) / QUANTIFICATION_VALUE.
QUANTIFICATION_VALUE = 10_000
#: BOA_ADD_OFFSET from processing baseline 04.00 (products from 2022-01-25) on; 0 before.
BOA_ADD_OFFSET_PB04 = -1000
PB04_START = "2022-01-25"

#: Every scene classification (SCL) class of an L2A product (ESA Sentinel-2 L2A product
#: specification; FACTS.md), for legends and tables. Which of them count as not clear is
#: :data:`SCL_INVALID`.
SCL_CLASSES: dict[int, str] = {0: "no data", 1: "saturated or defective",
                               2: "dark area / topographic shadow", 3: "cloud shadow",
                               4: "vegetation", 5: "not vegetated", 6: "water", 7: "unclassified",
                               8: "cloud medium probability", 9: "cloud high probability",
                               10: "thin cirrus", 11: "snow or ice"}

#: SCL classes that are *not* clear ground: the default mask of every tier (``scl_mask=``).
#: Snow (11) is masked: snow on either date hides the ground, and snow on the post date
#: alone lowers NDVI like a new scar (on the simulated Luding scene 58-76 % of such pixels
#: fall under dNDVI < -0.2). Dark area / topographic shadow (2) is *not* masked by default:
#: co-seismic landslides sit on the steep slopes that lie in shadow, so masking it deletes
#: real landslides along with false alarms (chapter 3 measures both); add it with
#: ``scl_mask={*SCL_INVALID, *SCL_SHADOW}``.
SCL_INVALID: dict[int, str] = {k: SCL_CLASSES[k] for k in (0, 1, 3, 8, 9, 10, 11)}
#: Dark area / topographic shadow: the optional addition to :data:`SCL_INVALID`.
SCL_SHADOW: dict[int, str] = {2: SCL_CLASSES[2]}


def scl_classes(scl_mask: Collection[int] | None = None) -> frozenset[int]:
    """The SCL codes to mask: ``scl_mask`` checked, or :data:`SCL_INVALID` when None.

    Raises InvalidInputError for anything but a collection of codes 0-11.
    """
    if scl_mask is None:
        return frozenset(SCL_INVALID)
    from s2slide.errors import InvalidInputError

    try:
        codes = frozenset(int(c) for c in scl_mask if float(c) == int(c))
        ok = len(codes) == len(set(scl_mask)) and codes <= set(SCL_CLASSES)
    except (TypeError, ValueError):
        ok = False
    if isinstance(scl_mask, (str, bytes)) or not ok:
        raise InvalidInputError(
            f"scl_mask={scl_mask!r}: give SCL codes 0-11 to mask, e.g. "
            "{*bands.SCL_INVALID, *bands.SCL_SHADOW} to add dark area / topographic shadow (codes: "
            + ", ".join(f"{k} {v}" for k, v in SCL_CLASSES.items()) + ")")
    return codes


def by_common_name(name: str) -> str:
    """Map a common name (``"red"``, ``"nir08"``) or a band name to the band name (``"B04"``)."""
    for band in BANDS.values():
        if name in (band.name, band.common_name):
            return band.name
    from s2slide.errors import MissingBandError

    raise MissingBandError(f"unknown Sentinel-2 band {name!r}; use one of {', '.join(BANDS)}")
