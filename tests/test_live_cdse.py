"""The Copernicus Data Space route against a loopback server (token, OData, download; no network).

The server on 127.0.0.1 implements the token endpoint (form POST; wrong password -> 401), the
OData search and the product download (bearer token, HTTP Range, a cut connection) of small
SAFE-like zips built here with real JPEG 2000 band files.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import time
import zipfile

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from loopback import LoopbackServer, Request
from s2slide.errors import (AuthenticationError, ChecksumError, DownloadError,
                            MissingBandError, NetworkUnavailableError, SceneNotFoundError)
from s2slide.data.live import _grid, cdse
from s2slide.data.scenes import SceneSpec

USER, PASSWORD = "student@example.org", "s3cret-Pa55"
SPEC = SceneSpec(name="testarea", epsg=32647, left=799_340.0, top=3_276_320.0,
                 resolution_m=20.0, height=60, width=80, pre_date="2021-11-05",
                 post_date="2022-11-20", event="test", bands=("B02", "B03", "B04", "B8A", "B11"))
MARGIN = 20
DRIVER = "JP2OpenJPEG" if "JP2OpenJPEG" in rasterio.drivers.raster_driver_extensions().values() \
    else "GTiff"


def _base20() -> np.ndarray:
    r, c = np.mgrid[0:SPEC.height + 2 * MARGIN, 0:SPEC.width + 2 * MARGIN]
    return (1200 + (r * 7 + c * 3) % 800).astype(np.uint16)


def _encode(arr: np.ndarray, res: float, tmp) -> bytes:
    path = tmp / f"band.{'jp2' if DRIVER != 'GTiff' else 'tif'}"
    opts = {"QUALITY": "100", "REVERSIBLE": "YES"} if DRIVER != "GTiff" else {}
    with rasterio.open(path, "w", driver=DRIVER, width=arr.shape[1], height=arr.shape[0],
                       count=1, dtype=arr.dtype, crs=f"EPSG:{SPEC.epsg}",
                       transform=from_origin(SPEC.left - MARGIN * 20, SPEC.top + MARGIN * 20,
                                             res, res), **opts) as dst:
        dst.write(arr, 1)
    return path.read_bytes()


def _safe_zip(tmp, *, name: str, shift: int, mtd_offsets: bool, cloudy: bool = False) -> bytes:
    """A SAFE-like zip: R20m bands + SCL (JPEG 2000), an R10m B02 and B08, MTD_MSIL2A.xml."""
    base = _base20() + np.uint16(shift)
    scl = np.full(base.shape, 9 if cloudy else 4, np.uint8)
    scl[MARGIN:MARGIN + 10, MARGIN:MARGIN + 10] = 8  # a small cloud in the window's corner
    tile, stamp = "T47RQP", name.split("_")[2]
    granule = f"{name}/GRANULE/L2A_{tile}_A000000_{stamp}/IMG_DATA"
    ext = "jp2" if DRIVER != "GTiff" else "tif"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for band in ("B02", "B03", "B04", "B05", "B8A", "B11", "B12"):
            zf.writestr(f"{granule}/R20m/{tile}_{stamp}_{band}_20m.{ext}", _encode(base, 20, tmp))
        zf.writestr(f"{granule}/R20m/{tile}_{stamp}_SCL_20m.{ext}", _encode(scl, 20, tmp))
        ten = np.kron(base, np.ones((2, 2), np.uint16))
        for band in ("B02", "B08"):
            zf.writestr(f"{granule}/R10m/{tile}_{stamp}_{band}_10m.{ext}", _encode(ten, 10, tmp))
        offsets = "".join(f'<BOA_ADD_OFFSET band_id="{i}">-1000</BOA_ADD_OFFSET>'
                          for i in range(13)) if mtd_offsets else ""
        zf.writestr(f"{name}/MTD_MSIL2A.xml", f"<root><BOA_ADD_OFFSET_VALUES_LIST>{offsets}"
                                              "</BOA_ADD_OFFSET_VALUES_LIST></root>")
    return buf.getvalue()


def _product(srv, tmp, pid, name, start, data, cloud=2.0):
    srv.add_bytes(f"/download/Products({pid})/$value", data)
    return {"Id": pid, "Name": name, "ContentLength": len(data), "Online": True,
            "ContentDate": {"Start": start, "End": start},
            "Checksum": [{"Algorithm": "MD5", "Value": hashlib.md5(data).hexdigest()}],
            "Attributes": [{"Name": "cloudCover", "Value": cloud, "ValueType": "Double"},
                           {"Name": "productType", "Value": "S2MSI2A", "ValueType": "String"}]}


class Fake:
    """The loopback CDSE: token endpoint, OData search, protected downloads."""

    def __init__(self, srv, tmp):
        self.srv, self.tokens, self.grants = srv, {"tok-1", "tok-2"}, []
        pre = "S2B_MSIL2A_20211105T034009_N0301_R061_T47RQP_20211105T070000.SAFE"
        post = "S2A_MSIL2A_20221120T034041_N0400_R061_T47RQP_20221120T065232.SAFE"
        cloudy = "S2A_MSIL2A_20220301T034041_N0400_R061_T47RQP_20220301T065232.SAFE"
        self.products = [
            _product(srv, tmp, "aaaa-pre", pre, "2021-11-05T03:40:09.024Z",
                     _safe_zip(tmp, name=pre, shift=0, mtd_offsets=False)),
            _product(srv, tmp, "bbbb-post", post, "2022-11-20T03:40:41.024Z",
                     _safe_zip(tmp, name=post, shift=1000, mtd_offsets=True)),
            _product(srv, tmp, "cccc-cloudy", cloudy, "2022-03-01T03:40:41.024Z",
                     _safe_zip(tmp, name=cloudy, shift=1000, mtd_offsets=True, cloudy=True), 95.0),
        ]
        for p in self.products:
            srv.protect(f"/download/Products({p['Id']})/$value", self.tokens)
        srv.add_handler("POST", "/token", self.token)
        srv.add_handler("GET", "/odata/Products", self.search)

    def token(self, req: Request):
        form = req.form()
        self.grants.append(form.get("grant_type"))
        assert form.get("client_id") == "cdse-public"
        if form.get("grant_type") == "refresh_token" and form.get("refresh_token") == "ref-1":
            return 200, {"access_token": "tok-2", "refresh_token": "ref-2", "expires_in": 600}
        if form.get("username") == USER and form.get("password") == PASSWORD:
            return 200, {"access_token": "tok-1", "refresh_token": "ref-1", "expires_in": 600}
        return 401, {"error": "invalid_grant", "error_description": "Invalid user credentials"}

    def search(self, req: Request):
        flt = req.query["$filter"][0]
        assert "Collection/Name eq 'SENTINEL-2'" in flt and "'S2MSI2A'" in flt
        assert "OData.CSC.Intersects(area=geography'SRID=4326;POLYGON((" in flt
        t0, t1 = re.findall(r"ContentDate/Start (?:ge|lt) (\S+)", flt)
        hits = [p for p in self.products if t0 <= p["ContentDate"]["Start"] < t1]
        return 200, {"@odata.context": "$metadata#Products", "value": hits}

    def session(self, password=PASSWORD):
        return cdse.CDSESession(cdse.Credentials(USER, password),
                                token_url=self.srv.url("/token"),
                                odata_url=self.srv.url("/odata/Products"),
                                download_url=self.srv.url("/download/Products"), timeout=10)


@pytest.fixture
def fake(tmp_path_factory):
    with LoopbackServer() as srv:
        yield Fake(srv, tmp_path_factory.mktemp("safe"))


# ----------------------------------------------------------------------------- credentials
def test_credentials_are_hidden_and_read_from_env(monkeypatch):
    monkeypatch.setenv("CDSE_USERNAME", USER)
    monkeypatch.setenv("CDSE_PASSWORD", PASSWORD)
    cred = cdse.Credentials.from_env_or_prompt()
    assert (cred.username, cred.password) == (USER, PASSWORD)
    for text in (repr(cred), str(cred), repr(cdse.CDSESession(cred))):
        assert PASSWORD not in text and USER not in text


def test_credentials_prompt_with_getpass(monkeypatch):
    monkeypatch.delenv("CDSE_USERNAME", raising=False)
    monkeypatch.delenv("CDSE_PASSWORD", raising=False)
    answers = iter([USER, PASSWORD])
    prompts = []
    monkeypatch.setattr(cdse.getpass, "getpass", lambda p: prompts.append(p) or next(answers))
    assert cdse.Credentials.from_env_or_prompt().password == PASSWORD
    assert len(prompts) == 2 and "password" in prompts[1]
    monkeypatch.setattr(cdse.getpass, "getpass", lambda p: "")
    with pytest.raises(AuthenticationError, match="CDSE_USERNAME"):
        cdse.Credentials.from_env_or_prompt()


def test_wrong_password(fake):
    with pytest.raises(AuthenticationError, match="401.*CDSE_PASSWORD") as info:
        fake.session(password="wrong").login()
    assert "wrong" not in str(info.value) and PASSWORD not in str(info.value)


def test_endpoints_overridable_by_env(monkeypatch):
    monkeypatch.setenv("CDSE_ODATA_URL", "http://127.0.0.1:9/odata")
    assert cdse.CDSESession(cdse.Credentials("u", "p")).odata_url == "http://127.0.0.1:9/odata"
    assert cdse.endpoint("token") == cdse.TOKEN_URL
    assert cdse.endpoint("token", "http://x/t") == "http://x/t"


# ----------------------------------------------------------------------------- search
def test_search_filters_dates_and_type(fake):
    session = fake.session()
    hits = session.search(cdse.scene_polygon(SPEC), "2021-11-01", "2021-11-10")
    assert [p["Id"] for p in hits] == ["aaaa-pre"]
    assert session.search(cdse.scene_polygon(SPEC), "2020-01-01", "2020-01-02") == []


def test_empty_search_lists_nearest_dates(fake, tmp_path):
    with pytest.raises(SceneNotFoundError, match=r"nearest dates.*2021-11-05"):
        cdse.load_date(fake.session(), SPEC, ("B04",), _grid.parse_day("2021-10-01", "", ""),
                       search_days=5, max_cloud=0.2, max_candidates=2, folder=tmp_path,
                       progress=False)


# ----------------------------------------------------------------------------- download
def test_download_verifies_and_renames(fake, tmp_path):
    product = fake.products[0]
    path = fake.session().download(product, tmp_path, progress=False)
    assert path.name == product["Name"].removesuffix(".SAFE") + ".zip"
    assert hashlib.md5(path.read_bytes()).hexdigest() == product["Checksum"][0]["Value"]
    assert not list(tmp_path.glob("*.part"))
    assert fake.session().download(product, tmp_path) == path  # already there: no transfer


def test_expired_token_is_refreshed_once(fake, tmp_path):
    fake.tokens.discard("tok-1")  # the first token has expired
    path = fake.session().download(fake.products[0], tmp_path, progress=False)
    assert path.exists() and fake.grants == ["password", "refresh_token"]


def test_token_refused_after_refresh(fake, tmp_path):
    fake.tokens.clear()
    with pytest.raises(AuthenticationError, match="even after a refresh"):
        fake.session().download(fake.products[0], tmp_path, progress=False)
    assert not list(tmp_path.glob("*.zip"))


def test_cut_download_leaves_no_final_file_and_resumes(fake, tmp_path):
    product = fake.products[1]
    path = f"/download/Products({product['Id']})/$value"
    half = product["ContentLength"] // 2
    fake.srv.cut_next_download(path, after=half)
    session = fake.session()
    with pytest.raises(DownloadError, match="cut.*download again"):
        session.download(product, tmp_path, attempts=1, progress=False)
    final = tmp_path / (product["Name"].removesuffix(".SAFE") + ".zip")
    part = final.with_name(final.name + ".part")
    have = part.stat().st_size  # what arrived, less the chunk being read when it was cut
    assert not final.exists() and 0 < have <= half
    assert session.download(product, tmp_path, progress=False) == final  # the retry resumes
    assert not part.exists()
    assert hashlib.md5(final.read_bytes()).hexdigest() == product["Checksum"][0]["Value"]
    assert ("GET", path, f"bytes={have}-") in fake.srv.log


def test_cut_download_is_resumed_within_attempts(fake, tmp_path):
    product = fake.products[0]
    fake.srv.cut_next_download(f"/download/Products({product['Id']})/$value", after=1000)
    assert fake.session().download(product, tmp_path, attempts=2, progress=False).exists()


def test_checksum_mismatch_deletes_the_file(fake, tmp_path):
    product = dict(fake.products[0], Checksum=[{"Algorithm": "MD5", "Value": "0" * 32}])
    with pytest.raises(ChecksumError, match="MD5"):
        fake.session().download(product, tmp_path, progress=False)
    assert not list(tmp_path.iterdir())


# ----------------------------------------------------------------------------- files
def test_only_needed_band_files_are_extracted(fake, tmp_path):
    zip_path = fake.session().download(fake.products[1], tmp_path, progress=False)
    paths, mtd = cdse.extract_bands(zip_path, ("B02", "B8A", "B08"), resolution_m=20.0,
                                    folder=tmp_path / "x")
    assert paths["B02"].name.endswith("_B02_20m." + paths["B02"].suffix[1:])
    assert "R10m" in str(paths["B08"]) and "R20m" in str(paths["SCL"])
    files = sorted(p.name for p in (tmp_path / "x").rglob("*") if p.is_file())
    assert len(files) == 5 and "MTD_MSIL2A.xml" in files  # B02, B8A, B08, SCL + metadata
    offsets, note = cdse.read_offsets(mtd, "04.00", _grid.parse_day("2022-11-20", "", ""))
    assert offsets["B8A"] == -1000 and "MTD_MSIL2A" in note
    with pytest.raises(MissingBandError, match="B09"):
        cdse.extract_bands(zip_path, ("B09",), resolution_m=20.0, folder=tmp_path / "y")


def test_product_name_fields():
    p = {"Name": "S2A_MSIL2A_20221120T034041_N0509_R061_T47RQP_20221120T065232.SAFE"}
    assert cdse.product_baseline(p) == "05.09" and cdse.product_tile(p) == "T47RQP"


# ----------------------------------------------------------------------------- end to end
def test_load_cdse_end_to_end(fake, tmp_path, monkeypatch):
    plane = np.tile(np.arange(SPEC.height, dtype=np.float32)[:, None] * 10.0, (1, SPEC.width))
    monkeypatch.setattr(cdse, "_load_dem", lambda spec, cat, **kw: (plane, {"source": "test plane"}))
    ds = cdse.load_cdse(SPEC, session=fake.session(), download_dir=tmp_path, progress=False)
    expect = _base20()[MARGIN:-MARGIN, MARGIN:-MARGIN].astype(np.float32) / 10_000
    valid = ds["valid"].values
    assert ds["pre"].shape == (5, 60, 80) and ds["pre"].dtype == np.float32
    assert not valid[:10, :10].any() and valid[10:, 10:].all()
    for b in range(5):  # N0301 with no offset and N0400 (DN + 1000, MTD offsets) agree
        np.testing.assert_allclose(ds["pre"].values[b], expect, atol=1e-6)
        np.testing.assert_allclose(ds["post"].values[b], expect, atol=1e-6)
    assert ds.attrs["source"] == "live" and ds.attrs["pre_baseline"] == "03.01"
    assert ds.attrs["post_date"] == "2022-11-20" and "Copernicus Data Space" in ds.attrs["label"]
    prov = json.loads(ds.attrs["provenance"])
    assert prov["post"]["ids"][0].startswith("S2A_MSIL2A_20221120")
    assert "2021, 2022" in prov["licence"] and ds.rio.crs.to_epsg() == 32647
    np.testing.assert_allclose(ds["slope"].values, np.degrees(np.arctan(0.5)), atol=1e-4)


def test_all_cloud_product(fake, tmp_path):
    with pytest.raises(Exception, match=r"2022-03-01 \(100% cloud\)"):
        cdse.load_date(fake.session(), SPEC, ("B04",), _grid.parse_day("2022-03-01", "", ""),
                       search_days=3, max_cloud=0.2, max_candidates=2, folder=tmp_path,
                       progress=False)


def test_no_network_and_offline(monkeypatch):
    with LoopbackServer() as srv:
        url = srv.url("/odata")
    session = cdse.CDSESession(cdse.Credentials("u", "p"), odata_url=url, timeout=2)
    with pytest.raises(NetworkUnavailableError, match="source='simulated'"):
        session.search(cdse.scene_polygon(SPEC), "2021-11-01", "2021-11-02")
    start = time.perf_counter()
    assert cdse.reachable() is False  # S2SLIDE_OFFLINE is set by conftest
    assert time.perf_counter() - start < 0.1


def test_offsets_of_the_real_baseline_0510_metadata_and_of_a_reprocessed_name(tmp_path):
    """The real MTD_MSIL2A.xml of baseline 05.10 gives -1000 for every band; without metadata a
    reprocessed 2019 product's name (N0500) decides, not its date."""
    from pathlib import Path

    import replay

    mtd = Path(replay.FIXTURES / "safe/MTD_MSIL2A_N0510_T21JUK.xml")
    offsets, note = cdse.read_offsets(mtd, None, _grid.parse_day("2023-01-01", "", ""))
    assert set(offsets.values()) == {-1000} and len(offsets) == 13 and "MTD_MSIL2A" in note
    name = "S2A_MSIL2A_20190101T000001_N0500_R116_T58UFE_20230225T120000.SAFE"
    offsets, note = cdse.read_offsets(None, cdse.product_baseline({"Name": name}),
                                      _grid.parse_day("2019-01-01", "", ""))
    assert offsets["B04"] == -1000 and "05.00" in note
