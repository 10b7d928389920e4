"""Earthquakes that triggered landslides: a small catalogue, and any event a user names (chapter 9).

An :class:`Event` is what the recipe of chapter 9 needs to map one earthquake: the date (UTC)
of the main shock, its epicentre, its magnitude, and a *suggested area* (a square around a
centre) where landslides are worth looking for. :func:`get_event` returns a catalogue entry by
name; :func:`custom` makes one from ``(lon, lat, date, radius_km)``. :func:`windows` turns an
event into the pre- and post-event date windows of a multi-temporal composite and refuses what
Sentinel-2 cannot see: an event before its archive starts, or in the future.

Where each figure comes from (checked for this module with the course's search tool, 2026):

- date, time and epicentre: the USGS event page (ComCat), directly or as quoted by the event's
  encyclopaedia article that cites it; Luding's epicentre is the China Earthquake Networks
  Center's (CENC), which seed 000 uses; USGS places it about 43 km south-east of Kangding and its
  coordinates were not checked here. Mesetas: USGS names the place ("4 km SSE of Lejanias") but
  its coordinates could not be reached; the epicentre below is derived from that description
  and marked approximate.
- suggested areas: from real files where the course has them (seed 000's Luding window, the
  mirror's Iburi scene, Kaikoura tiles, Mesetas and Wenchuan inventories); elsewhere a square
  around the epicentre, which the user should move to where landslides were reported.
- the start of the Sentinel-2 archive, 2015-06-27: the temporal extent of the ``sentinel-2-l2a``
  collection in real recorded responses of Earth Search and Planetary Computer (mirror,
  ``recorded/``). Global L2A coverage is sparser before 2017-2018 (Earth Engine's
  ``COPERNICUS/S2_SR_HARMONIZED`` starts in 2017), so an early event may still find no scene.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from s2slide.errors import InvalidInputError, SceneNotFoundError

#: First day of the Sentinel-2 L2A archive (collection extent of Earth Search and Planetary
#: Computer, recorded in the mirror); Sentinel-2A was launched on 2015-06-23.
SENTINEL2_START = date(2015, 6, 27)
#: Largest half-width (km) of an event's area: a 110 km square is one Sentinel-2 tile, which
#: chapter 9 composites in memory; larger regions belong to chapter 8's chains.
MAX_RADIUS_KM = 55.0
#: What to do instead for a region larger than :data:`MAX_RADIUS_KM`.
LARGE_AREA_HINT = ("for a larger region use the appendix (chapter 8, 08_scaling_up): "
                   "chunked Dask arrays on a cluster (s2slide.scale) or the server-side Earth "
                   "Engine composite (s2slide.data.stacks.gee_composites), which never brings "
                   "the pixels to your machine")
#: Longest pre- or post-event window (days) a composite may use.
MAX_WINDOW_DAYS = 730


@dataclass(frozen=True)
class Event:
    """An earthquake and the area where its landslides are mapped.

    Attributes
    ----------
    name : str
        Catalogue key, e.g. ``"luding-2022"``.
    title : str
        Place and year for labels, e.g. ``"Luding, Sichuan, China (2022)"``.
    date : str
        ISO date (UTC) of the main shock.
    epicentre_lonlat : (float, float)
        Epicentre, degrees east and north (WGS 84).
    radius_km : float
        Half-width (km) of the suggested square area.
    area_lonlat : (float, float), optional
        Centre of the suggested area (default: the epicentre).
    magnitude : float, optional
        Magnitude, of the type in ``magnitude_type``.
    magnitude_type : str
        E.g. ``"Mw (USGS)"``.
    time_utc : str, optional
        Origin time, ``"HH:MM:SS"`` UTC.
    simulation : str, optional
        Preset of :mod:`s2slide.data.simulate` that stands in for it offline.
    sources : tuple of str
        Where the figures come from.
    note : str
        What could not be checked, and anything a user must know.
    """

    name: str
    title: str
    date: str
    epicentre_lonlat: tuple[float, float]
    radius_km: float
    area_lonlat: tuple[float, float] | None = None
    magnitude: float | None = None
    magnitude_type: str = ""
    time_utc: str | None = None
    simulation: str | None = None
    sources: tuple[str, ...] = field(default_factory=tuple)
    note: str = ""

    @property
    def day(self) -> date:
        """The date of the main shock as a :class:`datetime.date`."""
        return date.fromisoformat(self.date)

    @property
    def centre_lonlat(self) -> tuple[float, float]:
        """Centre of the area (the epicentre unless a suggested area is given)."""
        return self.area_lonlat or self.epicentre_lonlat

    def with_radius(self, radius_km: float) -> Event:
        """The same event over a square of another half-width (km), checked."""
        return replace(self, radius_km=check_radius(radius_km))

    def grid(self, resolution_m: float = 20.0):
        """The area as a north-up UTM grid (:class:`s2slide.data.scenes.SceneSpec`).

        The square of half-width ``radius_km`` around :attr:`centre_lonlat`, in the UTM zone of
        its centre, with corners on multiples of ``resolution_m``; dates are the event's.
        """
        from pyproj import Transformer

        from s2slide.data.scenes import SceneSpec

        lon, lat = self.centre_lonlat
        epsg = (32600 if lat >= 0 else 32700) + min(int((lon + 180) // 6) + 1, 60)
        x, y = Transformer.from_crs(4326, epsg, always_xy=True).transform(lon, lat)
        half = self.radius_km * 1000.0
        left = resolution_m * round((x - half) / resolution_m)
        top = resolution_m * round((y + half) / resolution_m)
        side = int(round(2 * half / resolution_m))
        return SceneSpec(name=self.name, epsg=epsg, left=left, top=top, resolution_m=resolution_m,
                         height=side, width=side, pre_date=self.date, post_date=self.date,
                         event=self.title, bands=("B02", "B03", "B04", "B08", "B8A", "B11"),
                         description=f"{self.title}: {2 * self.radius_km:g} km square")


_USGS = "USGS event page, earthquake.usgs.gov/earthquakes/eventpage/"

#: The catalogue: co-seismic landslide events (see the module docstring for sources).
EVENTS: dict[str, Event] = {e.name: e for e in (
    Event("luding-2022", "Luding, Sichuan, China (2022)", "2022-09-05", (102.08, 29.59), 10.0,
          area_lonlat=(102.125, 29.553), magnitude=6.6, magnitude_type="Mw (USGS); Ms 6.8 (CENC)",
          time_utc="04:52:19", simulation="luding",
          sources=(_USGS + "us7000i59t (time, magnitude)",
                   "CENC via seed 000 (epicentre 29.59 N, 102.08 E, Ms 6.8, depth 16 km)",
                   "area: seed 000's window (s2slide.data.scenes, 'luding') and around it"),
          note="USGS places the epicentre about 43 km SE of Kangding; its coordinates were not "
               "checked here. Over 5,000 landslides (seed 000)."),
    Event("jiuzhaigou-2017", "Jiuzhaigou, Sichuan, China (2017)", "2017-08-08", (103.855, 33.193),
          10.0, magnitude=6.5, magnitude_type="Mw (USGS); Ms 7.0 (CENC)", time_utc="13:19:49",
          sources=(_USGS + "us2000a5x1 (time, epicentre, Mww 6.5, depth 9 km)",),
          note="Before Earth Engine's S2_SR_HARMONIZED (2017); Earth Search may hold L2A. "
               "Seed 002's Shuzheng Valley site."),
    Event("gorkha-2015", "Gorkha, Nepal (2015)", "2015-04-25", (84.731, 28.230), 20.0,
          magnitude=7.8, magnitude_type="Mw (USGS)", time_utc="06:11:25",
          sources=("USGS ComCat as quoted by the event's encyclopaedia article (06:11:25 UTC, "
                   "28.230 N 84.731 E, Mw 7.8)",),
          note="Two months before the Sentinel-2 archive starts: no pre-event Sentinel-2 image "
               "exists. Use Landsat 8 (e.g. HazMapper, Scheip and Wegmann 2021)."),
    Event("iburi-2018", "Hokkaido Eastern Iburi, Japan (2018)", "2018-09-05", (141.933, 42.671),
          8.0, area_lonlat=(141.959, 42.726), magnitude=6.6, magnitude_type="Mw (USGS); Mj 6.7 "
          "(JMA)", time_utc="18:07:58",
          sources=("USGS ComCat as quoted by the event's encyclopaedia article (18:07:58 UTC, "
                   "42.671 N 141.933 E, Mw 6.6)", "JMA via jishin.go.jp (Mj 6.7, 03:07 JST "
                   "on 6 September)", "area: the mirror's Iburi scene (Atsuma cluster)"),
          note="6 September local time (JST); the UTC date is used."),
    Event("kaikoura-2016", "Kaikoura, New Zealand (2016)", "2016-11-13", (173.054, -42.737), 10.0,
          area_lonlat=(173.488, -42.332), magnitude=7.8, magnitude_type="Mw (USGS)",
          time_utc="11:02:56",
          sources=("USGS ComCat as quoted by the event's encyclopaedia article (11:02:56 UTC, "
                   "42.737 S 173.054 E, Mw 7.8)",
                   "GeoNet story 2016p858000 (M7.8, 14 November NZDT)",
                   "area: the mirror's Kaikoura change tiles"),
          note="14 November local time; the rupture ran some 180 km north-east of the "
               "epicentre (GeoNet), so landslides lie far from it. Sentinel-2A only (10-day "
               "revisit) and before Earth Engine's S2_SR_HARMONIZED."),
    Event("mesetas-2019", "Mesetas, Meta, Colombia (2019)", "2019-12-24", (-74.01, 3.49), 14.0,
          area_lonlat=(-74.163, 3.492), magnitude=6.0, magnitude_type="M (USGS); 6.2 (SGC)",
          time_utc="19:03",
          sources=("USGS as reported on the day: 'M 6.0 - 4 km SSE of Lejanias', depth 10 km, "
                   "19:03 UTC; a second shock of M 5.8 followed", "Garcia-Delgado et al. 2021, "
                   "USGS ScienceBase 61ead1f5d34e8b818ad9f37f (838 landslides; the mirror's "
                   "inventory)", "area: the inventory's extent"),
          note="Epicentre approximate: derived from USGS's '4 km SSE of Lejanias' (its "
               "coordinates could not be reached). A doublet: M 6.0 and M 5.8 sixteen minutes "
               "apart."),
    Event("haiti-2021", "Nippes, Haiti (2021)", "2021-08-14", (-73.480, 18.417), 15.0,
          magnitude=7.2, magnitude_type="Mw (USGS)", time_utc="12:29:08",
          sources=("USGS ComCat as quoted by the event's encyclopaedia article (12:29:08 UTC, "
                   "18.417 N 73.480 W, Mw 7.2)",),
          note="Area centred on the epicentre: move it to where landslides were reported. "
               "Seed 004's test site; tropical storm Grace followed two days later."),
    Event("wenchuan-2008", "Wenchuan, Sichuan, China (2008)", "2008-05-12", (103.365, 31.015),
          12.0, area_lonlat=(103.468, 31.198), magnitude=7.9, magnitude_type="Mw (USGS)",
          time_utc="06:28:01",
          sources=("USGS NEIC release and coordinates (31.015 N, 103.365 E) as quoted",
                   "area: the Bhuyan et al. (2023) Wenchuan inventories of the mirror"),
          note="Before Sentinel-2: the course uses only its landslide inventories."),
)}


def get_event(event: str | Event) -> Event:
    """A catalogue :class:`Event` by name (or an Event itself).

    Raises
    ------
    SceneNotFoundError
        Unknown name; the message lists the catalogue.
    """
    if isinstance(event, Event):
        return event
    key = str(event).strip().lower()
    if key not in EVENTS:
        raise SceneNotFoundError(
            f"unknown event {event!r}; the catalogue holds {', '.join(EVENTS)}. For any other "
            "earthquake use events.custom(lon, lat, 'YYYY-MM-DD', radius_km)")
    return EVENTS[key]


def check_radius(radius_km: Any) -> float:
    """``radius_km`` as a float in (0, :data:`MAX_RADIUS_KM`], else InvalidInputError."""
    try:
        value = float(radius_km)
    except (TypeError, ValueError):
        value = float("nan")
    if not 0.0 < value <= MAX_RADIUS_KM:
        raise InvalidInputError(
            f"radius_km={radius_km!r}: give a half-width between 0 and {MAX_RADIUS_KM:g} km "
            f"(a {2 * MAX_RADIUS_KM:g} km square is one Sentinel-2 tile); {LARGE_AREA_HINT}")
    return value


def _check_lonlat(lon: Any, lat: Any) -> tuple[float, float]:
    try:
        lon, lat = float(lon), float(lat)
    except (TypeError, ValueError):
        lon = lat = float("nan")
    if not (-180.0 <= lon <= 180.0 and -84.0 <= lat <= 84.0):
        raise InvalidInputError(f"(lon, lat)=({lon}, {lat}): give degrees east (-180..180) and "
                                "north (-84..84, the UTM zones), e.g. (102.08, 29.59)")
    return lon, lat


def check_day(value: Any, *, today: date | None = None) -> date:
    """An event date: ISO text or a date, within the Sentinel-2 archive and not in the future."""
    try:
        day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    except ValueError:
        raise InvalidInputError(f"date={value!r} is not an ISO date; write e.g. '2022-09-05'") from None
    today = today or date.today()
    if day > today:
        raise InvalidInputError(f"date={day} is in the future (today is {today}): give the date "
                                "of an earthquake that has happened")
    if day <= SENTINEL2_START:
        raise InvalidInputError(
            f"date={day} is before the Sentinel-2 archive starts ({SENTINEL2_START}): there is "
            "no pre-event Sentinel-2 image. Map it with Landsat (e.g. HazMapper in Earth "
            "Engine, LANDSAT/LC08) or study its landslides from an inventory")
    return day


def custom(lon: float, lat: float, day: str | date, radius_km: float, *, name: str = "custom",
           title: str | None = None, magnitude: float | None = None,
           today: date | None = None) -> Event:
    """Any earthquake as an :class:`Event`: epicentre ``(lon, lat)``, date, and area half-width.

    Parameters
    ----------
    lon, lat : float
        Epicentre (and centre of the area), degrees east and north.
    day : str or datetime.date
        Date (UTC) of the main shock, e.g. ``"2023-02-06"``.
    radius_km : float
        Half-width of the square area, (0, :data:`MAX_RADIUS_KM`] km.
    name, title : str
        Key and label; ``magnitude`` is optional.
    today : datetime.date, optional
        What "today" is (tests); default the machine's date.

    Raises
    ------
    InvalidInputError
        Coordinates outside the UTM zones, a date in the future or before Sentinel-2, a
        radius of 0 or larger than one Sentinel-2 tile (the message names chapter 8's route).

    Examples
    --------
    >>> ev = custom(102.08, 29.59, "2022-09-05", 8, name="my-luding")
    >>> ev.radius_km, ev.date
    (8.0, '2022-09-05')
    """
    lon, lat = _check_lonlat(lon, lat)
    day = check_day(day, today=today)
    radius = check_radius(radius_km)
    return Event(name=str(name), title=title or f"{name} ({lat:.2f} N, {lon:.2f} E, {day})",
                 date=day.isoformat(), epicentre_lonlat=(lon, lat), radius_km=radius,
                 magnitude=None if magnitude is None else float(magnitude),
                 sources=("given by the user",))


def windows(event: str | Event, *, pre_days: int = 90, post_days: int = 60,
            today: date | None = None) -> tuple[tuple[date, date], tuple[date, date]]:
    """The pre- and post-event windows of a composite: ``((start, end), (start, end))``.

    The pre-event window ends the day before the event and the post-event window starts the
    day after it (the day itself is left out: an image that day may be either). The pre-event
    start is clipped to :data:`SENTINEL2_START`, the post-event end to ``today``.

    Raises
    ------
    InvalidInputError
        A window length outside 1..:data:`MAX_WINDOW_DAYS`, an event before the Sentinel-2
        archive or in the future, or an event so recent that no post-event day has passed.
    """
    ev = get_event(event)
    for what, n in (("pre_days", pre_days), ("post_days", post_days)):
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_WINDOW_DAYS:
            raise InvalidInputError(f"{what}={n!r}: give a whole number of days, 1 to "
                                    f"{MAX_WINDOW_DAYS} (e.g. 90 before and 60 after)")
    today = today or date.today()
    day = check_day(ev.day, today=today)
    pre = (max(day - timedelta(days=pre_days), SENTINEL2_START), day - timedelta(days=1))
    post = (day + timedelta(days=1), min(day + timedelta(days=post_days), today))
    if post[1] < post[0]:
        raise InvalidInputError(f"{ev.name} happened on {day}: no post-event day has passed yet "
                                f"(today is {today}); try again after the next Sentinel-2 pass")
    return pre, post


def table() -> Any:
    """The catalogue as a pandas DataFrame (one row per event), for display."""
    import pandas as pd

    rows = {e.name: {"place": e.title, "date (UTC)": e.date, "magnitude": e.magnitude,
                     "type": e.magnitude_type, "epicentre (lon, lat)": e.epicentre_lonlat,
                     "area centre (lon, lat)": e.centre_lonlat, "half-width (km)": e.radius_km,
                     "Sentinel-2": "yes" if e.day > SENTINEL2_START else "no (before 2015-06-27)",
                     "sources": "; ".join(e.sources), "note": e.note}
            for e in EVENTS.values()}
    return pd.DataFrame(rows).T.rename_axis("event")
