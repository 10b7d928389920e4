"""tools/release.py: the tag's notebooks install the tag, main's install main, and a bad release changes nothing.

Run on a copy of this checkout's tools, notebooks and configuration in a new git repository (nothing of the
real repository is touched).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
FILES = ("tools", "notebooks", "_config.yml", "pyproject.toml", "requirements.txt", ".gitignore")
GIT_ENV = {"GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.org", "GIT_COMMITTER_NAME": "test",
           "GIT_COMMITTER_EMAIL": "test@example.org", "GIT_CONFIG_GLOBAL": os.devnull,
           "GIT_CONFIG_NOSYSTEM": "1"}


def _git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True,
                          env={**os.environ, **GIT_ENV})
    return proc.stdout.strip()


def _release(repo: Path, *args: str) -> subprocess.CompletedProcess:
    # No bytecode: release.py imports its sibling tools, and a tools/__pycache__/ left in the copy
    # made the release refuse a "dirty" work tree on a fresh clone (CI), where none existed before.
    return subprocess.run([sys.executable, "tools/release.py", *args], cwd=repo, capture_output=True,
                          text=True, env={**os.environ, **GIT_ENV, "PYTHONDONTWRITEBYTECODE": "1"})


@pytest.fixture
def repo(tmp_path) -> Path:
    """A new git repository (branch main, one commit) holding a copy of what a release rewrites."""
    repo = tmp_path / "course"
    repo.mkdir()
    for name in FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, repo / name)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "start")
    return repo


def _refs(repo: Path, rev: str) -> set[str]:
    """The REF of every notebook's Colab cell at ``rev``."""
    refs = set()
    for name in _git(repo, "ls-tree", "--name-only", f"{rev}:notebooks").splitlines():
        nb = nbformat.reads(_git(repo, "show", f"{rev}:notebooks/{name}"), as_version=4)
        first = next(c for c in nb.cells if c.cell_type == "code")
        refs |= set(re.findall(r'^\s+REF = "([^"]+)"', first.source, re.M))
    return refs


def test_release_tags_notebooks_that_install_the_tag(repo):
    proc = _release(repo, "0.2.0")
    assert proc.returncode == 0, proc.stderr
    assert _git(repo, "tag", "--list") == "v0.2.0"
    assert _refs(repo, "v0.2.0") == {"v0.2.0"}
    assert re.search(r"^\s+branch: v0\.2\.0$", _git(repo, "show", "v0.2.0:_config.yml"), re.M)
    assert 'version = "0.2.0"' in _git(repo, "show", "v0.2.0:pyproject.toml")
    # main goes back to installing main, with the new version, and nothing left uncommitted
    assert _refs(repo, "HEAD") == {"main"}
    assert re.search(r"^\s+branch: main$", (repo / "_config.yml").read_text(), re.M)
    assert 'version = "0.2.0"' in (repo / "pyproject.toml").read_text()
    assert _git(repo, "status", "--porcelain") == ""
    assert _git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    # the tag's cell is exactly what tools/chapters.py generates for that ref (and the start's for main)
    tagged = _git(repo, "show", "v0.2.0:notebooks/00_getting_started.ipynb")
    start = _git(repo, "show", "HEAD~2:notebooks/00_getting_started.ipynb")
    assert tagged.replace('REF = \\"v0.2.0\\"', 'REF = \\"main\\"') == start
    assert _git(repo, "diff", "HEAD~2", "HEAD", "--stat", "--", "notebooks", "_config.yml") == ""


@pytest.mark.parametrize("case", ["tag exists", "dirty", "not main", "bad version"])
def test_release_refuses_and_changes_nothing(repo, case):
    version = "0.2.0"
    if case == "tag exists":
        _git(repo, "tag", "v0.2.0")
    elif case == "dirty":
        (repo / "requirements.txt").write_text((repo / "requirements.txt").read_text() + "\n# edited\n")
    elif case == "not main":
        _git(repo, "checkout", "-q", "-b", "feature")
    else:
        version = "v0.2"
    head, status = _git(repo, "rev-parse", "HEAD"), _git(repo, "status", "--porcelain")
    proc = _release(repo, version)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    assert _git(repo, "rev-parse", "HEAD") == head and _git(repo, "status", "--porcelain") == status
    assert _refs(repo, "HEAD") == {"main"}
