"""The STAC route of the live tier, end to end against a loopback STAC API (no network).

A server on 127.0.0.1 serves a STAC API (landing page, conformance, collections, /search) and
small Cloud-Optimised GeoTIFFs written here on a UTM grid around the Luding window, so the real
pystac-client + odc-stac code path runs and must return the load_scene contract.
"""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import datetime

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from loopback import LoopbackServer, Request
from s2slide.data import bands as s2bands
from s2slide.data import live
from s2slide.errors import (CloudCoverError, InvalidInputError, MissingBandError,
                            NetworkUnavailableError, S2SlideError, SceneNotFoundError)
from s2slide.data.live import _grid, stac
from s2slide.data.scenes import SceneSpec, get_scene

SPEC = get_scene("luding")
MARGIN = 100  # tile pixels (20 m) around the scene window
BANDS10 = ("blue", "green", "red")
BANDS20 = ("nir08", "swir16")


# ----------------------------------------------------------------------------- fake catalogue
def _write_cog(path, arr, transform, crs, nodata):
    profile = dict(driver="COG", width=arr.shape[1], height=arr.shape[0], count=1,
                   dtype=arr.dtype, crs=crs, transform=transform, nodata=nodata,
                   blocksize=256, overview_resampling="nearest")
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(arr, 1)
    return path.read_bytes()


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
    assets = {}
    for key, arr, res in ([(k, np.kron(base, np.ones((2, 2), np.uint16)), 10) for k in BANDS10]
                          + [(k, base, 20) for k in BANDS20] + [("scl", scl, 20)]):
        tf = from_origin(x0, y0, res, res)
        data = _write_cog(folder / f"{key}.tif", arr, tf, f"EPSG:{SPEC.epsg}", 0)
        href = srv.add_bytes(f"/cogs/{day}/{key}.tif", data)
        assets[key] = {"href": href, "type": "image/tiff; application=geotiff; "
                       "profile=cloud-optimized", "roles": ["data"],
                       "proj:shape": list(arr.shape), "proj:transform": list(tf)[:6],
                       "raster:bands": [{"nodata": 0, "data_type": str(arr.dtype),
                                         "scale": 0.0001, "offset": -0.1 if applied is not None
                                         and baseline >= "04.00" else 0.0}]}
    props = {"datetime": f"{day}T{hour}Z", "eo:cloud_cover": cloud, "proj:epsg": SPEC.epsg,
             "s2:processing_baseline": baseline, "earthsearch:boa_offset_applied": applied}
    return _feature(f"S2B_47RQP_{day.replace('-', '')}_0_L2A", "sentinel-2-l2a", props, assets)


def _feature(item_id, collection, props, assets):
    w, s, e, n = SPEC.bbox_lonlat()
    w, s, e, n = w - 0.05, s - 0.05, e + 0.05, n + 0.05
    ring = [[w, s], [e, s], [e, n], [w, n], [w, s]]
    return {"type": "Feature", "stac_version": "1.0.0", "id": item_id, "collection": collection,
            "stac_extensions": [
                "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
                "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
                "https://stac-extensions.github.io/eo/v1.1.0/schema.json"],
            "geometry": {"type": "Polygon", "coordinates": [ring]}, "bbox": [w, s, e, n],
            "properties": props, "assets": assets, "links": []}


