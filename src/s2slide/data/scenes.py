"""The study areas of the course: grid, dates and bands of each named scene.

Every tier of :func:`s2slide.data.load_scene` (live, mirror, simulated) returns a scene on
the grid defined here, so that chapters can mix them without thinking about grids.
"""

from __future__ import annotations

from dataclasses import dataclass

from s2slide.data.bands import SEED000_BANDS
from s2slide.errors import SceneNotFoundError


@dataclass(frozen=True)
class SceneSpec:
    """A study area: a north-up grid in a UTM CRS and the pre-/post-event dates.

    Attributes
    ----------
    name : str
        Scene name used by ``load_scene``.
    epsg : int
        UTM zone of the grid (EPSG code).
    left, top : float
        Upper-left corner of the grid in metres (EPSG ``epsg``).
    resolution_m : float
        Pixel size in metres.
    height, width : int
        Grid size in pixels (rows = y, columns = x).
    pre_date, post_date : str
        ISO dates of the pre- and post-event acquisitions.
    event : str
        The triggering event.
    bands : tuple of str
        Sentinel-2 bands read by the live tier.
    """

    name: str
    epsg: int
    left: float
    top: float
    resolution_m: float
    height: int
    width: int
    pre_date: str
    post_date: str
    event: str
    bands: tuple[str, ...]
    description: str = ""

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in metres."""
        return (self.left, self.top - self.height * self.resolution_m,
                self.left + self.width * self.resolution_m, self.top)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.height, self.width)

    def bbox_lonlat(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) in degrees (WGS 84), for catalogue searches."""
        from pyproj import Transformer

        t = Transformer.from_crs(self.epsg, 4326, always_xy=True)
        return t.transform_bounds(*self.bounds)


SCENES: dict[str, SceneSpec] = {
    # Seed 000: 300 x 350 px at 20 m south-east of the epicentre (29.59 N, 102.08 E).
    "luding": SceneSpec(
        name="luding", epsg=32647, left=799_340.0, top=3_276_320.0, resolution_m=20.0,
        height=300, width=350, pre_date="2021-11-05", post_date="2022-11-20",
        event="2022-09-05 Mw 6.6 Luding earthquake, Sichuan, China",
        bands=SEED000_BANDS,
        description="Luding, south-east of the epicentre (seed 000)"),
    # Seed 001: Barhabise, Sindhupalchok, Nepal, on the Araniko highway (27.79 N, 85.90 E).
    "barhabise": SceneSpec(
        name="barhabise", epsg=32645, left=389_070.0, top=3_076_980.0, resolution_m=10.0,
        height=512, width=512, pre_date="2018-03-15", post_date="2018-11-15",
        event="2018 monsoon landslides, Barhabise, Sindhupalchok, Nepal",
        bands=("B02", "B03", "B04", "B08"),
        description="Barhabise, Bhote Koshi valley (seed 001)"),
}


def get_scene(name: str) -> SceneSpec:
    """Return the :class:`SceneSpec` called ``name`` or raise a helpful error."""
    try:
        return SCENES[name.lower()]
    except KeyError:
        raise SceneNotFoundError(
            f"unknown scene {name!r}; the course defines {', '.join(sorted(SCENES))}") from None
