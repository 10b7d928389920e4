"""Chapter 0's environment checks answer at once offline and report what is installed."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import pytest

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


def test_cpu_model_is_the_model_name_codecarbon_looks_up(tmp_path, monkeypatch):
    # /proc/cpuinfo as a Colab runtime writes it (codecarbon issue 282 quotes its model name); a fake
    # file, because the real one depends on the machine the tests run on.
    fake = tmp_path / "cpuinfo"
    fake.write_text("processor\t: 0\nvendor_id\t: GenuineIntel\n"
                    "model name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\nprocessor\t: 1\n")
    assert env.cpu_model(fake) == "Intel(R) Xeon(R) CPU @ 2.20GHz"
    monkeypatch.setattr(env.platform, "processor", lambda: "arm")
    assert env.cpu_model(tmp_path / "missing") == "arm"  # not Linux: the platform's answer
    real = Path("/proc/cpuinfo")
    if real.is_file() and "model name" in real.read_text():
        assert env.cpu_model() and env.cpu_model() != "arm"


FREEZE = Path(__file__).resolve().parents[2] / "shared" / "colab" / "pip-freeze.txt"


def test_read_freeze_reads_colab_published_record():
    """Colab's real pip freeze (../shared/colab): 646 lines, of which 634 are ``name==version``."""
    if not FREEZE.is_file():
        pytest.skip("Colab's pip freeze (../shared/colab/pip-freeze.txt) is not here")
    freeze = env.read_freeze(FREEZE.read_text())
    assert len(freeze) == 634
    assert freeze["numpy"] == "2.1.3" and freeze["psutil"] == "5.9.5"
    assert freeze["pyyaml"] == "6.0.3"  # "PyYAML" in the file: names are normalized
    assert "google-colab" not in freeze and "torch" not in freeze  # "name @ url" lines carry no version


def test_changed_packages_lists_changed_and_removed_not_added():
    before = {"PyYAML": "6.0.3", "psutil": "5.9.5", "numpy": "2.1.3", "rasterio": "1.5.1"}
    now = {"pyyaml": "6.0.3", "psutil": "7.2.2", "numpy": "2.1.3", "codecarbon": "3.3.2"}
    assert env.changed_packages(before, now=now) == {"psutil": ("5.9.5", "7.2.2"),
                                                     "rasterio": ("1.5.1", "removed")}
    assert env.changed_packages(env.installed_versions()) == {}


def test_setup_changes_compares_with_the_cell_snapshot(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert env.setup_snapshot() == tmp_path / env.SETUP_SNAPSHOT
    assert "nothing to compare" in env.setup_changes()  # no snapshot: the cell did not run (not Colab)
    installed = env.installed_versions()
    env.setup_snapshot().write_text(json.dumps(installed))
    assert env.setup_changes() == (
        f"The setup cell changed none of the {len(installed)} packages this runtime started with.")
    env.setup_snapshot().write_text(json.dumps({**installed, "numpy": "0.0.1", "gone-package": "1.0"}))
    said = env.setup_changes()
    assert f"changed 2 of the {len(installed) + 1} packages" in said
    assert "gone-package 1.0 -> removed" in said and "numpy 0.0.1 -> " in said and "Restart" in said
