"""Observation stacks: the lazy STAC route end to end through a loopback catalogue, and bad input.

No real recording holds a multi-date search with pixels (the mirror's recorded Earth Search items
point at remote COGs), so the catalogue and its Cloud-Optimised GeoTIFFs are written here: a
small area near Luding, five acquisitions with the three BOA-offset cases of chapter 1 (baseline
04.00 with the +1000 in the DNs, the catalogue's "already applied" flag, and metadata that say
the offset is still to apply to DNs that no longer carry it, which only the pixels reveal), a
date that is all cloud and one that is half cloud. The ground is vegetation (SCL 4) as dark as
real forest in the red (reflectance 0.03-0.07), the reference chapter 1's pixel check reads.
Every clear observation encodes the same reflectance, so the median composite must equal it
exactly; a wrong offset or an unmasked cloud would move it.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime

import numpy as np
import pytest
import replay
from loopback import LoopbackServer, Request
from rasterio.transform import from_origin

from s2slide import composite
from s2slide.data import events, harmonize, stacks
from s2slide.data.live import stac
from s2slide.errors import InvalidInputError, NetworkUnavailableError, SceneNotFoundError

EVENT = events.custom(102.125, 29.553, "2022-09-05", 1.0, name="loopback", today=date(2026, 1, 1))
SPEC = EVENT.grid(20.0)  # 100 x 100 px at 20 m, EPSG:32648
MARGIN = 20              # 20 m pixels around the area
DARK = (slice(MARGIN, MARGIN + 10), slice(MARGIN, MARGIN + 10))  # a dark corner, in the area


def _cog(path, arr, transform, crs, nodata):
    """A COG in 64 px tiles, so that the 140 px files have the overviews a coarse read uses."""
    return replay.write_tif(path, arr, transform, crs, nodata, blocksize=64)


def _base() -> np.ndarray:
    """The reflectance x 10000 of every clear observation: 300-699 on the 20 m grid."""
    n = SPEC.height + 2 * MARGIN
    r, c = np.mgrid[0:n, 0:n]
    return (300 + (r * 7 + c * 3) % 400).astype(np.uint16)


def _window(a: np.ndarray) -> np.ndarray:
    return a[MARGIN:MARGIN + SPEC.height, MARGIN:MARGIN + SPEC.width]


def _item(srv, tmp, *, day, baseline, applied, shift=0, cloud="clear"):
    x0, y0 = SPEC.left - MARGIN * 20, SPEC.top + MARGIN * 20
    dn = _base() + np.uint16(shift)
    scl = np.full(dn.shape, 4, np.uint8)
    if cloud == "all":
        scl[:], dn[:] = 9, 9000
    elif cloud == "half":
        scl[:, : dn.shape[1] // 2] = 8
        dn[:, : dn.shape[1] // 2] = 7000
        dn[DARK] = 500  # darker than the +1000 offset (a shadow SCL calls cloud): below 0
    folder = tmp / day
    folder.mkdir(exist_ok=True)
    assets = {}
    for key, arr, res in (("red", np.kron(dn, np.ones((2, 2), np.uint16)), 10), ("nir08", dn, 20),
                          ("scl", scl, 20)):
        tf = from_origin(x0, y0, res, res)
        href = srv.add_bytes(f"/cogs/{day}/{key}.tif",
                             _cog(folder / f"{key}.tif", arr, tf, f"EPSG:{SPEC.epsg}", 0))
        assets[key] = {"href": href, "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                       "roles": ["data"], "proj:shape": list(arr.shape), "proj:transform": list(tf)[:6]}
    props = {"datetime": f"{day}T03:50:00Z", "eo:cloud_cover": 60.0 if cloud == "all" else 10.0,
             "proj:epsg": SPEC.epsg, "s2:processing_baseline": baseline,
             "earthsearch:boa_offset_applied": applied}
    return _feature(f"S2B_48RTT_{day.replace('-', '')}_0_L2A", "sentinel-2-l2a", props, assets)


def _feature(item_id, collection, props, assets):
    w, s, e, n = SPEC.bbox_lonlat()
    w, s, e, n = w - 0.02, s - 0.02, e + 0.02, n + 0.02
    return {"type": "Feature", "stac_version": "1.0.0", "id": item_id, "collection": collection,
            "stac_extensions": ["https://stac-extensions.github.io/projection/v1.1.0/schema.json"],
            "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
            "bbox": [w, s, e, n], "properties": props, "assets": assets, "links": []}


def _dem_item(srv, tmp):
    """A plane in EPSG:4326 rising 0.5 m per metre northwards (slope 26.6 degrees)."""
    w, s, e, n = SPEC.bbox_lonlat()
    res = 1 / 3600
    w, n = w - 0.01, n + 0.01
    h, wd = int((n - s + 0.02) / res), int((e - w + 0.01) / res)
    lat = n - res * (np.arange(h) + 0.5)
    z = (1000.0 + 0.5 * (lat - s) * 110_850.0)[:, None] * np.ones((1, wd))
    tf = from_origin(w, n, res, res)
    href = srv.add_bytes("/cogs/dem.tif", _cog(tmp / "dem.tif", z.astype(np.float32), tf, "EPSG:4326", None))
    asset = {"href": href, "type": "image/tiff; application=geotiff; profile=cloud-optimized",
             "roles": ["data"], "proj:shape": [h, wd], "proj:transform": list(tf)[:6]}
    return _feature("Copernicus_DSM_COG_10_N29_00_E102_00_DEM", "cop-dem-glo-30",
                    {"datetime": "2021-04-22T00:00:00Z", "proj:epsg": 4326}, {"data": asset})


def _search(features):
    def handle(req: Request):
        q = req.json() if req.method == "POST" else {k: v[0] for k, v in req.query.items()}
        cols = q.get("collections") or []
        cols = cols.split(",") if isinstance(cols, str) else cols
        start = end = None
        if q.get("datetime"):
            start, end = (datetime.fromisoformat(t.replace("Z", "+00:00")) for t in q["datetime"].split("/"))
        hits = [f for f in features if (not cols or f["collection"] in cols) and (
            start is None or start <= datetime.fromisoformat(f["properties"]["datetime"].replace("Z", "+00:00")) <= end)]
        return 200, {"type": "FeatureCollection", "features": hits, "links": []}
    return handle


def _serve(srv, features):
    root = srv.url()
    conf = ["https://api.stacspec.org/v1.0.0/core", "https://api.stacspec.org/v1.0.0/item-search"]
    landing = {"type": "Catalog", "id": "loopback", "stac_version": "1.0.0", "description": "test",
               "conformsTo": conf,
               "links": [{"rel": "self", "href": root}, {"rel": "root", "href": root},
                         {"rel": "search", "href": root + "/search", "method": "POST",
                          "type": "application/geo+json"}]}
    srv.add_handler("GET", "/", lambda r: (200, landing))
    srv.add_handler("GET", "/conformance", lambda r: (200, {"conformsTo": conf}))
    srv.add_handler("POST", "/search", _search(features))
    srv.add_handler("GET", "/search", _search(features))


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("stack-cogs")
    with LoopbackServer() as srv:
        feats = [
            _item(srv, tmp, day="2022-08-01", baseline="04.00", applied=False, shift=1000),
            _item(srv, tmp, day="2022-08-11", baseline="04.00", applied=True),
            _item(srv, tmp, day="2022-08-21", baseline="04.00", applied=False, cloud="all"),
            _item(srv, tmp, day="2022-09-05", baseline="04.00", applied=False, shift=1000),  # event day
            _item(srv, tmp, day="2022-09-10", baseline="04.00", applied=False, shift=1000, cloud="half"),
            _item(srv, tmp, day="2022-09-20", baseline="04.00", applied=False),  # no +1000 in fact
            _dem_item(srv, tmp),
        ]
        _serve(srv, feats)
        yield srv, dataclasses.replace(stac.CATALOGS["earth-search"], name="Loopback STAC", url=srv.url())


@pytest.fixture(scope="module")
def stack(catalogue):
    _, cat = catalogue
    pre, post = events.windows(EVENT, pre_days=40, post_days=20, today=date(2026, 1, 1))
    with pytest.warns(UserWarning, match=r"20220920.*pixels show the offset already applied"):
        return stacks.stac_stack(EVENT, pre=pre, post=post, bands=("B04", "B8A"), catalog=cat, chunk=50)


def test_stac_stack_is_lazy_and_on_the_event_grid(stack):
    assert stack["reflectance"].dims == ("time", "band", "y", "x")
    assert stack["reflectance"].chunks is not None  # Dask: nothing read yet
    assert stack.sizes["y"] == SPEC.height and stack.sizes["x"] == SPEC.width
    assert stack.rio.crs.to_epsg() == SPEC.epsg and stack.attrs["source"] == "live"
    days = [str(t)[:10] for t in stack["time"].values]
    assert days == ["2022-08-01", "2022-08-11", "2022-08-21", "2022-09-10", "2022-09-20"]  # not the event day
    np.testing.assert_allclose(stack["slope"].values[5:-5, 5:-5], np.degrees(np.arctan(0.5)), atol=0.5)


def test_stac_composite_is_exact_with_per_item_offsets_and_scl(stack, catalogue):
    """Each clear observation is (base / 10000) whatever its offset case, so the median is too."""
    expect = _window(_base()).astype(np.float32) / 10_000
    ds = composite.composite_pair(stack)
    for band in ("B04", "B8A"):
        np.testing.assert_allclose(ds["pre"].sel(band=band).values, expect, atol=1e-6)
    # post: 09-10 (+1000 in the DNs; its western half cloud) and 09-20, whose metadata say the
    # offset is still to apply though its DNs no longer carry it: the pixel check reads it with
    # offset 0 (else it would be 0.1 darker, below zero, and move the median).
    for band in ("B04", "B8A"):
        np.testing.assert_allclose(ds["post"].sel(band=band).values, expect, atol=1e-6)
    assert int(ds["n_clear_pre"].min()) == 2 and int(ds["n_clear_post"][:, :40].max()) == 1
    assert ds["valid"].all()
    offsets = {d["id"][-14:-6]: d["offset"] for d in json.loads(stack.attrs["provenance"])["items"]}
    assert offsets == {"20220801": -1000, "20220811": 0, "20220821": -1000, "20220910": -1000,
                       "20220920": 0}
    srv, _ = catalogue
    gets = [r for m, p, r in srv.log if m == "GET" and p.startswith("/cogs/")]
    assert gets and all(r.startswith("bytes=") for r in gets)  # windows only, never whole files


def test_stac_stack_converts_dns_as_every_other_route(stack):
    """The lazy stack's reflectance is harmonize.dn_to_reflectance of the DNs with the item's
    offset: NaN where DN is 0 and dark pixels clipped at 0 (they were -0.05 before, when the
    stack divided by 10,000 on its own), as chapter 1's STAC route and chapter 8 convert."""
    refl = stack["reflectance"].sel(time="2022-09-10", band="B8A").squeeze().values  # offset -1000
    dn = _window(_base() + np.uint16(1000))
    dn[:, : (SPEC.width + 2 * MARGIN) // 2 - MARGIN] = 7000
    dn[: DARK[0].stop - MARGIN, : DARK[1].stop - MARGIN] = 500
    expect = harmonize.dn_to_reflectance(dn, offset=-1000)
    np.testing.assert_array_equal(refl, expect)
    assert (refl[:10, :10] == 0).all() and np.nanmin(refl) == 0


def test_no_item_in_the_windows_names_them(catalogue):
    _, cat = catalogue
    with pytest.raises(SceneNotFoundError, match="between 2021-01-01 and 2021-02-01"):
        stacks.stac_stack(EVENT, pre=(date(2021, 1, 1), date(2021, 1, 10)),
                          post=(date(2021, 1, 20), date(2021, 2, 1)), catalog=cat)


def test_load_stack_bad_input_and_offline_routes():
    with pytest.raises(InvalidInputError, match="source"):
        stacks.load_stack("luding-2022", source="mirror")
    with pytest.raises(NetworkUnavailableError, match="luding-2022"):
        stacks.load_stack("haiti-2021")  # offline: no live data, no simulation
    with pytest.raises(SceneNotFoundError, match="no simulation"):
        stacks.load_stack("haiti-2021", source="simulated")
    with pytest.raises(InvalidInputError, match="before the Sentinel-2 archive"):
        stacks.load_stack("gorkha-2015")


def test_earth_engine_pixels_become_a_scene_of_the_contract():
    """Earth Engine cannot be served from a loopback server: only the assembly of the fetched
    arrays into the data contract is tested here (the server-side graph is not)."""
    spec = EVENT.grid(20.0)
    shape = spec.shape
    pre = np.full((2,) + shape, 0.1, np.float32)
    post = pre.copy()
    post[:, :10] = np.nan
    counts = {"n_clear_pre": np.full((1,) + shape, 3), "n_clear_post": np.full((1,) + shape, 2)}
    counts["n_clear_post"][0, :10] = 0
    comps = {"windows": ((date(2022, 6, 7), date(2022, 9, 4)), (date(2022, 9, 6), date(2022, 11, 4))),
             "bands": ("B04", "B8A")}
    dem = np.tile(np.arange(shape[1], dtype=np.float32) * 10.0, (shape[0], 1))
    from s2slide.data.live import _grid

    ds = stacks._gee_dataset(spec, EVENT, comps, {"pre": pre, "post": post, **counts}, dem,
                             _grid.grid_coords(spec))
    assert list(ds["band"].values) == ["B04", "B8A"] and ds.rio.crs.to_epsg() == spec.epsg
    assert not ds["valid"].values[:10].any() and ds["valid"].values[10:].all()
    assert ds.attrs["pre_date"] == "2022-06-07/2022-09-04" and "Earth Engine" in ds.attrs["label"]
    np.testing.assert_allclose(ds["slope"].values[5:-5, 5:-5], np.degrees(np.arctan(0.5)), atol=0.1)
