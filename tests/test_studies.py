"""s2slide.records.studies: the studies a chapter quotes are recorded and match their script."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from s2slide.data import simulate
from s2slide.errors import InvalidInputError
from s2slide.records import studies

ROOT = Path(__file__).resolve().parents[1]


def _script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RECORDED = {p.stem for p in (ROOT / "src" / "s2slide" / "records" / "studies").glob("*.json")}


@pytest.mark.skipif("unet_transfer_study" not in RECORDED,
                    reason="benchmarks/unet_transfer_study.py has not been recorded yet (hours on "
                           "2 CPU cores); chapter 6 then states no ranking")
def test_unet_transfer_study_record_matches_its_script():
    """Chapter 6 reads this record: it must cover the script's models and the simulator's
    differences, with several seeds and summaries that agree with the per-seed runs."""
    record = studies.load_study("unet_transfer_study")
    script = _script("unet_transfer_study")
    meta, summary, runs = record["meta"], record["summary"], record["runs"]
    assert meta["models"] == list(script.MODELS)
    assert meta["differences"] == list(simulate.TARGET_DIFFERENCES)
    assert len(meta["seeds"]) >= 3 and set(runs) == {str(s) for s in meta["seeds"]}
    for kind in script.MODELS:
        values = [runs[s][kind]["transfer"]["Barhabise"]["f1"] for s in runs]
        mean = summary[kind]["transfer"]["Barhabise"]["f1"]["mean"]
        assert mean == pytest.approx(np.mean(values))
        assert set(summary[kind]["transfer"]) == {"Barhabise", "without all five"} | {
            f"without {d}" for d in simulate.TARGET_DIFFERENCES}
        assert all(0 <= runs[s][kind]["val_f1"] <= 1 for s in runs)


def test_unknown_study_names_the_recorded_ones():
    with pytest.raises(InvalidInputError, match="run benchmarks/nothing.py"):
        studies.load_study("nothing")


def test_a_checkout_without_records_gets_the_package_error(monkeypatch, tmp_path):
    """Git keeps no empty folder: before any record is committed, studies/ does not exist."""
    monkeypatch.setattr(studies.resources, "files", lambda package: tmp_path)
    with pytest.raises(InvalidInputError, match="recorded: none.*run benchmarks/unet_transfer"):
        studies.load_study("unet_transfer_study")
