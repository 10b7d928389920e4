"""Bad input, network side (issue 17): servers that stall, trickle, drop and lie.

One test per case of the issue. Every server here is a loopback fake (tests/loopback.py): the
faults are what the issue measured against real code paths (a server sending one byte a second, a
token endpoint echoing its form, a captive portal's HTML...), not recordings. Each test bounds the
time it allows, so a hang fails instead of stalling the suite.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import replay
from loopback import LoopbackServer
from s2slide import data
from s2slide.data import net, registry
from s2slide.data.live import cdse, gee, stac
from s2slide.data.scenes import SceneSpec
from s2slide.errors import (AuthenticationError, DownloadError, NetworkUnavailableError,
                            S2SlideError, SceneNotFoundError)

USER, PASSWORD = "student@example.org", "p@ss w&rd=1"
REL = "kaikoura-2016/label_landslide_69.shp"  # a small registered file (1188 bytes)
TINY = SceneSpec(name="tiny", epsg=32647, left=799_340.0, top=3_276_320.0, resolution_m=20.0,
                 height=20, width=30, pre_date="2021-11-05", post_date="2022-11-20",
                 event="test", bands=("B04",))


@pytest.fixture
def srv(online):
    with LoopbackServer() as server:
        yield server


def _landing(server: LoopbackServer) -> str:
    """Earth Search's recorded landing page on ``server`` (host rewritten); returns its root."""
    landing = replay.rewrite(replay.recorded("earth-search/landing.json"),
                             {replay.EARTH_SEARCH: server.url()})
    return replay.serve_stac_api(server, landing=landing, features=[])


def _cat(url: str) -> stac.Catalog:
    return dataclasses.replace(stac.CATALOGS["earth-search"], url=url)


class Timer:
    def __enter__(self) -> "Timer":
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.start


def _mirror_from(server: LoopbackServer, monkeypatch, mirror: Path) -> None:
    """Registry addresses on ``server`` (which holds REL), no local mirror."""
    server.add_bytes("/" + REL, (mirror / REL).read_bytes())
    monkeypatch.setattr(registry, "url", lambda rel: server.url("/" + rel))
    monkeypatch.setenv("S2SLIDE_MIRROR", "")


# ----------------------------------------------------------------------------- hangs
def test_registry_fetch_from_a_trickling_server_is_cut_off(srv, monkeypatch, mirror):
    _mirror_from(srv, monkeypatch, mirror)
    srv.trickle("/" + REL, interval=0.1, body_only=True)
    with Timer() as t, pytest.raises(NetworkUnavailableError, match=r"sample file.*B/s|within"):
        registry.fetch(REL, progressbar=False, timeout=1)
    assert t.seconds < 3
    assert not list((Path(os.environ["S2SLIDE_CACHE"]) / "mirror").rglob("*.shp*"))


def test_load_stac_against_a_trickling_api_is_bounded(srv):
    root = _landing(srv)
    srv.trickle("/v1", interval=0.1)
    with Timer() as t, pytest.raises(NetworkUnavailableError, match="within 1 s"):
        stac.load_stac(TINY, catalog=_cat(root), timeout=1)
    assert t.seconds < 3


def test_stac_reachable_against_a_trickling_api_is_bounded(srv):
    root = _landing(srv)
    srv.trickle("/v1", interval=0.1)
    with Timer() as t:
        assert stac.reachable(_cat(root), timeout=1) is False
    assert t.seconds < 2.5


def test_load_scene_probe_against_a_trickling_api_is_two_seconds(srv, monkeypatch):
    root = _landing(srv)
    srv.trickle("/v1", interval=0.1)
    monkeypatch.setenv("S2SLIDE_EARTH_SEARCH_URL", root)
    with Timer() as t, pytest.raises(NetworkUnavailableError, match="did not answer within 2 s"):
        data.load_scene("luding", source="live")
    assert t.seconds < 4
    assert ("GET", "/v1", "") in srv.log  # the probe went to the setting's address


