"""The STAC route of the live tier, end to end against a loopback STAC API (no network).

A server on 127.0.0.1 replays Earth Search's recorded landing page (tests/fixtures/recorded, only
the host rewritten) and answers /search with items built from a recorded real Earth Search item
(its fields and asset structure; id, footprint, grid, dates and flags changed: no recorded item
covers Luding) over small Cloud-Optimised GeoTIFFs written here on a UTM grid around the Luding
window, so the real pystac-client + odc-stac code path runs and must return the load_scene
contract. The generated pixels and the DEM item are fakes; the real-pixel replay (tile 29RKH)
is in test_live_replay.py.
"""

from __future__ import annotations

import dataclasses
import json
import time


import numpy as np
import pytest
from rasterio.transform import from_origin

import replay
from loopback import LoopbackServer
from s2slide.data import bands as s2bands
from s2slide.data import live
from s2slide.errors import (CloudCoverError, InvalidInputError, MissingBandError,
                            NetworkUnavailableError, S2SlideError, SceneNotFoundError)
from s2slide.data.live import _grid, stac
from s2slide.data.scenes import SceneSpec, get_scene

SPEC = get_scene("luding")
MARGIN = 20  # tile pixels (20 m) around the scene window
BANDS10 = ("blue", "green", "red")
BANDS20 = ("nir08", "swir16")


# ----------------------------------------------------------------------------- fake catalogue
def _base20() -> np.ndarray:
    """DN pattern (1200-1999) on the 20 m tile grid: scene pixel (r, c) = tile (r+100, c+100)."""
    h, w = SPEC.height + 2 * MARGIN, SPEC.width + 2 * MARGIN
    r, c = np.mgrid[0:h, 0:w]
    return (1200 + (r * 7 + c * 3) % 800).astype(np.uint16)


def _window(a: np.ndarray) -> np.ndarray:
    return a[MARGIN:MARGIN + SPEC.height, MARGIN:MARGIN + SPEC.width]


def _tile_scl(kind: str) -> np.ndarray:
    scl = np.full(_base20().shape, 4, np.uint8)
    win = _window(scl)  # a view
    if kind == "pre":
        win[:30, :40] = 9  # a cloud in the window's corner
    elif kind == "post":
        win[:] = 5
        win[:, -10:] = 0  # swath edge: nodata
    elif kind == "cloudy":
        scl[:] = 9
    return scl


TEMPLATE = replay.recorded("earth-search/items/sentinel-2-l2a_S2B_24MVV_20250731_0_L2A.json")


def _item(srv, tmp, *, day, hour="04:02:00", baseline, applied, dn_shift=0, dn_scale=1.0,
          scl_kind="clear", cloud=5.0):
    x0 = SPEC.left - MARGIN * 20
    y0 = SPEC.top + MARGIN * 20
    base = (_base20() * dn_scale).astype(np.uint16) + np.uint16(dn_shift)
    scl = _tile_scl(scl_kind)
    if scl_kind == "post":
        base[scl == 0] = 0
    folder = tmp / day
    folder.mkdir(exist_ok=True)
    stamp = day.replace("-", "")
    assets = {}
    for key, arr, res in ([(k, np.kron(base, np.ones((2, 2), np.uint16)), 10) for k in BANDS10]
                          + [(k, base, 20) for k in BANDS20] + [("scl", scl, 20)]):
        tf = from_origin(x0, y0, res, res)
        data = replay.write_tif(folder / f"{key}.tif", arr, tf, f"EPSG:{SPEC.epsg}", 0)
        href = srv.add_bytes(f"/sentinel-s2-l2a-cogs/47/R/QP/{day}/{key}.tif", data)
        assets[key] = {"href": href, "proj:shape": list(arr.shape),
                       "proj:transform": list(tf)[:6]}
    w, s, e, n = SPEC.bbox_lonlat()
    props = {"eo:cloud_cover": cloud, "s2:processing_baseline": baseline,
             "earthsearch:boa_offset_applied": applied, "s2:generation_time": None,
             "s2:product_uri": f"S2B_MSIL2A_{stamp}T034009_N{baseline.replace('.', '')}_R061_"
                               f"T47RQP_{stamp}T070000.SAFE",
             "s2:tile_id": None, "s2:datatake_id": None, "s2:datastrip_id": None}
    return replay.item_from_template(
        TEMPLATE, item_id=f"S2B_47RQP_{stamp}_0_L2A", when=f"{day}T{hour}Z", epsg=SPEC.epsg,
        bbox=(w - 0.05, s - 0.05, e + 0.05, n + 0.05), assets=assets, properties=props)


