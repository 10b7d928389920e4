"""Release a version of the course: a tag whose notebooks install s2slide from that same tag.

    python tools/release.py 0.2.0        # on a clean, tested main: two commits and the tag v0.2.0
    git push origin main v0.2.0          # then publish both (the script pushes nothing)

Why: every chapter's Colab cell installs s2slide from the repository at the ref in _config.yml's
``repository.branch``, which is also what the book's Colab button opens. On main that is ``main``, so a
notebook on main always gets the package it was written against. A notebook of a release must get the
release's package, from a ref that exists. So this script

1. sets ``version`` in pyproject.toml, ``repository.branch`` in _config.yml to ``v<version>``, rewrites
   every Colab cell (``tools/chapters.py sync``) and commits: "Release v<version>";
2. tags that commit ``v<version>`` (annotated);
3. sets ``repository.branch`` back to ``main``, rewrites the cells again and commits: "Back to main after
   v<version>".

It refuses (and changes nothing) on a work tree with uncommitted changes, on a branch other than main
(``--branch NAME`` releases from another, e.g. a maintenance branch), for a tag that exists, and for a
version that is not ``X.Y.Z`` (optionally ``aN``/``bN``/``rcN``). tests/test_release.py checks all this.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import chapters  # noqa: E402

ROOT = chapters.ROOT
VERSION = re.compile(r"\d+\.\d+\.\d+((a|b|rc)\d+)?")


def git(*args: str) -> str:
    """Run git in the repository; its stdout, stripped (raises SystemExit with git's message on failure)."""
    proc = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def set_version(version: str) -> None:
    """Write ``version`` into pyproject.toml's ``[project]`` version."""
    path = ROOT / "pyproject.toml"
    text, count = re.subn(r'^version\s*=\s*"[^"]*"', f'version = "{version}"', path.read_text(), count=1,
                          flags=re.M)
    if count != 1:
        raise SystemExit("pyproject.toml has no version line")
    path.write_text(text)


def set_branch(ref: str) -> None:
    """Write ``ref`` as ``repository.branch`` in _config.yml (only that line changes)."""
    path = ROOT / "_config.yml"
    text = path.read_text()
    block = re.search(r"^repository:\s*\n((?:[ \t]+.*\n|\s*\n)*)", text, re.M)
    if not block:
        raise SystemExit("_config.yml has no repository block")
    inner, count = re.subn(r"^(\s+branch:\s*)\S+", lambda m: m.group(1) + ref, block.group(1), count=1,
                           flags=re.M)
    if count != 1:
        raise SystemExit("_config.yml's repository block has no branch")
    path.write_text(text[: block.start(1)] + inner + text[block.end(1):])


def check_can_release(version: str, branch: str) -> str:
    """The tag to make; raises SystemExit saying why not when the release cannot be made."""
    if not VERSION.fullmatch(version):
        raise SystemExit(f"{version!r} is not a version X.Y.Z (e.g. 0.2.0)")
    tag = f"v{version}"
    if git("status", "--porcelain"):
        raise SystemExit("the work tree has uncommitted changes: commit or stash them first")
    current = git("rev-parse", "--abbrev-ref", "HEAD")
    if current != branch:
        raise SystemExit(f"on branch {current!r}, not {branch!r}: check out {branch} (or pass --branch {current})")
    if git("tag", "--list", tag):
        raise SystemExit(f"the tag {tag} exists already")
    return tag


def release(version: str, *, branch: str = "main") -> str:
    """Make the release commit, its tag and the commit back to ``branch``; returns the tag."""
    tag = check_can_release(version, branch)
    set_version(version)
    set_branch(tag)
    chapters.sync_all(tag)
    git("add", "pyproject.toml", "_config.yml", "notebooks")
    git("commit", "-q", "-m", f"Release {tag}: every notebook's Colab cell installs s2slide from {tag}")
    git("tag", "-a", tag, "-m", f"s2slide course {tag}")
    set_branch(branch)
    chapters.sync_all(branch)
    git("add", "_config.yml", "notebooks")
    git("commit", "-q", "-m", f"Back to {branch} after {tag}: the notebooks install s2slide from {branch} again")
    return tag


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("version", help="the version to release, e.g. 0.2.0 (the tag is v0.2.0)")
    parser.add_argument("--branch", default="main", help="the branch to release from (default: main)")
    args = parser.parse_args(argv)
    tag = release(args.version, branch=args.branch)
    print(f"tagged {tag}; {args.branch} installs from {args.branch} again. Publish with:\n"
          f"  git push origin {args.branch} {tag}")


if __name__ == "__main__":
    main()
