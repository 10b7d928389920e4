"""The package's frame: errors, configuration, results files."""

from __future__ import annotations

import json

import pytest

from s2slide import config, errors
from s2slide.records import results


def test_every_error_is_an_s2slide_error_and_a_builtin():
    subclasses = [c for c in vars(errors).values()
                  if isinstance(c, type) and issubclass(c, errors.S2SlideError) and c is not errors.S2SlideError]
    assert subclasses
    for cls in subclasses:
        builtin = [b for b in cls.__mro__ if b.__module__ == "builtins" and b not in (Exception, BaseException, object)]
        assert builtin, f"{cls.__name__} derives from no specific built-in error"


def test_missing_band_error_message_is_not_quoted():
    err = errors.MissingBandError("band 'B99' not found; use one of B02, B03")
    assert str(err).startswith("band 'B99'")
    with pytest.raises(KeyError):
        raise err


def test_offline_flag(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("S2SLIDE_OFFLINE", "0")
    assert not config.offline()
    monkeypatch.setenv("CI", "true")
    assert config.offline()


def test_bad_mode_is_rejected(monkeypatch):
    monkeypatch.setenv("S2SLIDE_MODE", "turbo")
    with pytest.raises(errors.InvalidInputError, match="fast"):
        config.default_mode()


def test_results_file_round_trip(tmp_path):
    import numpy as np

    path = results.write_results("99_test", {"f1": np.float32(0.5), "cm": np.eye(2, dtype=int),
                                             "nan": float("nan")}, folder=tmp_path)
    data = json.loads(path.read_text())
    assert data == {"f1": 0.5, "cm": [[1, 0], [0, 1]], "nan": None}
    assert results.read_results(tmp_path) == {"99_test": data}
    assert not list(tmp_path.glob("*.tmp"))


def test_statistics_page_fragment(tmp_path):
    results.write_results("01_x", {"mode": "fast", "source": "simulated",
                                   "footprint": {"duration_s": 2.0, "energy_kwh": 1e-4, "emissions_g": 0.02,
                                                 "peak_memory_mb": 300.0}}, folder=tmp_path)
    out = tmp_path / "stats.md"
    assert results.render_statistics(out, tmp_path) is True
    assert "| 01_x | simulated | fast | 2.0 |" in out.read_text()
    assert results.render_statistics(out, tmp_path) is False  # unchanged: not rewritten


def test_statistics_lists_every_source_a_chapter_showed():
    from s2slide.records import results

    table = results.statistics_markdown({"02_alignment": {"source": "simulated",
                                                          "sources": ["simulated", "mirror"]}})
    assert "| 02_alignment | simulated, mirror |" in table


def test_statistics_numbers_are_plain():
    from s2slide.records import results

    table = results.statistics_markdown({"05_autoencoder": {"footprint": {
        "duration_s": 16.84, "peak_memory_mb": 1234.5, "energy_kwh": 7.03e-05, "emissions_g": 0.0167}}})
    assert "| 16.8 | 1,234 | 7.03e-05 | 0.0167 |" in table and "e+03" not in table


def test_finish_shows_the_footprint_and_is_path_like(tmp_path, monkeypatch):
    import os

    from s2slide.records import results

    monkeypatch.setenv("S2SLIDE_RESULTS", str(tmp_path))
    run = results.ChapterRun("99_test", track_carbon=False).start()
    done = run.finish()
    assert os.fspath(done) == str(tmp_path / "99_test.json") and (tmp_path / "99_test.json").is_file()
    assert "saved to" in repr(done) and "PosixPath" not in repr(done)
    shown = repr(results.Finished(done.path, {"duration_s": 3.0, "peak_memory_mb": 1500.0,
                                              "energy_kwh": 1e-5, "emissions_g": 0.002}))
    assert "3.0 s" in shown and "1,500 MB" in shown and "g CO2e" in shown


def test_split_current_leaves_out_later_and_outdated_chapters(tmp_path):
    """Chapter 7 must not add up a chapter 8 result left from an earlier build (issue 16)."""
    import os

    from s2slide.records import results

    start = "2026-01-02T10:00:00+00:00"
    records = {"03_x": {"finished_utc": "2026-01-02T09:58:00+00:00"},
               "05_y": {"finished_utc": "2026-01-01T09:00:00+00:00"},    # notebook edited since
               "06_z": {},                                                  # never finished
               "08_later": {"finished_utc": "2026-01-01T08:00:00+00:00"},  # the day before
               "09_parallel": {"finished_utc": "2026-01-02T10:05:00+00:00"}}
    (tmp_path / "05_y.ipynb").write_text("{}")
    os.utime(tmp_path / "05_y.ipynb", (1767348000, 1767348000))            # 2026-01-02 10:00 UTC
    current, stale = results.split_current(records, chapter="07_carbon", started_utc=start, notebooks=tmp_path)
    assert set(current) == {"03_x", "09_parallel"}
    assert set(stale) == {"05_y", "06_z", "08_later"}
    assert "earlier run" in stale["08_later"] and "notebook" in stale["05_y"]