def _serve_catalogue(srv, features):
    """Earth Search's recorded landing page, host rewritten; /search over ``features``."""
    landing = replay.rewrite(replay.recorded("earth-search/landing.json"),
                             {replay.EARTH_SEARCH: srv.url()})
    return replay.serve_stac_api(srv, landing=landing, features=features)


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    """The loopback STAC API and its catalogue (a stac.Catalog pointing at it)."""
    tmp = tmp_path_factory.mktemp("cogs")
    with LoopbackServer() as srv:
        features = [
            _item(srv, tmp, day="2021-11-05", baseline="03.01", applied=False, scl_kind="pre"),
            _item(srv, tmp, day="2022-11-20", baseline="04.00", applied=False, dn_shift=1000,
                  scl_kind="post"),
            _item(srv, tmp, day="2022-11-21", baseline="04.00", applied=False, dn_shift=1000,
                  scl_kind="cloudy", cloud=10.0),
            _item(srv, tmp, day="2022-12-01", baseline="04.00", applied=True),
            _item(srv, tmp, day="2022-12-10", baseline="04.00", applied=False, dn_scale=0.25),
            _item(srv, tmp, day="2021-07-01", baseline="03.00", applied=False,
                  scl_kind="cloudy", cloud=99.0),
            replay.dem_item(srv, tmp, SPEC.bbox_lonlat()),
        ]
        root = _serve_catalogue(srv, features)
        yield srv, dataclasses.replace(stac.CATALOGS["earth-search"], name="Loopback STAC",
                                       url=root)


@pytest.fixture(scope="module")
def luding(catalogue):
    """The Luding scene read once through the whole STAC route (module-scoped: ~seconds)."""
    _, cat = catalogue
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("S2SLIDE_OFFLINE", raising=False)
        mp.delenv("CI", raising=False)
        return live.load_live("luding", route="stac", catalog=cat)


# ----------------------------------------------------------------------------- end to end
def test_end_to_end_returns_the_contract(luding):
    ds = luding
    assert list(ds["band"].values) == list(SPEC.bands)
    assert ds["pre"].shape == (5, SPEC.height, SPEC.width) and ds["pre"].dtype == np.float32
    assert ds["post"].dtype == np.float32 and ds["dem"].dtype == np.float32
    assert ds["slope"].dtype == np.float32 and ds["valid"].dtype == bool
    assert ds.rio.crs.to_epsg() == SPEC.epsg
    assert tuple(ds.rio.transform())[:6] == (20.0, 0.0, SPEC.left, 0.0, -20.0, SPEC.top)
    assert ds.attrs["source"] == "live" and ds.attrs["scene"] == "luding"
    assert ds.attrs["pre_date"] == "2021-11-05" and ds.attrs["post_date"] == "2022-11-20"
    assert ds.attrs["pre_baseline"] == "03.01" and ds.attrs["post_baseline"] == "04.00"
    assert "Loopback STAC" in ds.attrs["label"] and "live" in ds.attrs["label"]
    prov = json.loads(ds.attrs["provenance"])
    assert prov["pre"]["ids"] == ["S2B_47RQP_20211105_0_L2A"]
    assert prov["post"]["hrefs"]["B8A"][0].endswith("/2022-11-20/nir08.tif")
    assert prov["licence"] == "Contains modified Copernicus Sentinel data 2021, 2022"
    assert prov["pre"]["offset"] == 0 and prov["post"]["offset"] == -1000


