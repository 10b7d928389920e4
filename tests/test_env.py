"""Chapter 0's environment checks answer at once offline and report what is installed."""

from __future__ import annotations

import time

from s2slide.data import net
from s2slide.records import env


def test_probes_answer_at_once_offline():
    t0 = time.perf_counter()
    probes = env.check_endpoints(timeout=5.0)
    assert time.perf_counter() - t0 < 1.0
    assert probes and not any(p.reachable for p in probes)
    assert all("offline" in p.detail for p in probes)


def test_unreachable_host_is_reported_within_the_timeout(online):
    t0 = time.perf_counter()
    ok, detail = net.reachable("http://127.0.0.1:9/", timeout=0.5)  # discard port: refused
    assert not ok and "unreachable" in detail
    assert time.perf_counter() - t0 < 2.0


def test_package_table_and_locations(tmp_path, monkeypatch):
    table = env.package_table(("numpy", "surely-not-installed-pkg"))
    assert table["surely-not-installed-pkg"] == "missing" and table["numpy"][0].isdigit()
    monkeypatch.setenv("S2SLIDE_CACHE", str(tmp_path / "c"))
    assert env.locations()["cache (downloads, live scenes)"] == str(tmp_path / "c")
    assert env.in_colab() is False
