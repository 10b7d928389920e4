"""The earthquake catalogue and custom events (chapter 9): well-formed entries and bad input."""

from __future__ import annotations

import json
from datetime import date

import pytest

from s2slide.data import events
from s2slide.errors import InvalidInputError, S2SlideError, SceneNotFoundError

TODAY = date(2026, 1, 1)
REQUIRED = ("luding-2022", "jiuzhaigou-2017", "gorkha-2015", "iburi-2018", "kaikoura-2016",
            "mesetas-2019", "haiti-2021")


def test_catalogue_holds_the_required_events_well_formed():
    assert set(REQUIRED) <= set(events.EVENTS)
    for name, ev in events.EVENTS.items():
        assert ev.name == name and ev.title and ev.sources, name
        date.fromisoformat(ev.date)
        lon, lat = ev.epicentre_lonlat
        assert -180 <= lon <= 180 and -84 <= lat <= 84, name
        clon, clat = ev.centre_lonlat
        assert abs(clon - lon) < 1.0 and abs(clat - lat) < 1.0, f"{name}: area far from epicentre"
        assert 0 < ev.radius_km <= events.MAX_RADIUS_KM, name
        assert ev.magnitude is None or 5.0 <= ev.magnitude <= 9.5, name
        assert ev.time_utc is None or ev.time_utc[2] == ":", name


def test_a_few_figures_against_their_sources():
    """Figures checked against the USGS pages and the seed for this module (see its docstring)."""
    jz = events.get_event("jiuzhaigou-2017")
    assert (jz.date, jz.epicentre_lonlat, jz.magnitude) == ("2017-08-08", (103.855, 33.193), 6.5)
    assert events.get_event("luding-2022").epicentre_lonlat == (102.08, 29.59)  # seed 000 / CENC
    assert events.get_event("iburi-2018").date == "2018-09-05"  # UTC: 6 September in Japan
    assert events.get_event("kaikoura-2016").date == "2016-11-13"  # UTC: 14 November in NZ


def test_sentinel2_start_is_the_archive_start_of_the_real_catalogues(mirror):
    """The constant is the temporal extent in real recorded Earth Search and PC responses."""
    cols = json.loads((mirror / "recorded/earth-search/collections.json").read_text())["collections"]
    start = next(c for c in cols if c["id"] == "sentinel-2-l2a")["extent"]["temporal"]["interval"][0][0]
    assert date.fromisoformat(start[:10]) == events.SENTINEL2_START
    pc = json.loads((mirror / "recorded/planetary-computer/collection-sentinel-2-l2a.json").read_text())
    assert pc["extent"]["temporal"]["interval"][0][0][:10] == events.SENTINEL2_START.isoformat()


def test_unknown_event_names_the_catalogue_and_the_custom_route():
    with pytest.raises(SceneNotFoundError, match="luding-2022.*events.custom"):
        events.get_event("atlantis-2020")
    with pytest.raises(LookupError):  # also a built-in type
        events.get_event("nowhere")


def test_custom_event_and_its_grid():
    ev = events.custom(102.08, 29.59, "2022-09-05", 5, name="mine", today=TODAY)
    spec = ev.grid(20.0)
    assert spec.epsg == 32648 and spec.shape == (500, 500)  # zone 48: 102-108 E
    assert spec.left % 20 == 0 and spec.top % 20 == 0
    w, s, e, n = spec.bbox_lonlat()
    assert w < 102.08 < e and s < 29.59 < n
    assert events.custom(-74.0, -3.5, "2020-01-01", 1, today=TODAY).grid().epsg == 32718


@pytest.mark.parametrize("day, match", [("2027-03-01", "in the future"),
                                        ("2015-04-25", "before the Sentinel-2 archive"),
                                        ("2015-06-27", "before the Sentinel-2 archive"),
                                        ("yesterday", "not an ISO date")])
def test_dates_sentinel2_cannot_see_are_refused(day, match):
    with pytest.raises(InvalidInputError, match=match):
        events.custom(85.0, 28.0, day, 10, today=TODAY)


def test_gorkha_is_in_the_catalogue_but_its_windows_are_refused():
    with pytest.raises(InvalidInputError, match="Landsat"):
        events.windows("gorkha-2015", today=TODAY)


@pytest.mark.parametrize("radius", [0, -3, 56, 500, "wide", None])
def test_radius_zero_or_beyond_a_tile_is_refused_with_the_limit_and_the_appendix(radius):
    with pytest.raises(InvalidInputError, match=r"55 km.*08_scaling_up") as err:
        events.custom(85.0, 28.0, "2020-01-01", radius, today=TODAY)
    assert isinstance(err.value, S2SlideError) and isinstance(err.value, ValueError)


def test_bad_coordinates_are_refused():
    with pytest.raises(InvalidInputError, match="degrees east"):
        events.custom(200.0, 28.0, "2020-01-01", 10, today=TODAY)


def test_windows_leave_out_the_event_day_and_clip_to_today():
    pre, post = events.windows("luding-2022", pre_days=90, post_days=60, today=TODAY)
    assert pre == (date(2022, 6, 7), date(2022, 9, 4))
    assert post == (date(2022, 9, 6), date(2022, 11, 4))
    recent = events.custom(102.0, 29.0, "2025-12-20", 5, today=TODAY)
    assert events.windows(recent, post_days=60, today=TODAY)[1][1] == TODAY
    today_event = events.custom(102.0, 29.0, TODAY, 5, today=TODAY)
    with pytest.raises(InvalidInputError, match="no post-event day"):
        events.windows(today_event, today=TODAY)
    with pytest.raises(InvalidInputError, match="pre_days"):
        events.windows("luding-2022", pre_days=0, today=TODAY)


def test_table_lists_every_event():
    table = events.table()
    assert list(table.index) == list(events.EVENTS)
    assert table.loc["gorkha-2015", "Sentinel-2"].startswith("no")