def test_cdse_download_trickling_is_cut_and_kept_to_resume(srv, tmp_path):
    payload = b"x" * 20_000
    srv.add_bytes("/dl/Products(p1)/$value", payload)
    srv.add_handler("POST", "/token", lambda r: (200, {"access_token": "tok"}))
    srv.trickle("/dl/Products(p1)/$value", interval=0.05, body_only=True)
    session = cdse.CDSESession(cdse.Credentials(USER, PASSWORD), token_url=srv.url("/token"),
                               download_url=srv.url("/dl/Products"), timeout=1)
    product = {"Id": "p1", "Name": "S2A_MSIL2A_20221120T034041_N0400_R061_T47RQP_2022.SAFE",
               "ContentLength": len(payload), "Checksum": None}
    with Timer() as t, pytest.raises(NetworkUnavailableError, match="B/s.*kept.*resumes"):
        session.download(product, tmp_path, progress=False)
    assert t.seconds < 3.5
    assert not list(tmp_path.glob("*.zip"))


def test_stac_server_that_never_answers_is_not_retried(srv):
    root = _landing(srv)
    srv.stall("/v1")
    with Timer() as t, pytest.raises(NetworkUnavailableError, match="within 1 s"):
        stac.load_stac(TINY, catalog=_cat(root), timeout=1)
    assert t.seconds < 2.5  # pystac-client's five retries took 6 x timeout


# ----------------------------------------------------------------------------- secrets
def test_token_error_echoing_the_form_keeps_the_password_out(srv):
    def echo(req):  # a login service that echoes what it received
        body = req.body.decode()
        return 401, {"error": "invalid_grant", "error_description": f"bad request: {body}"}

    srv.add_handler("POST", "/token", echo)
    session = cdse.CDSESession(cdse.Credentials(USER, PASSWORD), token_url=srv.url("/token"))
    with pytest.raises(AuthenticationError, match="refused the login") as info:
        session.login()
    text = str(info.value)
    for secret in (PASSWORD, "p%40ss+w%26rd%3D1", USER, "student%40example.org"):
        assert secret not in text
    assert "<hidden>" in text


def test_wrong_password_is_never_echoed(srv):
    srv.add_handler("POST", "/token", lambda r: (401, {"error": "invalid_grant",
                                                       "error_description": "Invalid user credentials"}))
    session = cdse.CDSESession(cdse.Credentials(USER, "wrong-secret"), token_url=srv.url("/token"))
    with pytest.raises(AuthenticationError, match="401.*CDSE_PASSWORD") as info:
        session.login()
    assert "wrong-secret" not in str(info.value) and "wrong-secret" not in repr(session)


# ----------------------------------------------------------------------------- files left behind
def test_kill_9_during_registry_fetch_leaves_nothing_for_good(srv, monkeypatch, mirror, tmp_path):
    """A process killed mid-download leaves its temporary file (nothing can prevent that); the
    next fetch removes it and completes, so that only the verified file remains."""
    _mirror_from(srv, monkeypatch, mirror)
    srv.trickle("/" + REL, interval=0.05, body_only=True)
    cache = Path(os.environ["S2SLIDE_CACHE"])
    script = textwrap.dedent(f"""
        from s2slide.data import registry
        registry.url = lambda rel: {srv.url('/')!r} + rel
        registry.fetch({REL!r}, progressbar=False)
    """)
    env = {**os.environ, "S2SLIDE_MIRROR": "", "S2SLIDE_CACHE": str(cache)}
    env.pop("S2SLIDE_OFFLINE", None)
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)

    def files() -> list[Path]:
        return [p for p in cache.rglob("*") if p.is_file()]

    try:
        deadline = time.time() + 30
        while time.time() < deadline and not files():
            time.sleep(0.1)
        left = files()
        assert left, "the download never started"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert all(p.exists() for p in left)  # what kill -9 leaves
    srv.state.faults.clear()
    path = registry.fetch(REL, progressbar=False)
    assert registry.sha256(path) == registry.FILES[REL].sha256
    assert files() == [path]


def test_connection_dropped_mid_download_leaves_no_partial_file(srv, monkeypatch, mirror):
    """One drop is retried; drops on every try end in a clear error; nothing partial stays."""
    _mirror_from(srv, monkeypatch, mirror)
    cache = Path(os.environ["S2SLIDE_CACHE"]) / "mirror"
    srv.cut_next_download("/" + REL, after=500, times=2)
    with pytest.raises(NetworkUnavailableError, match="dropped.*S2SLIDE_MIRROR"):
        registry.fetch(REL, progressbar=False)
    assert not [p for p in cache.rglob("*") if p.is_file()]
    srv.cut_next_download("/" + REL, after=500, times=1)
    path = registry.fetch(REL, progressbar=False)
    assert registry.sha256(path) == registry.FILES[REL].sha256
    assert [p for p in cache.rglob("*") if p.is_file()] == [path]