def _dem_item(srv, tmp):
    """A tilted plane in EPSG:4326 (1 arcsec): rises 0.5 m per metre northwards (26.57 deg)."""
    w, s, e, n = SPEC.bbox_lonlat()
    res = 1 / 3600
    w, n = w - 0.02, n + 0.02
    h, wd = int((n - s + 0.04) / res), int((e - w + 0.02) / res)
    lat = n - res * (np.arange(h) + 0.5)
    z = (1000.0 + 0.5 * (lat - s) * 110_850.0)[:, None] * np.ones((1, wd))
    tf = from_origin(w, n, res, res)
    data = _write_cog(tmp / "dem.tif", z.astype(np.float32), tf, "EPSG:4326", None)
    href = srv.add_bytes("/cogs/dem.tif", data)
    asset = {"href": href, "type": "image/tiff; application=geotiff; profile=cloud-optimized",
             "roles": ["data"], "proj:shape": [h, wd], "proj:transform": list(tf)[:6],
             "raster:bands": [{"data_type": "float32", "unit": "m"}]}
    return _feature("Copernicus_DSM_COG_10_N29_00_E102_00_DEM", "cop-dem-glo-30",
                    {"datetime": "2021-04-22T00:00:00Z", "proj:epsg": 4326}, {"data": asset})


def _search_handler(features):
    def handle(req: Request):
        if req.method == "POST":
            q = req.json()
        else:
            q = {k: v[0] for k, v in req.query.items()}
            for key in ("collections", "bbox"):
                if key in q:
                    q[key] = q[key].split(",")
        cols = set(q.get("collections") or [])
        bbox = [float(v) for v in q.get("bbox") or [-180, -90, 180, 90]]
        start = end = None
        if q.get("datetime"):
            a, b = q["datetime"].split("/")
            start, end = (datetime.fromisoformat(t.replace("Z", "+00:00")) for t in (a, b))
        hits = []
        for f in features:
            fb = f["bbox"]
            when = datetime.fromisoformat(f["properties"]["datetime"].replace("Z", "+00:00"))
            if cols and f["collection"] not in cols:
                continue
            if fb[0] > bbox[2] or fb[2] < bbox[0] or fb[1] > bbox[3] or fb[3] < bbox[1]:
                continue
            if start is not None and not start <= when <= end:
                continue
            hits.append(f)
        return 200, {"type": "FeatureCollection", "features": hits, "links": []}
    return handle


def _serve_catalogue(srv, features):
    root = srv.url()
    conf = ["https://api.stacspec.org/v1.0.0/core", "https://api.stacspec.org/v1.0.0/item-search",
            "https://api.stacspec.org/v1.0.0/collections"]
    landing = {"type": "Catalog", "id": "loopback", "stac_version": "1.0.0",
               "description": "loopback STAC API for tests", "conformsTo": conf,
               "links": [{"rel": "self", "href": root}, {"rel": "root", "href": root},
                         {"rel": "conformance", "href": root + "/conformance"},
                         {"rel": "data", "href": root + "/collections"},
                         {"rel": "search", "href": root + "/search", "method": "GET",
                          "type": "application/geo+json"},
                         {"rel": "search", "href": root + "/search", "method": "POST",
                          "type": "application/geo+json"}]}
    cols = [{"type": "Collection", "id": c, "stac_version": "1.0.0", "description": c,
             "license": "proprietary", "links": [],
             "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                        "temporal": {"interval": [[None, None]]}}}
            for c in ("sentinel-2-l2a", "cop-dem-glo-30")]
    srv.add_handler("GET", "/", lambda r: (200, landing))
    srv.add_handler("GET", "/conformance", lambda r: (200, {"conformsTo": conf}))
    srv.add_handler("GET", "/collections", lambda r: (200, {"collections": cols, "links": []}))
    for c in cols:
        srv.add_handler("GET", f"/collections/{c['id']}", lambda r, c=c: (200, c))
    handler = _search_handler(features)
    srv.add_handler("GET", "/search", handler)
    srv.add_handler("POST", "/search", handler)


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
            _dem_item(srv, tmp),
        ]
        _serve_catalogue(srv, features)
        yield srv, dataclasses.replace(stac.CATALOGS["earth-search"], name="Loopback STAC",
                                       url=srv.url())


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
    assert prov["post"]["hrefs"]["B8A"][0].endswith("/cogs/2022-11-20/nir08.tif")
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
    gets = [r for m, p, r in srv.log if m == "GET" and p.startswith("/cogs/")]
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
    with pytest.warns(UserWarning, match="evidently was"):
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