def test_window_is_read_in_place_and_harmonised(luding):
    """Pixel (r, c) of the scene is tile pixel (r+100, c+100); both dates give the same
    reflectance although the 04.00 product stores DN + 1000."""
    expect = _window(_base20()).astype(np.float32) / 10_000
    pre, post, valid = (luding[v].values for v in ("pre", "post", "valid"))
    for b in range(5):  # 10 m bands averaged 2x2, 20 m bands copied
        np.testing.assert_allclose(pre[b], expect, atol=1e-6)
        np.testing.assert_allclose(post[b][valid], expect[valid], atol=1e-6)


def test_scl_and_nodata_make_valid(luding):
    valid = luding["valid"].values
    assert not valid[:30, :40].any()          # pre-event cloud (SCL 9)
    assert not valid[:, -10:].any()           # post-event nodata strip
    assert np.isnan(luding["post"].values[:, :, -10:]).all()
    assert valid[30:, 40:-10].all()
    assert valid.sum() == SPEC.height * SPEC.width - 30 * 40 - SPEC.height * 10


def test_scl_mask_is_passed_to_the_route(catalogue, online):
    """``scl_mask`` decides ``valid``: masking only nodata keeps the pre-event cloud."""
    _, cat = catalogue
    ds = live.load_live("luding", route="stac", catalog=cat, scl_mask=[0])
    assert ds["valid"].values[:30, :40].all() and not ds["valid"].values[:, -10:].any()
    assert json.loads(ds.attrs["provenance"])["scl_mask"] == [0]
    with pytest.raises(InvalidInputError, match="SCL codes"):
        live.load_live("luding", route="stac", catalog=cat, scl_mask=[13])


def test_dem_resampled_and_slope_of_the_plane(luding):
    dem, slope = luding["dem"].values, luding["slope"].values
    assert np.isfinite(dem).all() and 1000 < dem.min() < dem.max() < 5000
    np.testing.assert_allclose(slope[5:-5, 5:-5], np.degrees(np.arctan(0.5)), atol=0.5)


def test_only_windows_were_read(catalogue, luding):
    """COGs were read with range requests, never fetched whole."""
    srv, _ = catalogue
    gets = [r for m, p, r in srv.log if m == "GET" and p.endswith(".tif")]
    assert gets and all(r.startswith("bytes=") for r in gets)


def test_cloudy_date_is_skipped_for_the_next_clear_one(catalogue, online):
    _, cat = catalogue
    ds = stac.load_stac("luding", catalog=cat, post_date="2022-11-21", search_days=3)
    assert ds.attrs["post_date"] == "2022-11-20"


def test_offset_flag_and_plausibility_check(catalogue, online):
    _, cat = catalogue
    expect = _window(_base20()).astype(np.float32) / 10_000
    ds = stac.load_stac("luding", catalog=cat, post_date="2022-12-01", search_days=2,
                        bands=["B8A"])
    np.testing.assert_allclose(ds["post"].values[0], expect, atol=1e-6)  # flag honoured
    assert "already applied" in json.loads(ds.attrs["provenance"])["post"]["offset_note"]
    with pytest.warns(UserWarning, match="offset already applied"):
        ds = stac.load_stac("luding", catalog=cat, post_date="2022-12-10", search_days=2,
                            bands=["B04"])
    assert json.loads(ds.attrs["provenance"])["post"]["offset"] == 0
    assert np.nanmin(ds["post"].values) > 0.025  # not clipped to 0 by a double offset