def test_a_disk_that_cannot_take_a_download_is_not_called_a_network_fault(srv, monkeypatch,
                                                                           mirror):
    """A write that fails is the disk's fault: DownloadError saying to free space, not a
    NetworkUnavailableError, and nothing partial left. The failure is a real one: a file-size
    limit of 500 bytes (EFBIG; a full disk gives ENOSPC the same way) in a child process."""
    _mirror_from(srv, monkeypatch, mirror)
    cache = Path(os.environ["S2SLIDE_CACHE"])
    script = textwrap.dedent(f"""
        import resource, signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        from s2slide.data import registry
        registry.url = lambda rel: {srv.url('/')!r} + rel
        resource.setrlimit(resource.RLIMIT_FSIZE, (500, resource.RLIM_INFINITY))
        try:
            registry.fetch({REL!r}, progressbar=False)
        except Exception as err:
            print(type(err).__name__, err)
    """)
    env = {**os.environ, "S2SLIDE_MIRROR": "", "S2SLIDE_CACHE": str(cache)}
    env.pop("S2SLIDE_OFFLINE", None)
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                         timeout=60).stdout
    assert out.startswith("DownloadError") and "free some space" in out, out
    assert not [p for p in cache.rglob("*") if p.is_file()]


def test_connection_dropped_mid_cdse_download_resumes(srv, tmp_path):
    payload = bytes(range(256)) * 40
    srv.add_bytes("/dl/Products(p2)/$value", payload)
    srv.add_handler("POST", "/token", lambda r: (200, {"access_token": "tok"}))
    srv.cut_next_download("/dl/Products(p2)/$value", after=3000)
    session = cdse.CDSESession(cdse.Credentials(USER, PASSWORD), token_url=srv.url("/token"),
                               download_url=srv.url("/dl/Products"), timeout=5)
    product = {"Id": "p2", "Name": "S2A_MSIL2A_X_N0400_R061_T47RQP_2022.SAFE",
               "ContentLength": len(payload),
               "Checksum": [{"Algorithm": "MD5", "Value": __import__("hashlib").md5(payload).hexdigest()}]}
    path = session.download(product, tmp_path, progress=False, attempts=2)
    assert path.read_bytes() == payload and not list(tmp_path.glob("*.part"))
    assert any(r.startswith("bytes=") for m, p, r in srv.log if p.endswith("(p2)/$value"))


# ----------------------------------------------------------------------------- replies that lie
def test_captive_portal_html_instead_of_the_catalogue(srv):
    srv.add_handler("GET", "/v1", lambda r: (200, b"<!DOCTYPE html><html><body>Welcome to "
                                                  b"CampusNet, please log in</body></html>",
                                             {"Content-Type": "text/html"}))
    with pytest.raises(NetworkUnavailableError, match="HTML page.*captive portal"):
        stac.load_stac(TINY, catalog=_cat(srv.url("/v1")), timeout=2)


def test_invalid_search_json(srv):
    root = _landing(srv)
    for method in ("GET", "POST"):
        srv.add_handler(method, "/v1/search", lambda r: (200, b'{"type": "FeatureCollection", '
                                                              b'"features": [', {"Content-Type":
                                                                                 "application/json"}))
    with pytest.raises(NetworkUnavailableError, match="not valid JSON.*try again"):
        stac.load_stac(TINY, catalog=_cat(root), timeout=2)


def test_token_reply_without_access_token(srv):
    srv.add_handler("POST", "/token", lambda r: (200, {"token_type": "Bearer", "expires_in": 600}))
    session = cdse.CDSESession(cdse.Credentials(USER, PASSWORD), token_url=srv.url("/token"))
    with pytest.raises(NetworkUnavailableError, match="without an access_token.*expires_in"):
        session.login()


