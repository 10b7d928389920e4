"""The live routes against the recorded responses of the real services, replayed on loopback.

- Earth Search: the real 29RKH L2A tile (its real STAC item and real COGs, through the registry)
  end to end; two real recorded items of one day (24MVV, 24MWV) given different
  ``earthsearch:boa_offset_applied`` flags over generated pixels: the offsets must be decided
  per item, before the mosaic (issue 14, item 1).
- Planetary Computer: the recorded landing page and an item built from a recorded real item,
  signed through a loopback token service; ``load_scene`` as students call it, pointed at the
  replay by the endpoint settings (items 2 and 4).
- Copernicus Data Space: OData records built from the recorded real records, SAFE zips with the
  recorded manifest's layout and the real baseline-05.10 ``MTD_MSIL2A.xml``; downloads checked
  against ``ContentLength`` and ``Checksum``, the token re-sent on redirects to Copernicus hosts
  only (item 3), and ``load_scene(route="cdse")`` through the settings (item 4).

Only scheme and host of the recorded addresses are rewritten; what is generated is said where it
is made (tests/replay.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import re
import time
import zipfile
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import from_bounds

import replay
from loopback import LoopbackServer, Request
from s2slide import data
from s2slide.data import registry
from s2slide.data.live import _grid, cdse, stac
from s2slide.data.scenes import SceneSpec, get_scene
from s2slide.errors import AuthenticationError, ChecksumError, NetworkUnavailableError

RKH = "l2a-29RKH-2020/"


# ============================================================================ Earth Search
# ----------------------------------------------------------------------------- the real 29RKH tile
#: A 20 km window of tile 29RKH on the 200 m grid of its (10x downsampled) 20 m files.
SPEC_29RKH = SceneSpec(name="tile29rkh", epsg=32629, left=219_980.0, top=2_780_020.0,
                       resolution_m=200.0, height=100, width=100, pre_date="2020-02-19",
                       post_date="2020-02-19", event="none (a desert tile, for reading L2A)",
                       bands=("B02", "B04", "B8A", "B11"))


@pytest.fixture(scope="module")
def tile29(tmp_path_factory):
    """A loopback Earth Search serving the real 29RKH item (host rewritten) over its real COGs."""
    item = json.loads(registry.fetch(RKH + "S2A_29RKH_20200219_0_L2A.json").read_text())
    with LoopbackServer() as srv:
        item = replay.rewrite(item, {replay.ES_COGS: srv.url()})
        for asset in item["assets"].values():
            rel = RKH + asset["href"].rsplit("/", 1)[-1]
            if rel in registry.FILES and rel.endswith(".tif"):
                srv.add_bytes(asset["href"].removeprefix(srv.url()),
                              registry.fetch(rel).read_bytes())
        landing = replay.rewrite(replay.recorded("earth-search/landing.json"),
                                 {replay.EARTH_SEARCH: srv.url()})
        dem = replay.dem_item(srv, tmp_path_factory.mktemp("dem"), SPEC_29RKH.bbox_lonlat())
        root = replay.serve_stac_api(srv, landing=landing, features=[item, dem])
        yield srv, dataclasses.replace(stac.CATALOGS["earth-search"], url=root)


def _real(band: str, spec: SceneSpec) -> np.ndarray:
    """The real file's DNs on ``spec``'s grid: the 100 m files through their 200 m overview,
    as a COG reader does."""
    path = registry.fetch(f"{RKH}{band}.tif")
    with rasterio.open(path) as src:
        level = 0 if src.res[0] < spec.resolution_m else None
    with rasterio.open(path, **({} if level is None else {"overview_level": level})) as src:
        return src.read(1, window=from_bounds(*spec.bounds, transform=src.transform))


def test_real_29rkh_tile_end_to_end(tile29, online):
    """The real item and real pixels through the whole STAC route: reflectance is the real
    files' DN / 10000 (baseline 02.14, no offset) and ``valid`` follows the real SCL."""
    _, cat = tile29
    ds = stac.load_stac(SPEC_29RKH, catalog=cat)
    for band in SPEC_29RKH.bands:
        np.testing.assert_array_equal(ds["pre"].sel(band=band).values,
                                      _real(band, SPEC_29RKH).astype(np.float32) / 10_000)
    scl = _real("SCL", SPEC_29RKH)
    assert set(np.unique(scl)) >= {5}  # desert: not vegetated
    np.testing.assert_array_equal(ds["valid"].values, _grid.valid_from_scl(scl))
    prov = json.loads(ds.attrs["provenance"])
    assert ds.attrs["pre_baseline"] == "02.14" and prov["pre"]["offset"] == 0
    assert prov["pre"]["ids"] == ["S2A_29RKH_20200219_0_L2A"]
    assert "pixels undecided" in prov["pre"]["items"][0]["note"]