# ----------------------------------------------------------------------------- bad input
def test_all_cloud_window(catalogue, online):
    _, cat = catalogue
    with pytest.raises(CloudCoverError, match=r"2021-07-01 \(100% cloud\).*max_cloud"):
        stac.load_stac("luding", catalog=cat, pre_date="2021-07-02", search_days=5)


def test_empty_search_lists_nearest_dates(catalogue, online):
    _, cat = catalogue
    with pytest.raises(SceneNotFoundError, match=r"nearest dates.*2021-07-01"):
        stac.load_stac("luding", catalog=cat, pre_date="2021-06-01", search_days=5)


def test_area_outside_every_tile(catalogue, online):
    _, cat = catalogue
    far = SceneSpec(name="nowhere", epsg=32633, left=500_000.0, top=5_000_020.0,
                    resolution_m=20.0, height=10, width=10, pre_date="2021-11-05",
                    post_date="2022-11-20", event="none", bands=("B04",))
    with pytest.raises(SceneNotFoundError, match="outside every tile"):
        stac.load_stac(far, catalog=cat)


def test_unknown_band_lists_valid_names():
    with pytest.raises(MissingBandError, match="B13.*B02, B03.*B8A"):
        stac.load_stac("luding", bands=["B04", "B13"])


def test_no_network_says_use_mirror_or_simulated(online):
    with LoopbackServer() as srv:
        url = srv.url()  # stopped at the end of the block: nothing listens there
    cat = dataclasses.replace(stac.CATALOGS["earth-search"], url=url)
    with pytest.raises(NetworkUnavailableError, match="source='mirror'.*source='simulated'"):
        stac.load_stac("luding", catalog=cat, timeout=2)


def test_offline_flag_refuses_at_once():
    start = time.perf_counter()
    assert live.reachable("stac") is False
    with pytest.raises(NetworkUnavailableError, match="S2SLIDE_OFFLINE"):
        live.load_live("luding")
    assert time.perf_counter() - start < 0.5


def test_reachable_against_loopback(catalogue, online):
    _, cat = catalogue
    assert stac.reachable(cat) is True
    assert live.reachable("stac", catalog=cat) is True


def test_bad_route_and_catalog():
    with pytest.raises(S2SlideError, match="cdse"):
        live.reachable("ftp")
    with pytest.raises(S2SlideError, match="planetary-computer"):
        stac.get_catalog("google")


# ----------------------------------------------------------------------------- small helpers
def test_slope_of_tilted_planes():
    yy, xx = np.mgrid[0:6, 0:7].astype(float)
    assert np.allclose(_grid.slope_degrees(xx * 20.0, pixel_size=20.0), 45.0)
    assert np.allclose(_grid.slope_degrees(yy * 10.0 * np.tan(np.radians(30)), pixel_size=10.0),
                       30.0, atol=1e-5)
    assert np.allclose(_grid.slope_degrees(np.full((4, 4), 7.0), pixel_size=20.0), 0.0)


def test_scl_to_valid_and_cloud_fraction():
    scl = np.arange(12).reshape(3, 4)
    valid = _grid.valid_from_scl(scl)          # default: snow (11) masked, shadow (2) kept
    assert valid.tolist() == [[False, False, True, False], [True, True, True, True],
                              [False, False, False, False]]
    shadow_too = _grid.valid_from_scl(scl, scl_mask={*s2bands.SCL_INVALID, *s2bands.SCL_SHADOW})
    assert shadow_too.sum() == valid.sum() - 1 and not shadow_too[0, 2]
    assert _grid.valid_from_scl(scl, scl_mask=[0]).sum() == 11
    for bad in ("2", [2, 12], [2.5], 2):
        with pytest.raises(InvalidInputError, match="SCL codes 0-11"):
            _grid.valid_from_scl(scl, scl_mask=bad)
    assert _grid.cloud_fraction(scl) == pytest.approx(4 / 11)
    assert np.isnan(_grid.cloud_fraction(np.zeros((2, 2))))