def test_catalogue_answers_500(srv):
    root = _landing(srv)
    for method in ("GET", "POST"):
        srv.add_handler(method, "/v1/search", lambda r: (500, {"code": "InternalServerError"}))
    with pytest.raises(NetworkUnavailableError, match="HTTP 500.*try again in a few minutes"):
        stac.load_stac(TINY, catalog=_cat(root), timeout=2)


def test_catalogue_answers_404(srv, monkeypatch):
    monkeypatch.setenv("S2SLIDE_EARTH_SEARCH_URL", srv.url("/not-a-stac-api"))
    with pytest.raises(NetworkUnavailableError, match="HTTP 404.*S2SLIDE_EARTH_SEARCH_URL"):
        stac.load_stac(TINY, timeout=2)


def test_catalogue_answers_invalid_json_odata(srv):
    srv.add_handler("GET", "/odata", lambda r: (200, b"{'value': [}",
                                                {"Content-Type": "application/json"}))
    session = cdse.CDSESession(cdse.Credentials(USER, PASSWORD), odata_url=srv.url("/odata"))
    with pytest.raises(NetworkUnavailableError, match="Data Space catalogue.*not valid JSON"):
        session.search(cdse.scene_polygon(TINY), "2021-11-01", "2021-11-02")


def test_catalogue_answers_an_empty_result(srv):
    root = _landing(srv)
    with pytest.raises(SceneNotFoundError, match="no Sentinel-2 L2A product covers tiny"):
        stac.load_stac(TINY, catalog=_cat(root), timeout=2)


def test_corrupt_cog_is_reported_as_corrupt_not_unreachable(srv):
    good = replay.write_tif(Path(os.environ["S2SLIDE_CACHE"]) / "g.tif",
                            np.full((40, 40), 500, np.uint16),
                            replay.from_origin(TINY.left, TINY.top, 20, 20), "EPSG:32647", 0)
    srv.add_bytes("/cog/red.tif", good[:400] + b"\0" * (len(good) - 400))  # header kept, data lost
    w, s, e, n = TINY.bbox_lonlat()
    item = replay.item_from_template(
        replay.recorded("earth-search/items/sentinel-2-l2a_S2B_24MVV_20250731_0_L2A.json"),
        item_id="corrupt", when="2022-11-20T04:00:00Z", epsg=32647, bbox=(w, s, e, n),
        assets={"red": {"href": srv.url("/cog/red.tif"), "proj:shape": [40, 40],
                        "proj:transform": [20, 0, TINY.left, 0, -20, TINY.top]}}, properties={})
    import pystac

    with pytest.raises(DownloadError, match="not a readable GeoTIFF.*another date"):
        stac.read_window([pystac.Item.from_dict(item)], ["red"], TINY,
                         resampling={"red": "nearest"}, what="tiny 2022-11-20")


# ----------------------------------------------------------------------------- prompts, options
def test_cdse_prompt_without_a_terminal(monkeypatch):
    monkeypatch.delenv("CDSE_USERNAME", raising=False)
    monkeypatch.delenv("CDSE_PASSWORD", raising=False)

    def no_terminal(prompt=""):
        raise EOFError

    monkeypatch.setattr(cdse.getpass, "getpass", no_terminal)
    with pytest.raises(AuthenticationError, match="no terminal.*CDSE_USERNAME and CDSE_PASSWORD"):
        cdse.Credentials.from_env_or_prompt()


def test_gee_prompt_without_a_terminal(monkeypatch):
    for var in ("EE_PROJECT", "GOOGLE_CLOUD_PROJECT"):
        monkeypatch.delenv(var, raising=False)

    def no_terminal(prompt=""):
        raise EOFError

    monkeypatch.setattr("builtins.input", no_terminal)
    with pytest.raises(AuthenticationError, match="no terminal.*EE_PROJECT"):
        gee.project_id()


def test_documented_catalog_option_runs_offline(capsys):
    """``load_scene('luding', catalog='planetary-computer')`` (documented) falls back offline and
    says what it set aside (a small simulated scene, for time; the options path is the same)."""
    ds = data.load_scene("luding", catalog="planetary-computer", shape=(64, 64))
    assert ds.attrs["source"] == "simulated"
    assert "catalog set aside (live data only)" in capsys.readouterr().out


def test_a_bad_timeout_is_refused_clearly():
    with pytest.raises(S2SlideError, match="positive number of seconds"):
        with net.deadline(0):
            pass