def test_chapter_8_live_tile_reads_the_real_29rkh_tile(tile29, online, monkeypatch):
    """``scale.stac_tile`` over the real item and its real COGs, pointed at the replay by the
    endpoint setting: the lazy 10 m red band is the real file's DN / 10000 (baseline 02.14, no
    offset; the 100 m file read by nearest neighbour), and each item's offset was checked on the
    real pixels read coarsely from the files (a desert: undecided, so the baseline stands)."""
    from rasterio.windows import Window

    from s2slide import scale

    _, cat = tile29
    monkeypatch.setenv("S2SLIDE_EARTH_SEARCH_URL", cat.url)
    day = "2020-02-19/2020-02-19"
    ds = scale.stac_tile(bbox=SPEC_29RKH.bbox_lonlat(), dates=(day, day), timeout=5)
    x0, y0 = 199_980 + 50_000, 2_800_020 - 50_000  # the real file's pixel (500, 500)
    red = ds["post"].sel(band="B04", x=slice(x0, x0 + 400), y=slice(y0, y0 - 400)).values
    with rasterio.open(registry.fetch(RKH + "B04.tif")) as src:
        real = src.read(1, window=Window(500, 500, 4, 4))
    assert red.shape == (40, 40) and real.all()  # real data there, no nodata
    expected = (np.kron(real, np.ones((10, 10))) / 10_000).astype(np.float32)
    np.testing.assert_array_equal(red, expected)
    prov = json.loads(ds.attrs["provenance"])
    assert [d["id"] for d in prov["post"]] == ["S2A_29RKH_20200219_0_L2A"]
    assert prov["post"][0]["offset"] == 0 and "pixels undecided" in prov["post"][0]["note"]
    # the real SCL (200 m in the mirror's copy) masks its cirrus: SCL pixel (100, 123) is class 10
    with rasterio.open(registry.fetch(RKH + "SCL.tif")) as src:
        scl = src.read(1, window=Window(122, 100, 2, 2))
    assert scl.tolist() == [[5, 10], [5, 5]]
    x0, y0 = 199_980 + 200 * 122, 2_800_020 - 200 * 100
    red = ds["post"].sel(band="B04", x=slice(x0, x0 + 400), y=slice(y0, y0 - 400)).values
    hidden = np.kron(~_grid.valid_from_scl(scl), np.ones((20, 20), bool))
    np.testing.assert_array_equal(np.isnan(red), hidden)
    assert ds.attrs["scl_mask"] == sorted(data.bands.SCL_INVALID)


def test_pixel_check_does_not_misfire_on_the_real_desert():
    """99 % of the real tile's clear pixels are above DN 1000 in every band, as DNs carrying
    +1000 would be: a check that read that as "+1000" would darken every bright desert by 0.1.
    With no vegetation or water in the tile, the check must not decide."""
    dn = np.stack([_real(b, SPEC_29RKH) for b in ("B02", "B04", "B8A", "B11")])
    scl = _real("SCL", SPEC_29RKH)
    land = np.isin(scl, [4, 5])
    assert (dn[:, land] > 1000).mean() > 0.95
    scale, why = _grid.dn_scale(dn, ("B02", "B04", "B8A", "B11"), scl)
    assert scale is None and "no vegetation or water" in why


# ----------------------------------------------------------------------------- a mixed-flag day
ES_ITEMS = {k: replay.recorded(f"earth-search/items/sentinel-2-l2a_S2B_24{k}_20250731_0_L2A.json")
            for k in ("MVV", "MWV")}
#: A window in the overlap of the real tiles 24MVV and 24MWV (same UTM zone, same datatake).
SPEC_24M = SceneSpec(name="overlap24m", epsg=32724, left=501_000.0, top=9_490_000.0,
                     resolution_m=20.0, height=80, width=120, pre_date="2025-07-31",
                     post_date="2025-07-31", event="none", bands=("B02", "B04", "B8A", "B11"))
