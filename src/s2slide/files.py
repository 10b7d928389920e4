"""Files the package writes (cached scenes, results files): written whole or not at all.

A file is written under a temporary name in its own folder and renamed into place
(``os.replace``, atomic on one file system), so a reader never sees half a file and a crash
(``kill -9``, a full disk, a value JSON cannot encode) leaves no half-written file under the
real name. A temporary's name says who wrote it, ``<name>.<host>-<pid>-<random>.s2tmp``; a temporary left
by a process that no longer runs (or older than a day, for a folder shared between machines) is
removed by the next write to that folder. Files get the usual permissions (``0666`` less the
umask, as ``open()`` gives them), not the ``0600`` of :func:`tempfile.mkstemp`, so that a class
cache prepared by an instructor is readable by students.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import uuid
from pathlib import Path
from typing import Iterator

#: Marks the package's own temporaries; nothing else in a folder is ever removed as stale.
MARK = ".s2tmp"
#: A temporary older than this (seconds) is stale whoever wrote it.
STALE_AFTER_S = 24 * 3600.0


def _host() -> str:
    return socket.gethostname().replace(".", "_").replace("-", "_") or "host"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _stale(path: Path, now: float) -> bool:
    """Whether ``path`` is one of our temporaries whose writer is gone."""
    try:
        writer = path.name[: -len(MARK)].rsplit(".", 1)[1]
        host, pid, _ = writer.rsplit("-", 2)
        age = now - path.stat().st_mtime
    except (IndexError, ValueError, OSError):
        return False
    if age > STALE_AFTER_S:
        return True
    return host == _host() and pid.isdigit() and not _alive(int(pid))


def clean_stale(folder: Path) -> list[Path]:
    """Remove the temporaries of writers that are gone from ``folder``; returns what was removed."""
    removed, now = [], time.time()
    for path in Path(folder).glob(f"*{MARK}"):
        if _stale(path, now):
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
    return removed


@contextlib.contextmanager
def atomic(target: Path, *, clean: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it becomes ``target``, on any error
    it is removed. Stale temporaries of the folder are cleaned first (``clean=False``: the caller
    cleaned the folder once before writing many files into it)."""
    target = Path(target)
    if clean:
        clean_stale(target.parent)
    tmp = target.with_name(f"{target.name}.{_host()}-{os.getpid()}-{uuid.uuid4().hex[:8]}{MARK}")
    try:
        yield tmp  # created by the caller with open()'s permissions, never mkstemp's 0600
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_text(target: Path, text: str) -> Path:
    """Write ``text`` to ``target`` atomically (see :func:`atomic`); returns ``target``."""
    with atomic(target) as tmp:
        tmp.write_text(text)
    return Path(target)


def write_bytes(target: Path, data: bytes, *, clean: bool = True) -> Path:
    """Write ``data`` to ``target`` atomically (see :func:`atomic`); returns ``target``."""
    with atomic(target, clean=clean) as tmp:
        tmp.write_bytes(data)
    return Path(target)
