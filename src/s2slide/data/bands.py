"""Sentinel-2 band facts shared by every module (ESA Sentinel-2 User Handbook; FACTS.md).

``S2_L2A_BANDS`` lists the 12 bands of a Level-2A product in their usual order
(B10 cirrus exists only in L1C).
"""

from __future__ import annotations

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
#: The official Landslide4Sense baseline's per-channel normalisation.
L4S_MEAN: tuple[float, ...] = (-0.4914, -0.3074, -0.1277, -0.0625, 0.0439, 0.0803, 0.0644, 0.0802,
                               0.3000, 0.4082, 0.0823, 0.0516, 0.3338, 0.7819)
L4S_STD: tuple[float, ...] = (0.9325, 0.8775, 0.8860, 0.8869, 0.8857, 0.8418, 0.8354, 0.8491,
                              0.9061, 1.6072, 0.8848, 0.9232, 0.9018, 1.2913)

#: L2A digital numbers: reflectance = (DN + BOA_ADD_OFFSET) / QUANTIFICATION_VALUE.
QUANTIFICATION_VALUE = 10_000
#: BOA_ADD_OFFSET from processing baseline 04.00 (products from 2022-01-25) on; 0 before.
BOA_ADD_OFFSET_PB04 = -1000
PB04_START = "2022-01-25"

#: Scene classification (SCL) classes that are *not* clear ground.
SCL_INVALID: dict[int, str] = {0: "no data", 1: "saturated or defective", 3: "cloud shadow",
                               8: "cloud medium probability", 9: "cloud high probability",
                               10: "thin cirrus"}


def by_common_name(name: str) -> str:
    """Map a common name (``"red"``, ``"nir08"``) or a band name to the band name (``"B04"``)."""
    for band in BANDS.values():
        if name in (band.name, band.common_name):
            return band.name
    from s2slide.errors import MissingBandError

    raise MissingBandError(f"unknown Sentinel-2 band {name!r}; use one of {', '.join(BANDS)}")


#: Every scene classification (SCL) class of an L2A product (ESA Sentinel-2 L2A product
#: specification; FACTS.md), for legends and tables. Which of them count as not clear is
#: :data:`SCL_INVALID`.
SCL_CLASSES: dict[int, str] = {0: "no data", 1: "saturated or defective",
                               2: "dark area or cast shadow", 3: "cloud shadow", 4: "vegetation",
                               5: "not vegetated", 6: "water", 7: "unclassified",
                               8: "cloud medium probability", 9: "cloud high probability",
                               10: "thin cirrus", 11: "snow or ice"}
