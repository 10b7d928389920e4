"""Bad input to the data layer and faults of its disk cache (issue 17): clear errors of the
package's own classes, nothing left behind, a damaged cache entry loaded again.

The network cases (deadlines, replies that lie, kill -9 during a download) are in
tests/test_bad_input_network.py. The cache faults are made here by writing the damage that a
crash or a careless edit leaves (no real recording of such a file exists).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from s2slide import config, data, errors
from s2slide.data import harmonize, mirror, registry, simulate

SMALL = {"source": "simulated", "shape": (40, 48), "quiet": True}


def _scenes() -> Path:
    return config.cache_dir() / "scenes"


def _entries() -> list[str]:
    return sorted(p.name for p in _scenes().iterdir())


# ----------------------------------------------------------------------------- load_scene, rgb
def test_load_scene_with_no_bands_is_refused():
    with pytest.raises(errors.InvalidInputError, match="at least one band"):
        data.load_scene("luding", bands=[], **SMALL)


def test_load_scene_seed_as_text_is_refused_not_coerced():
    with pytest.raises(errors.InvalidInputError, match="seed='abc'"):
        data.load_scene("luding", seed="abc", **SMALL)


def test_rgb_with_percentiles_the_wrong_way_round_is_refused():
    ds = data.load_scene("luding", **SMALL)
    with pytest.raises(errors.InvalidInputError, match=r"\(2, 98\)"):
        data.rgb(ds, percentiles=(98, 2))


# ----------------------------------------------------------------------------- the disk cache
def test_sidecar_with_valid_json_but_wrong_content_is_not_an_empty_scene():
    first = data.load_scene("luding", seed=4, **SMALL)
    meta = next(_scenes().glob("*.json"))
    side = json.loads(meta.read_text())
    meta.write_text(json.dumps({**side, "layers": []}))
    with pytest.warns(UserWarning, match="does not describe"):
        again = data.load_scene("luding", seed=4, **SMALL)
    assert set(again.data_vars) == set(first.data_vars)
    np.testing.assert_array_equal(again["pre"].values, first["pre"].values)


def test_truncated_sidecar_is_loaded_again_once_not_forever():
    data.load_scene("luding", seed=5, **SMALL)
    meta = next(_scenes().glob("*.json"))
    meta.write_text(meta.read_text()[:40])
    with pytest.warns(UserWarning, match="SHA-256"):
        data.load_scene("luding", seed=5, **SMALL)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # repaired: read from the cache without a warning
        data.load_scene("luding", seed=5, **SMALL)
    assert json.loads(meta.read_text())["layers"]


def test_cache_files_are_readable_by_others(monkeypatch):
    old = os.umask(0o022)
    try:
        data.load_scene("luding", seed=6, **SMALL)
    finally:
        os.umask(old)
    for path in _scenes().iterdir():
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o044 == 0o044, f"{path.name} is {oct(mode)}: a class cache must be readable"


_KILLER = """
import os, signal, sys
from s2slide import data, files
from s2slide.data import registry
where, seed = sys.argv[1], int(sys.argv[2])
if where == "temporary":  # killed while the GeoTIFF is still a temporary
    registry.sha256 = lambda path: os.kill(os.getpid(), signal.SIGKILL)
else:  # killed after the GeoTIFF is in place, before its sidecar is written
    files.write_text = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
data.load_scene("luding", seed=seed, source="simulated", shape=(40, 48), quiet=True)
"""


def _killed(where: str, seed: int) -> None:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(_KILLER), where, str(seed)],
                          env=dict(os.environ), capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]


def _suffixes() -> list[str]:
    return sorted(Path(n).suffix for n in _entries())


def test_kill_9_while_caching_leaves_no_temporary_after_the_next_write():
    _killed("temporary", seed=7)
    assert any(".s2tmp" in n for n in _entries())  # what kill -9 leaves ...
    data.load_scene("luding", seed=8, **SMALL)  # ... is cleaned by the next write
    assert _suffixes() == [".json", ".tif"]


def test_kill_9_between_geotiff_and_sidecar_leaves_no_orphan():
    _killed("sidecar", seed=7)
    (orphan,) = _scenes().glob("*.tif")
    assert not orphan.with_suffix(".json").exists()
    data.load_scene("luding", seed=7, **SMALL)  # the same scene: written whole this time
    assert _suffixes() == [".json", ".tif"]
    _killed("sidecar", seed=10)  # an orphan of another scene ...
    (other,) = set(_scenes().glob("*.tif")) - {orphan}
    stale = time.time() - 3600
    os.utime(other, (stale, stale))
    data.load_scene("luding", seed=11, **SMALL)  # ... once old, goes with the next write
    assert not other.exists()
    assert _suffixes() == [".json", ".json", ".tif", ".tif"]


# ----------------------------------------------------------------------------- harmonize, registry
def test_dn_to_reflectance_of_reflectance_is_refused():
    refl = data.load_scene("luding", **SMALL)["pre"].values
    with pytest.raises(errors.InvalidInputError, match="already reflectance"):
        harmonize.dn_to_reflectance(refl, offset=0)


def test_boa_add_offset_of_a_date_that_is_no_date_is_refused():
    with pytest.raises(errors.InvalidInputError, match="not an ISO date"):
        harmonize.boa_add_offset(acquired="yesterday")


def test_boa_add_offset_of_a_baseline_as_number_is_refused():
    with pytest.raises(errors.InvalidInputError, match="'04.00'"):
        harmonize.boa_add_offset(baseline=4.0)


def test_fetch_of_none_is_refused():
    with pytest.raises(errors.InvalidInputError, match="relpath=None"):
        registry.fetch(None)


# ----------------------------------------------------------------------------- simulate, mirror
def test_simulate_a_scene_too_big_for_memory_is_refused_at_once(monkeypatch):
    from s2slide import checks

    monkeypatch.setattr(checks, "available_memory", lambda: 8 * 10**9)  # a Colab-sized machine
    t0 = time.perf_counter()
    with pytest.raises(errors.InvalidInputError, match="GB of memory"):
        simulate.scene("luding", shape=(20_000, 20_000))
    assert time.perf_counter() - t0 < 1.0


def test_rasterize_inventory_needs_an_xarray_grid():
    with pytest.raises(errors.InvalidInputError, match="xarray"):
        mirror.rasterize_inventory(None, like=np.zeros((3, 3)))


def test_points_in_needs_an_xarray_raster():
    with pytest.raises(errors.InvalidInputError, match="xarray"):
        mirror.points_in(np.zeros((3, 3)))