ASSETS = {"B02": "blue", "B04": "red", "B8A": "nir08", "B11": "swir16"}
#: Generated surface reflectance per SCL class: vegetation, bare soil, water.
SURFACE = {4: (0.04, 0.035, 0.31, 0.18), 5: (0.12, 0.16, 0.26, 0.31), 6: (0.05, 0.03, 0.02, 0.01)}


MARGIN_24M = 4


def _truth() -> np.ndarray:
    """The generated reflectance on the window itself."""
    m = MARGIN_24M
    return _ground(SPEC_24M, m)[1][:, m:-m, m:-m]


def _ground(spec: SceneSpec, margin: int) -> tuple[np.ndarray, np.ndarray]:
    """Generated SCL classes and reflectance (band, y, x) on the window's 20 m grid + margin."""
    h, w = spec.height + 2 * margin, spec.width + 2 * margin
    r, c = np.mgrid[0:h, 0:w]
    scl = np.full((h, w), 4, np.uint8)
    scl[(r // 7 + c // 11) % 5 == 0] = 5
    scl[(r > h // 2) & (r < h // 2 + 6)] = 6  # a river
    refl = np.stack([np.choose(np.searchsorted([4, 5, 6], scl), [SURFACE[k][i] for k in (4, 5, 6)])
                     + 0.002 * ((r * 3 + c) % 5) for i in range(4)]).astype(np.float32)
    return scl, refl


def _mixed_items(srv: LoopbackServer, tmp: Path, flags: dict[str, bool],
                 plus1000: dict[str, bool], left_half: str) -> list[dict]:
    """The two real recorded items (hosts rewritten, flags as given) over generated pixels
    written into sparse files on their real tile grids; ``left_half`` covers only the left half
    of the window (the rest nodata, as beyond a swath edge)."""
    margin = MARGIN_24M
    scl, refl = _ground(SPEC_24M, margin)
    out = []
    for key, item in ES_ITEMS.items():
        item = replay.rewrite(item, {replay.ES_COGS: srv.url()})
        item["properties"]["earthsearch:boa_offset_applied"] = flags[key]
        keep = np.ones(scl.shape, bool)
        if key == left_half:
            keep[:, margin + SPEC_24M.width // 2:] = False
        layers = {ASSETS[b]: np.where(keep, np.round(refl[i] * 10_000) + 1000 * plus1000[key],
                                      0).astype(np.uint16) for i, b in enumerate(ASSETS)}
        layers["scl"] = np.where(keep, scl, 0).astype(np.uint8)
        for asset, arr in layers.items():
            meta = item["assets"][asset]
            tf = rasterio.Affine(*meta["proj:transform"][:6])
            res = tf.a
            col = int(round((SPEC_24M.left - margin * 20 - tf.c) / res))
            row = int(round((tf.f - SPEC_24M.top - margin * 20) / res))
            if res == 10:
                arr = np.kron(arr, np.ones((2, 2), arr.dtype))
            srv.add_bytes(meta["href"].removeprefix(srv.url()), replay.write_tif(
                tmp / f"{key}-{asset}.tif", arr, tf, f"EPSG:{SPEC_24M.epsg}", 0,
                full_shape=tuple(meta["proj:shape"]), row=row, col=col))
        out.append(item)
    return out


def _load_day(srv, items):
    landing = replay.rewrite(replay.recorded("earth-search/landing.json"),
                             {replay.EARTH_SEARCH: srv.url()})
    root = replay.serve_stac_api(srv, landing=landing, features=items)
    cat = dataclasses.replace(stac.CATALOGS["earth-search"], url=root)
    client = stac.open_client(cat)
    return stac.load_date(client, cat, SPEC_24M, SPEC_24M.bands, date(2025, 7, 31),
                          search_days=1, max_cloud=1.0, max_candidates=2)


def test_mixed_flag_day_gets_each_items_own_offset(tmp_path, online):
    """Two real items of one day, one flagged ``boa_offset_applied: true`` (DNs already without
    the +1000), one ``false`` (DNs still carrying it), each covering part of the window: every
    pixel must come out at its true reflectance. One offset per day leaves half the window off
    by 0.1."""
    with LoopbackServer() as srv:
        items = _mixed_items(srv, tmp_path, flags={"MVV": True, "MWV": False},
                             plus1000={"MVV": False, "MWV": True}, left_half="MWV")
        refl, valid, acq = _load_day(srv, items)
    assert valid.all()
    np.testing.assert_allclose(refl, _truth(), atol=1e-4)
    by_id = {d["id"]: d["offset"] for d in acq.items}
    assert by_id == {"S2B_24MVV_20250731_0_L2A": 0, "S2B_24MWV_20250731_0_L2A": -1000}
    assert acq.offset is None and "per item" in acq.offset_note


def test_flag_true_but_pixels_still_carry_the_offset(tmp_path, online):
    """The flag is wrong the other way on one item: its pixels (vegetation and water darker
    than DN 1000 would allow) overrule it, with a warning; both halves come out right."""
    with LoopbackServer() as srv:
        items = _mixed_items(srv, tmp_path, flags={"MVV": True, "MWV": True},
                             plus1000={"MVV": False, "MWV": True}, left_half="MWV")
        with pytest.warns(UserWarning, match="S2B_24MWV.*still carrying \\+1000.*-1000"):
            refl, _, acq = _load_day(srv, items)
    np.testing.assert_allclose(refl, _truth(), atol=1e-4)
    assert "pixels overrule" in {d["id"]: d["note"] for d in acq.items}["S2B_24MWV_20250731_0_L2A"]


def test_reprocessed_old_product_follows_its_baseline():
    """A 2019 acquisition reprocessed as Collection-1 (baseline 05.00) needs -1000; without
    the baseline property its product name or processing date says so, not its date."""
    item = _pystac(replay.recorded("planetary-computer/items/sentinel-2-l2a_S2A_MSIL2A_20190101"
                                   "T000001_R116_T58UFE_20201007T214651.json"))
    assert stac.item_offset(item)[:2] == (0, "02.12")  # as recorded: processed 2020, 02.12
    props = item.properties
    del props["s2:processing_baseline"]
    for key in ("s2:granule_id", "s2:datatake_id", "s2:datastrip_id"):
        props.pop(key)
    props["s2:product_uri"] = "S2A_MSIL2A_20190101T000001_N0500_R116_T58UFE_20230225T120000.SAFE"
    assert stac.item_offset(item)[:2] == (-1000, "05.00")
    del props["s2:product_uri"]
    props["s2:generation_time"] = "2023-02-25T12:00:00.000Z"
    offset, _, why = stac.item_offset(item)
    assert offset == -1000 and "processing date 2023-02-25" in why


def _pystac(d):
    import pystac

    return pystac.Item.from_dict(d)


# ============================================================================ Planetary Computer
PC_ITEM = replay.recorded("planetary-computer/items/sentinel-2-l2a_S2A_MSIL2A_20190101T000001_R116"
                          "_T58UFE_20201007T214651.json")
LUDING = get_scene("luding")
TOKEN = "st=2025-07-31T00%3A00%3A00Z&se=2025-08-01T00%3A00%3A00Z&sp=rl&sv=2021-06-08&sr=c&sig=abc%3D"


def _luding_tiles(margin: int = 10) -> dict[str, np.ndarray]:
    """Generated DNs (20 m, Luding window + margin) for B04, B8A and SCL."""
    h, w = LUDING.height + 2 * margin, LUDING.width + 2 * margin
    r, c = np.mgrid[0:h, 0:w]
    return {"B04": (400 + (r + c) % 50).astype(np.uint16),
            "B8A": (3000 + (r * 2 + c) % 300).astype(np.uint16),
            "SCL": np.full((h, w), 4, np.uint8)}


class PC:
    """A loopback Planetary Computer: API (recorded landing page and collection), blob storage
    that refuses unsigned reads, and a token service that can be made to stall."""

    def __init__(self, api: LoopbackServer, blob: LoopbackServer, tmp: Path) -> None:
        self.api, self.blob, self.tokens = api, blob, []
        margin = 10
        tf = from_origin(LUDING.left - margin * 20, LUDING.top + margin * 20, 20, 20)
        files = {k: replay.write_tif(tmp / f"{k}.tif", v, tf, f"EPSG:{LUDING.epsg}", 0)
                 for k, v in _luding_tiles(margin).items()}
        w, s, e, n = LUDING.bbox_lonlat()
        items = []
        for day, baseline in (("2021-11-05", "03.01"), ("2022-11-20", "04.00")):
            stamp = day.replace("-", "")
            name = f"S2A_MSIL2A_{stamp}T034009_N{baseline.replace('.', '')}_R061_T47RQP_{stamp}T070000"
            assets = {}
            for key, payload in files.items():
                path = f"/sentinel2-l2/47/R/QP/{day}/{name}.SAFE/{key}_20m.tif"
                blob.add_bytes(path, payload if day < "2022" else _shift(tmp, key, margin))
                blob.protect_query(path, "sig=")
                assets[key] = {"href": replay.PC_BLOB + path, "proj:shape": [LUDING.height + 2 * margin,
                                                                           LUDING.width + 2 * margin],
                               "proj:transform": list(tf)[:6]}
            item = replay.item_from_template(
                PC_ITEM, item_id=name, when=f"{day}T04:02:00Z", epsg=LUDING.epsg,
                bbox=(w - 0.05, s - 0.05, e + 0.05, n + 0.05), assets=assets,
                properties={"s2:processing_baseline": baseline, "s2:product_uri": name + ".SAFE",
                            "eo:cloud_cover": 3.0, "s2:granule_id": None,
                            "s2:datatake_id": None, "s2:datastrip_id": None})
            items.append(replay.rewrite(item, {replay.PC_BLOB: blob.url()}))
        dem = replay.dem_item(blob, tmp, LUDING.bbox_lonlat(), href_path="/dem/dem.tif")
        landing = replay.rewrite(replay.recorded("planetary-computer/landing.json"),
                                 {replay.PLANETARY: api.url()})
        collection = replay.rewrite(replay.recorded("planetary-computer/collection-sentinel-2-l2a.json"),
                                    {replay.PLANETARY: api.url()})
        self.root = replay.serve_stac_api(api, landing=landing, features=[*items, dem],
                                          collections=[collection])
        blob.protect_query("/dem/dem.tif", "sig=")
        for col in ("sentinel-2-l2a", "cop-dem-glo-30"):
            api.add_handler("GET", f"/api/sas/v1/token/{col}", self._token(col))
        self.token_url = api.url("/api/sas/v1/token")

    def _token(self, col):
        def handle(req: Request):
            self.tokens.append(col)
            return 200, {"msft:expiry": "2099-01-01T00:00:00Z", "token": TOKEN}
        return handle


def _shift(tmp: Path, key: str, margin: int) -> bytes:
    """The post-event files of baseline 04.00: DNs + 1000 (SCL unchanged)."""
    tf = from_origin(LUDING.left - margin * 20, LUDING.top + margin * 20, 20, 20)
    arr = _luding_tiles(margin)[key]
    arr = arr if key == "SCL" else arr + np.uint16(1000)
    return replay.write_tif(tmp / f"{key}-post.tif", arr, tf, f"EPSG:{LUDING.epsg}", 0)


@pytest.fixture
def pc(tmp_path, monkeypatch, online):
    with LoopbackServer() as api, LoopbackServer() as blob:
        server = PC(api, blob, tmp_path)
        monkeypatch.setenv("S2SLIDE_PLANETARY_COMPUTER_URL", server.root)
        monkeypatch.setenv("S2SLIDE_PC_TOKEN_URL", server.token_url)
        yield server


def test_load_scene_planetary_computer_through_the_settings(pc):
    """``load_scene(..., catalog="planetary-computer")`` as a student calls it reaches the
    replay through S2SLIDE_PLANETARY_COMPUTER_URL / S2SLIDE_PC_TOKEN_URL; every image read is
    signed, with one token request per collection for the whole load."""
    ds = data.load_scene("luding", source="live", catalog="planetary-computer",
                         bands=["B04", "B8A"], quiet=True)
    expect = _luding_tiles()["B04"][10:-10, 10:-10].astype(np.float32) / 10_000
    np.testing.assert_allclose(ds["pre"].sel(band="B04").values, expect, atol=1e-6)
    np.testing.assert_allclose(ds["post"].sel(band="B04").values, expect, atol=1e-6)
    assert json.loads(ds.attrs["provenance"])["catalog_url"] == pc.root
    reads = [q for m, p, q, _ in pc.blob.requests if m == "GET" and p.endswith(".tif")]
    assert reads and all("sig=" in q for q in reads)
    assert sorted(pc.tokens) == ["cop-dem-glo-30", "sentinel-2-l2a"]


def test_signing_is_bounded_and_its_failure_remembered(pc):
    """A token service that never answers: a clear error naming it after a few seconds (not
    minutes), and no second wait for the rest of the load."""
    for col in ("sentinel-2-l2a", "cop-dem-glo-30"):
        pc.api.stall(f"/api/sas/v1/token/{col}")
    start = time.perf_counter()
    cat = stac.get_catalog("planetary-computer")
    with pytest.raises(NetworkUnavailableError, match="token service.*2 tries.*earth-search"):
        client = stac.open_client(cat, timeout=1.0)
        client.s2slide_signer.attempts = 2
        stac.search_items(client, cat, collection="sentinel-2-l2a", bbox=LUDING.bbox_lonlat())
    first = time.perf_counter() - start
    assert first < 4.5
    asked = client.s2slide_signer.requests
    start = time.perf_counter()
    with pytest.raises(NetworkUnavailableError, match="token service"):
        stac.search_items(client, cat, collection="cop-dem-glo-30", bbox=LUDING.bbox_lonlat())
    assert time.perf_counter() - start < 0.5 and client.s2slide_signer.requests == asked == 2


# ============================================================================ Copernicus Data Space
RECORDS = replay.recorded("cdse/odata-search-eodag.json")
MTD = (replay.FIXTURES / "safe/MTD_MSIL2A_N0510_T21JUK.xml").read_text()
MANIFEST_BANDS = re.findall(r'href="\./(GRANULE/[^"]+/IMG_DATA/R20m/[^"]+_(?:B04|B8A|SCL)_20m\.jp2)"',
                            (replay.FIXTURES / "safe/manifest.safe").read_text())
DRIVER = "JP2OpenJPEG" if "JP2OpenJPEG" in rasterio.drivers.raster_driver_extensions().values() \
    else "GTiff"


def _encode(arr: np.ndarray, tmp: Path, margin: int) -> bytes:
    path = tmp / "band.jp2"
    opts = {"QUALITY": "100", "REVERSIBLE": "YES"} if DRIVER != "GTiff" else {}
    with rasterio.open(path, "w", driver=DRIVER, width=arr.shape[1], height=arr.shape[0], count=1,
                       dtype=arr.dtype, crs=f"EPSG:{LUDING.epsg}", transform=from_origin(
                           LUDING.left - margin * 20, LUDING.top + margin * 20, 20, 20), **opts) as d:
        d.write(arr, 1)
    return path.read_bytes()


def _safe(name: str, *, post: bool, tmp: Path) -> bytes:
    """A SAFE zip laid out as the recorded real manifest (its R20m member paths, tile and date
    renamed) holding generated B04, B8A, SCL; post-event: DN + 1000 and the real baseline-05.10
    MTD_MSIL2A.xml (BOA_ADD_OFFSET -1000), pre-event: that file without the offsets."""
    margin = 10
    tiles = _luding_tiles(margin)
    mtd = MTD if post else re.sub(r"<BOA_ADD_OFFSET_VALUES_LIST>.*?</BOA_ADD_OFFSET_VALUES_LIST>", "",
                                  MTD.replace("<PROCESSING_BASELINE>05.10", "<PROCESSING_BASELINE>03.01"),
                                  flags=re.S)
    buf = io.BytesIO()
    stamp = name.split("_")[2]
    with zipfile.ZipFile(buf, "w") as zf:
        for member in MANIFEST_BANDS:
            band = member.rsplit("_", 2)[-2]
            arr = tiles[band] if band == "SCL" or not post else tiles[band] + np.uint16(1000)
            member = member.replace("T51RVQ", "T47RQP").replace("20210319T023551", stamp)
            zf.writestr(f"{name}/{member}", _encode(arr, tmp, margin))
        zf.writestr(f"{name}/MTD_MSIL2A.xml", mtd)
    return buf.getvalue()


def _record(template: dict, *, pid: str, name: str, start: str, payload: bytes | None,
            size: int | None = None, md5: str | None = "auto") -> dict:
    """An L2A OData record built from a recorded real (L1C) record: same fields and attribute
    list; Id, Name, dates, type, ContentLength and Checksum replaced (no L2A record was recorded)."""
    rec = json.loads(json.dumps(template))
    rec.update(Id=pid, Name=name, ContentDate={"Start": start, "End": start},
               ContentLength=size if size is not None else (len(payload) if payload else None))
    digest = hashlib.md5(payload).hexdigest() if payload and md5 == "auto" else md5
    rec["Checksum"] = ([{"Value": digest, "Algorithm": "MD5", "ChecksumDate": start}]
                       if digest else None)
    for att in rec["Attributes"]:
        if att["Name"] == "productType":
            att["Value"] = "S2MSI2A"
        if att["Name"] == "cloudCover":
            att["Value"] = 2.0
    return rec


class CDSE:
    """A loopback Copernicus Data Space: login (at the recorded OpenID configuration's token
    path), OData search over the records, protected downloads."""

    def __init__(self, srv: LoopbackServer, tmp: Path) -> None:
        self.srv, self.records = srv, []
        token_path = "/" + RECORD_OPENID["token_endpoint"].split("/", 3)[3]
        self.token_url = srv.url(token_path)
        srv.add_handler("POST", token_path, lambda r: (200, {"access_token": "tok", "expires_in": 600,
                                                             "refresh_token": "ref"}))
        srv.add_handler("GET", "/odata/v1/Products", self._search)
        self.odata_url = srv.url("/odata/v1/Products")
        self.download_url = srv.url("/download/odata/v1/Products")
        self.tmp = tmp

    def add(self, pid: str, name: str, start: str, payload: bytes, **kw) -> dict:
        rec = _record(RECORDS["value"][0], pid=pid, name=name, start=start, payload=payload, **kw)
        path = f"/download/odata/v1/Products({pid})/$value"
        self.srv.add_bytes(path, payload)
        self.srv.protect(path, {"tok"})
        self.records.append(rec)
        return rec

    def _search(self, req: Request):
        if "$filter" not in req.query:  # the reachability probe: any page will do
            return 200, {"@odata.context": RECORDS["@odata.context"], "value": self.records[:1]}
        t0, t1 = re.findall(r"ContentDate/Start (?:ge|lt) (\S+)", req.query["$filter"][0])
        return 200, {"@odata.context": RECORDS["@odata.context"],
                     "value": [p for p in self.records if t0 <= p["ContentDate"]["Start"] < t1]}

    def session(self, **kw) -> cdse.CDSESession:
        return cdse.CDSESession(cdse.Credentials("student@example.org", "pw-123"),
                                token_url=self.token_url, odata_url=self.odata_url,
                                download_url=self.download_url, timeout=5, **kw)


RECORD_OPENID = replay.recorded("cdse/openid-configuration.json")
PRE = "S2B_MSIL2A_20211105T034009_N0301_R061_T47RQP_20211105T070000.SAFE"
POST = "S2A_MSIL2A_20221120T034041_N0510_R061_T47RQP_20221120T065232.SAFE"


@pytest.fixture
def copernicus(tmp_path):
    with LoopbackServer() as srv:
        yield CDSE(srv, tmp_path)


def test_load_scene_cdse_through_the_settings(copernicus, tmp_path, monkeypatch, online):
    """``load_scene(..., route="cdse")`` reaches the replay through CDSE_*_URL (and the DEM
    through S2SLIDE_EARTH_SEARCH_URL); the real MTD's BOA_ADD_OFFSET harmonises the 05.10
    product against the 03.01 one."""
    copernicus.add("aaaa", PRE, "2021-11-05T03:40:09.024Z", _safe(PRE, post=False, tmp=tmp_path))
    copernicus.add("bbbb", POST, "2022-11-20T03:40:41.024Z", _safe(POST, post=True, tmp=tmp_path))
    with LoopbackServer() as es:
        landing = replay.rewrite(replay.recorded("earth-search/landing.json"),
                                 {replay.EARTH_SEARCH: es.url()})
        root = replay.serve_stac_api(es, landing=landing, features=[
            replay.dem_item(es, tmp_path, LUDING.bbox_lonlat())])
        for var, value in {"CDSE_ODATA_URL": copernicus.odata_url,
                           "CDSE_TOKEN_URL": copernicus.token_url,
                           "CDSE_DOWNLOAD_URL": copernicus.download_url,
                           "S2SLIDE_EARTH_SEARCH_URL": root, "CDSE_USERNAME": "student@example.org",
                           "CDSE_PASSWORD": "pw-123"}.items():
            monkeypatch.setenv(var, value)
        ds = data.load_scene("luding", source="live", route="cdse", bands=["B04", "B8A"],
                             download_dir=str(tmp_path / "dl"), progress=False, quiet=True)
    expect = _luding_tiles()["B8A"][10:-10, 10:-10].astype(np.float32) / 10_000
    for when in ("pre", "post"):
        np.testing.assert_allclose(ds[when].sel(band="B8A").values, expect, atol=1e-6)
    prov = json.loads(ds.attrs["provenance"])
    assert prov["catalog_url"] == copernicus.odata_url and prov["post"]["offset"] == -1000
    assert "MTD_MSIL2A" in prov["post"]["offset_note"]
    assert "MD5 matches" in prov["post"]["items"][0]["download"]


def test_content_length_differs_from_what_is_sent(copernicus, tmp_path):
    """The real record's ContentLength (224105657 bytes) against a server sending other bytes:
    a clear size mismatch at once, not HTTP 416, and no .part left."""
    payload = b"not the product" * 100
    real = RECORDS["value"][0]
    rec = copernicus.add(real["Id"], real["Name"], real["ContentDate"]["Start"], payload,
                         size=real["ContentLength"], md5=real["Checksum"][0]["Value"])
    assert rec["ContentLength"] == 224105657
    with pytest.raises(ChecksumError, match="announces 1500 bytes.*ContentLength is 224105657"):
        copernicus.session().download(rec, tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_resume_beyond_the_served_size_is_a_clear_mismatch(copernicus, tmp_path):
    """A kept .part as long as the catalogue's size but the server holds fewer bytes (HTTP 416
    on the resume): a clear error and the .part is removed."""
    payload = b"x" * 1000
    rec = copernicus.add("cccc", PRE, "2021-11-05T03:40:09.024Z", payload, size=2000, md5=None)
    part = tmp_path / (PRE.removesuffix(".SAFE") + ".zip.part")
    part.write_bytes(b"x" * 1500)
    with pytest.raises(ChecksumError, match="server holds 1000 bytes.*ContentLength says 2000"):
        copernicus.session().download(rec, tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_md5_mismatch_and_missing_checksum(copernicus, tmp_path):
    payload = b"y" * 3000
    bad = copernicus.add("dddd", PRE, "2021-11-05T03:40:09.024Z", payload, md5="0" * 32)
    with pytest.raises(ChecksumError, match="MD5"):
        copernicus.session().download(bad, tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []
    none = copernicus.add("eeee", POST, "2022-11-20T03:40:41.024Z", payload, md5=None)
    session = copernicus.session()
    with pytest.warns(UserWarning, match="MD5 not checked"):
        path = session.download(none, tmp_path, progress=False)
    assert path.read_bytes() == payload
    assert "MD5 not checked: the catalogue gives no MD5" in session.checks[path.name]


def test_token_follows_redirects_to_copernicus_hosts_only(copernicus, tmp_path, monkeypatch):
    """The download service redirects to another host: the token is sent again to a Copernicus
    host (here ``localhost``, counted as one) and never to any other (``127.0.0.1`` on another
    port)."""
    monkeypatch.setattr(cdse, "COPERNICUS_DOMAINS",
                        (*getattr(cdse, "COPERNICUS_DOMAINS", ()), "localhost"), raising=False)
    payload = b"z" * 5000
    rec = copernicus.add("ffff", POST, "2022-11-20T03:40:41.024Z", payload)
    with LoopbackServer() as other:
        other.add_bytes("/eodata/ffff.zip", payload)
        other.protect("/eodata/ffff.zip", {"tok"})
        src = f"/download/odata/v1/Products({rec['Id']})/$value"
        copernicus.srv.redirect(src, f"http://localhost:{other.port}/eodata/ffff.zip")
        path = copernicus.session().download(rec, tmp_path, progress=False)
        assert path.read_bytes() == payload
        assert other.requests[-1][3] == "Bearer tok"
        path.unlink()
        copernicus.srv.redirect(src, other.url("/eodata/ffff.zip"))  # 127.0.0.1: not Copernicus
        with pytest.raises(AuthenticationError, match="even after a refresh"):
            copernicus.session().download(rec, tmp_path, progress=False, attempts=1)
        assert all(auth == "" for _, _, _, auth in other.requests[1:])
