"""Files written whole or not at all (issue 17): what :mod:`s2slide.files` cleans after a crash,
and what it must never touch (a temporary another process is still writing, others' files)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from s2slide import files


def _temporary(folder, pid: int):
    path = folder / f"scene.tif.{files._host()}-{pid}-0123abcd{files.MARK}"
    path.write_bytes(b"half a file")
    return path


def test_temporary_of_a_dead_writer_is_removed_by_the_next_write(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    left = _temporary(tmp_path, int(dead))
    files.write_text(tmp_path / "other.json", "{}")
    assert not left.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.json"]


def test_temporary_of_a_running_writer_is_kept(tmp_path):
    running = _temporary(tmp_path, os.getpid())
    files.write_text(tmp_path / "other.json", "{}")
    assert running.exists()


def test_old_temporary_of_another_machine_is_removed(tmp_path):
    other = tmp_path / f"scene.tif.otherhost-1-0123abcd{files.MARK}"
    other.write_bytes(b"")
    old = time.time() - files.STALE_AFTER_S - 60
    os.utime(other, (old, old))
    files.write_text(tmp_path / "other.json", "{}")
    assert not other.exists()


def test_files_that_are_not_ours_are_never_removed(tmp_path):
    mine = tmp_path / "notes.tmp"
    mine.write_text("a student's file")
    old = time.time() - 10 * files.STALE_AFTER_S
    os.utime(mine, (old, old))
    files.write_text(tmp_path / "other.json", "{}")
    assert mine.exists()


def test_a_failed_write_leaves_nothing_and_keeps_the_old_file(tmp_path):
    target = files.write_text(tmp_path / "a.json", "old")
    with pytest.raises(RuntimeError):
        with files.atomic(target) as tmp:
            tmp.write_text("new, half")
            raise RuntimeError("the writer failed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
