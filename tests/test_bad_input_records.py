"""Bad input to the book's records (issue 17): results files written whole or not at all, with a
clear error for a value JSON cannot hold; foreign results files skipped with a warning."""

from __future__ import annotations

import os
import stat

import pytest

from s2slide import errors
from s2slide.records import results


def test_a_value_json_cannot_encode_is_named_and_nothing_is_left(tmp_path):
    results.write_results("02_alignment", {"ecc_error_px": 0.4}, tmp_path)
    with pytest.raises(errors.InvalidInputError, match="'model'"):
        results.write_results("02_alignment", {"ecc_error_px": 0.5, "model": object()}, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["02_alignment.json"]  # no temporary
    assert results.read_results(tmp_path)["02_alignment"]["ecc_error_px"] == 0.4  # old file kept


def test_results_files_are_readable_by_others(tmp_path):
    old = os.umask(0o022)
    try:
        path = results.write_results("02_alignment", {"x": 1}, tmp_path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) & 0o044 == 0o044


def test_a_results_file_holding_null_is_skipped_with_a_warning(tmp_path):
    (tmp_path / "03_spectral_indices.json").write_text("null")
    results.write_results("02_alignment", {"x": 1}, tmp_path)
    with pytest.warns(UserWarning, match="03_spectral_indices.json is not a results file"):
        records = results.read_results(tmp_path)
    assert list(records) == ["02_alignment"]
    assert "02_alignment" in results.statistics_markdown(records)


def test_tracker_power_interval_as_text_is_refused():
    from s2slide.records.carbon import Tracker

    with pytest.raises(errors.InvalidInputError, match="give a number"):
        Tracker(measure_power_secs="5")
