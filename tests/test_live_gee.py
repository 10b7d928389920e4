"""The Earth Engine route: availability answers fast and before ee.Initialize; geemap never prompts.

No test here talks to Google: Earth Engine pixels cannot be served from a loopback server, so
the pixel path is covered only through its pure helpers (grid request, band names, arrays).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import time
import types
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

from loopback import LoopbackServer
from s2slide.data import live
from s2slide.errors import AuthenticationError, NetworkUnavailableError, NoValidDataError
from s2slide.data import bands as data_bands
from s2slide.data.live import gee
from s2slide.data.scenes import get_scene


@pytest.fixture
def no_initialize(monkeypatch):
    """Fail the test if anything calls ee.Initialize or ee.Authenticate."""
    import ee

    def boom(*a, **k):
        raise AssertionError("ee.Initialize/Authenticate must not be called here")

    monkeypatch.setattr(ee, "Initialize", boom)
    monkeypatch.setattr(ee, "Authenticate", boom)


@pytest.fixture
def online_with_credentials(monkeypatch, tmp_path, online):
    cred = tmp_path / "credentials"
    cred.write_text('{"refresh_token": "not-a-real-token"}')
    import ee.oauth

    monkeypatch.setattr(ee.oauth, "get_credentials_path", lambda: str(cred))


def test_offline_answers_at_once(no_initialize):
    start = time.perf_counter()
    state = gee.available()
    assert time.perf_counter() - start < 1.0
    assert not state and state.ok is False and "S2SLIDE_OFFLINE" in state.reason
    assert live.reachable("gee") is False
    with pytest.raises(NetworkUnavailableError, match="S2SLIDE_OFFLINE"):
        gee.initialize("some-project")


def test_no_credentials_answers_at_once(monkeypatch, tmp_path, no_initialize, online):
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.delenv("EE_CREDENTIALS", raising=False)
    import ee.oauth

    monkeypatch.setattr(ee.oauth, "get_credentials_path", lambda: str(tmp_path / "none"))
    start = time.perf_counter()
    state = gee.available()
    assert time.perf_counter() - start < 1.0
    assert not state and "ee.Authenticate()" in state.reason and "EE_PROJECT" in state.reason


def test_unreachable_host_is_bounded_by_the_timeout(online_with_credentials, no_initialize):
    start = time.perf_counter()
    state = gee.available(timeout=0.5)  # the real host: no network here, or DNS hangs
    assert time.perf_counter() - start < 1.0
    if state:  # pragma: no cover - only on a machine with internet
        pytest.skip("this machine reaches Earth Engine")
    assert "cannot reach earthengine.googleapis.com" in state.reason
    with LoopbackServer() as srv:
        port = srv.port
    state = gee.available(timeout=0.5, host=("127.0.0.1", port))  # nothing listens there
    assert not state and "Refused" in state.reason


def test_reachable_host(online_with_credentials, no_initialize):
    with LoopbackServer() as srv:
        assert gee.available(timeout=1.0, host=("127.0.0.1", srv.port))


def test_project_from_env_or_prompt(monkeypatch):
    monkeypatch.setenv("EE_PROJECT", "env-project")
    assert gee.project_id() == "env-project" and gee.project_id("arg") == "arg"
    monkeypatch.delenv("EE_PROJECT")
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    monkeypatch.setattr("builtins.input", lambda prompt: " typed-project ")
    assert gee.project_id() == "typed-project"
    monkeypatch.setattr("builtins.input", lambda prompt: "")
    with pytest.raises(AuthenticationError, match="EE_PROJECT"):
        gee.project_id()


def test_map_needs_initialisation_and_never_lets_geemap_prompt(monkeypatch):
    calls = []
    fake_geemap = types.ModuleType("geemap")
    fake_geemap.Map = lambda **kw: calls.append(kw) or mock.MagicMock()
    monkeypatch.setitem(sys.modules, "geemap", fake_geemap)
    with pytest.raises(AuthenticationError, match="initialize"):
        gee.interactive_map("luding")  # Earth Engine not initialised: no map, no prompt
    assert calls == []
    monkeypatch.setattr(gee, "_require_initialized", lambda: mock.MagicMock())
    gee.interactive_map("luding", date="2022-11-20")
    assert calls == [{"ee_initialize": False}]


def test_every_geemap_map_call_passes_ee_initialize_false():
    tree = ast.parse(Path(gee.__file__).read_text())
    maps = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute) and n.func.attr == "Map"]
    assert maps
    for call in maps:
        kws = {k.arg: k.value for k in call.keywords}
        assert isinstance(kws.get("ee_initialize"), ast.Constant)
        assert kws["ee_initialize"].value is False


def test_import_is_light():
    code = "import sys, s2slide.data.live.gee; assert 'geemap' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_pixel_request_helpers():
    spec = get_scene("luding")
    grid = gee.pixel_grid(spec)
    assert grid["dimensions"] == {"width": 350, "height": 300}
    assert grid["affineTransform"]["translateX"] == spec.left
    assert grid["affineTransform"]["scaleY"] == -20.0 and grid["crsCode"] == "EPSG:32647"
    assert [gee.ee_band(b) for b in ("B02", "B8A", "B11", "SCL")] == ["B2", "B8A", "B11", "SCL"]
    arr = np.zeros((3, 4), dtype=[("B2", "u2"), ("SCL", "u1")])
    arr["B2"] = 1234
    stack = gee.structured_to_stack(arr, ["B2", "SCL"])
    assert stack.shape == (2, 3, 4) and stack[0, 0, 0] == 1234
    with pytest.raises(NoValidDataError, match="B8A"):
        gee.structured_to_stack(arr, ["B8A"])


class _Recorder:
    """Stands in for Earth Engine objects, for the two tests below only: Earth Engine builds no
    ``ee.Image`` without ``ee.Initialize`` (a server round trip), and no recording of its
    responses exists, so this fake, written here, records the calls made instead. ``map(fn)``
    runs ``fn`` on a recorded image, as Earth Engine traces a mapped function."""

    def __init__(self, name: str, log: list):
        self.name, self.log = name, log

    def __getattr__(self, attr: str):
        def call(*args, **kwargs):
            self.log.append((self.name, attr, args))
            if attr == "getInfo":
                return 2.5e6
            if attr == "map":
                args[0](_Recorder("image", self.log))
            return _Recorder(f"{self.name}.{attr}", self.log)
        return call


def test_clear_image_masks_the_scl_classes_before_a_composite():
    log: list = []
    gee.clear_image(_Recorder("image", log))
    invalid = sorted(data_bands.SCL_INVALID)
    assert [entry[:2] for entry in log] == [("image", "select"), ("image.select", "remap"),
                                            ("image", "updateMask")]
    assert log[0][2] == ("SCL",) and log[1][2] == (invalid, [0] * len(invalid), 1)
    assert log[2][2][0].name == "image.select.remap"  # the mask is the remapped SCL
    log.clear()
    gee.clear_image(_Recorder("image", log), scl_mask={*data_bands.SCL_INVALID, 2})
    assert log[1] == ("image.select", "remap", (sorted({*invalid, 2}), [0] * (len(invalid) + 1), 1))


def test_the_earth_engine_composites_leave_clouds_out(monkeypatch):
    """chapter 8's ``gee_threshold_map``: each date window's collection is mapped through
    ``clear_image`` before its median; the area comes back from the server in m2."""
    from s2slide import scale

    log: list = []
    fake = types.SimpleNamespace(
        Geometry=_Recorder("Geometry", log), ImageCollection=lambda name: _Recorder(name, log),
        Filter=_Recorder("Filter", log), Image=_Recorder("Image", log),
        Reducer=_Recorder("Reducer", log))
    monkeypatch.setattr(gee, "_require_initialized", lambda: fake)
    out = scale.gee_threshold_map()
    medians = [name for name, attr, _ in log if attr == "median"]
    assert medians == [f"{gee.COLLECTION}.filterBounds.filterDate.filter.map"] * 2
    assert [args for name, attr, args in log if attr == "remap"] == [
        (sorted(data_bands.SCL_INVALID), [0] * len(data_bands.SCL_INVALID), 1)] * 2
    assert ("image", "updateMask") in {(name, attr) for name, attr, _ in log}
    assert out["scar_km2"] == 2.5 and out["task"] is None