def test_asset_names_of_both_catalogues():
    es, pc = stac.CATALOGS["earth-search"], stac.CATALOGS["planetary-computer"]
    assert [es.asset(b) for b in ("B02", "B8A", "B11", "SCL")] == ["blue", "nir08", "swir16",
                                                                   "scl"]
    assert [pc.asset(b) for b in ("B02", "B8A", "SCL")] == ["B02", "B8A", "SCL"]
    assert pc.signed and not es.signed


def test_nearest_dates_error_without_neighbours_mentions_tiles():
    from datetime import date
    err = _grid.no_scene_error(where="x", target=date(2022, 1, 1), search_days=3, nearby=[],
                               how="cat")
    assert isinstance(err, SceneNotFoundError) and "outside every tile" in str(err)


def test_unknown_option_is_named(online):
    with pytest.raises(S2SlideError, match="colour.*max_candidates"):
        live.load_live("luding", colour="red")


def test_load_scene_live_tier_uses_this_route(catalogue, online, monkeypatch):
    """data.load_scene(source="live") goes through load_live and its disk cache."""
    from s2slide import data

    _, cat = catalogue
    monkeypatch.setattr(live, "reachable", lambda route, **kw: True)  # the probe asks the
    ds = data.load_scene("luding", source="live", catalog=cat, bands=["B04", "B8A"],  # real host
                         quiet=True)
    assert ds.attrs["source"] == "live" and list(ds["band"].values) == ["B04", "B8A"]
    assert json.loads(ds.attrs["provenance"])["route"] == "stac"


def test_load_scene_follows_the_earth_search_setting(catalogue, online, monkeypatch):
    """A student's unchanged call reaches another Earth Search (a lab mirror, this replay)
    through S2SLIDE_EARTH_SEARCH_URL: the two-second probe and the load both go there."""
    from s2slide import data

    _, cat = catalogue
    monkeypatch.setenv("S2SLIDE_EARTH_SEARCH_URL", cat.url)
    ds = data.load_scene("luding", source="live", bands=["B04"], quiet=True)
    prov = json.loads(ds.attrs["provenance"])
    assert prov["catalog"] == "Earth Search" and prov["catalog_url"] == cat.url
    assert ds.attrs["post_date"] == "2022-11-20"


def test_endpoint_settings_are_read_at_each_call(monkeypatch):
    from s2slide import config
    from s2slide.errors import InvalidInputError

    names = {e.variable for e in config.ENDPOINT_SETTINGS if e.variable}
    for name in names:  # a developer's shell may set them
        monkeypatch.delenv(name, raising=False)
    assert names == {"S2SLIDE_EARTH_SEARCH_URL", "S2SLIDE_PLANETARY_COMPUTER_URL",
                     "S2SLIDE_PC_TOKEN_URL", "CDSE_ODATA_URL", "CDSE_TOKEN_URL",
                     "CDSE_DOWNLOAD_URL"}
    assert stac.get_catalog("earth-search").url == stac.EARTH_SEARCH_URL
    monkeypatch.setenv("S2SLIDE_PLANETARY_COMPUTER_URL", "http://mirror.lab:8080/stac")
    assert stac.get_catalog("planetary-computer").url == "http://mirror.lab:8080/stac"
    assert config.ENDPOINTS["Planetary Computer STAC"] == "http://mirror.lab:8080/stac"
    rows = {r["variable"]: r for r in config.endpoint_table()}
    assert rows["S2SLIDE_PLANETARY_COMPUTER_URL"]["set by"] == "environment"
    assert rows["S2SLIDE_EARTH_SEARCH_URL"]["set by"] == "default"
    monkeypatch.setenv("S2SLIDE_EARTH_SEARCH_URL", "earth-search.lab")
    with pytest.raises(InvalidInputError, match="S2SLIDE_EARTH_SEARCH_URL.*http"):
        stac.get_catalog("earth-search")
