"""Settings that cannot be used (issue 17): each ``S2SLIDE_*`` variable with a bad value gives a
:class:`SettingError` naming the variable and what to set, never a silent default or a raw
``FileExistsError`` from deep inside."""

from __future__ import annotations

import pytest

from s2slide import config, errors


def test_offline_flag_that_is_neither_on_nor_off_is_refused(monkeypatch):
    monkeypatch.setenv("S2SLIDE_OFFLINE", "maybe")
    with pytest.raises(errors.SettingError, match="S2SLIDE_OFFLINE='maybe'"):
        config.offline()


@pytest.mark.parametrize("value, on", [("1", True), ("yes", True), ("0", False), ("off", False),
                                       ("", False)])
def test_offline_flag_on_and_off_values_still_work(monkeypatch, value, on):
    monkeypatch.setenv("S2SLIDE_OFFLINE", value)
    assert config.offline() is on


def test_mirror_set_to_a_typo_is_not_reported_as_unset(monkeypatch, tmp_path):
    monkeypatch.setenv("S2SLIDE_MIRROR", str(tmp_path / "shraed" / "data"))
    with pytest.raises(errors.SettingError, match="no such folder"):
        config.mirror_dir()


def test_mirror_set_to_a_file_is_not_reported_as_unset(monkeypatch, tmp_path):
    (tmp_path / "data.zip").write_bytes(b"PK")
    monkeypatch.setenv("S2SLIDE_MIRROR", str(tmp_path / "data.zip"))
    with pytest.raises(errors.SettingError, match="is a file"):
        config.mirror_dir()


def test_cache_at_a_file_is_refused(monkeypatch, tmp_path):
    (tmp_path / "cache").write_text("")
    monkeypatch.setenv("S2SLIDE_CACHE", str(tmp_path / "cache"))
    with pytest.raises(errors.SettingError, match="S2SLIDE_CACHE=.*not a folder"):
        config.cache_dir()


def test_cache_at_dev_null_is_refused(monkeypatch):
    monkeypatch.setenv("S2SLIDE_CACHE", "/dev/null")
    with pytest.raises(errors.SettingError, match="S2SLIDE_CACHE='/dev/null'"):
        config.cache_dir()


def test_cache_folder_that_cannot_be_created_is_refused(monkeypatch, tmp_path):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("S2SLIDE_CACHE", str(tmp_path / "file" / "cache"))
    with pytest.raises(errors.SettingError, match="cannot be created"):
        config.cache_dir()


def test_results_at_a_file_is_refused(monkeypatch, tmp_path):
    (tmp_path / "results").write_text("")
    monkeypatch.setenv("S2SLIDE_RESULTS", str(tmp_path / "results"))
    with pytest.raises(errors.SettingError, match="S2SLIDE_RESULTS"):
        config.results_dir()


def test_load_scene_with_a_bad_cache_setting_says_so(monkeypatch):
    from s2slide import data

    monkeypatch.setenv("S2SLIDE_CACHE", "/dev/null")
    with pytest.raises(errors.SettingError, match="S2SLIDE_CACHE"):
        data.load_scene("luding", source="simulated", shape=(40, 48), quiet=True)


def test_chapter_0_shows_a_bad_setting_instead_of_failing(monkeypatch):
    from s2slide.records import env

    monkeypatch.setenv("S2SLIDE_MIRROR", "/no/such/mirror")
    assert env.locations()["mirror of the sample files"].startswith("error: S2SLIDE_MIRROR")


def test_dask_scheduler_that_is_no_address_is_refused_at_once(monkeypatch):
    from s2slide import scale

    monkeypatch.setenv("S2SLIDE_DASK_SCHEDULER", "not an address")
    with pytest.raises(errors.SettingError, match="tcp://HOST:PORT"):
        scale.start_client()
