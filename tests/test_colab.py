"""A fresh Colab start, stood in for: each chapter alone, in a new environment built only by its first cell.

What stands for what:

- Colab's preinstalled packages -> ONE base environment built from tests/colab-constraints.txt
  (cached in _build/colab-base/<hash of that file and of Python's version>, reused while neither changes;
  building it takes minutes, mostly TensorFlow).
- a new Colab runtime -> a fresh, empty overlay venv per chapter that sees the base through a ``.pth``
  file; whatever the chapter's first cell installs lands in the overlay, as on Colab it lands on top of
  the preinstalled packages. ``google.colab`` -> tests/colab_stub (the cell then takes its Colab branch).
- Colab's empty /content -> an empty working folder and empty cache/results folders: a chapter that needs
  a file of the repository or of another chapter fails here.
- the network -> none but the package index. So S2SLIDE_OFFLINE=1 (chapters fall back to simulated
  scenes), and S2SLIDE_MIRROR, when set, stands in for downloading the sample files from their public
  addresses (the same files, checked by sha256).

The ONE change made to the chapter: its requirement ``s2slide @ git+<repository>@<tag>`` is rewritten to
``s2slide @ file://<a copy of this checkout's package>``, because GitHub cannot be reached here (and the
tag may not exist yet). Every other requirement is installed from the package index exactly as written.

Checked for each chapter: every cell runs; the first cell installs s2slide; it replaces none of Colab's
own builds of numpy, TensorFlow, Keras, SciPy or pandas; and ``pip check`` finds no broken requirement
that the base did not already have (pip's resolver warnings are not relied on: they go to the kernel's
stderr, which a notebook may or may not show).

Light chapters (00-04, 07) run by default; the heavy ones (05, 06, 08) only with S2SLIDE_COLAB_ALL=1
(the weekly CI run sets it). Timings go to _build/colab-base/timings.json and each executed notebook to
_build/colab-base/executed/, to read when a test fails.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "tests" / "colab-constraints.txt"
STUB = ROOT / "tests" / "colab_stub"
BASE_ROOT = ROOT / "_build" / "colab-base"
TIMINGS = BASE_ROOT / "timings.json"
EXECUTED = BASE_ROOT / "executed"
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
HEAVY = {"05", "06", "08"}  # TensorFlow training / many scenes: minutes each on a CPU
CELL_TIMEOUT_S = 900  # as the book build (_config.yml execute.timeout)
#: Colab's own builds of these must survive a chapter's install cell: replacing them (or adding another
#: build of the same module, e.g. `tensorflow` beside Colab's, `opencv-python` beside its headless one)
#: breaks Colab's GPU TensorFlow and anything compiled against its numpy, and needs a runtime restart
#: at best. None of them may appear in what the cell installs.
KEEP = ("numpy", "scipy", "pandas", "tensorflow", "tensorflow-cpu", "keras",
        "opencv-python", "opencv-python-headless", "opencv-contrib-python")
GIT_REQUIREMENT = re.compile(r'f?"s2slide @ git\+[^"]*"')

pytestmark = pytest.mark.colab


def _pip(python: Path, *args: str, timeout: float = 1800) -> None:
    cmd = [str(python), "-m", "pip", "install", "-q", "--no-input", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode:
        pytest.fail(f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


def _site_packages(prefix: Path) -> Path:
    return prefix / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"


def _record(key: str, value: object) -> None:
    with _lock(BASE_ROOT / ".timings.lock"):
        data = json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}
        data[key] = value
        TIMINGS.write_text(json.dumps(data, indent=1, sort_keys=True))


def _pip_check(python: Path) -> set[str]:
    """The broken requirements ``pip check`` reports in the environment of ``python`` (empty if none)."""
    proc = subprocess.run([str(python), "-m", "pip", "check"], capture_output=True, text=True, timeout=300)
    lines = {line.strip() for line in proc.stdout.splitlines() if line.strip()}
    return set() if proc.returncode == 0 else lines - {"No broken requirements found."}


@contextlib.contextmanager
def _lock(path: Path):
    """One builder at a time (pytest-xdist workers share the cache)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def base_env() -> Path:
    """The Colab-like base environment (built once per constraints file and Python version)."""
    key = hashlib.sha256(CONSTRAINTS.read_bytes() + sys.version.encode()).hexdigest()[:12]
    base = BASE_ROOT / key
    with _lock(BASE_ROOT / ".lock"):
        if not (base / "complete.json").exists():
            for stale in BASE_ROOT.iterdir():  # bases of older constraints: 2-3 GB each
                if stale.is_dir() and (stale / "pyvenv.cfg").exists():
                    shutil.rmtree(stale, ignore_errors=True)
            t0 = time.perf_counter()
            # venv from the interpreter behind this one (sys.executable may itself be a venv's).
            subprocess.run([sys.executable, "-m", "venv", str(base)], check=True)
            _pip(base / "bin" / "python", "-r", str(CONSTRAINTS))
            seconds = round(time.perf_counter() - t0, 1)
            (base / "complete.json").write_text(json.dumps({"build_s": seconds}))
            _record("base_build_s", seconds)
        info = json.loads((base / "complete.json").read_text())
        if "pip_check" not in info:  # what is already broken in the base is not the chapter's fault
            info["pip_check"] = sorted(_pip_check(base / "bin" / "python"))
            (base / "complete.json").write_text(json.dumps(info))
    return base


def _overlay(base: Path, where: Path) -> Path:
    """A new venv that sees ``base`` and the google.colab stub after its own (empty) site-packages.

    ``site.addsitedir`` (rather than a bare path line) also runs the base's own .pth files. No pip in the
    overlay: ``python -m pip`` is the base's pip, which installs into the running interpreter's prefix.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    lines = [f"import site; site.addsitedir({str(_site_packages(base))!r})", str(STUB)]
    (_site_packages(where) / "_colab_base.pth").write_text("\n".join(lines) + "\n")
    return where / "bin" / "python"


def _package_copy(where: Path) -> Path:
    """The installable part of this checkout (not .venv or _build), as pip would fetch it from git."""
    where.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, where / name)
    shutil.copytree(ROOT / "src", where / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return where


def _colab_notebook(path: Path, package: Path):
    """The chapter with its s2slide requirement pointed at ``package``; fails if the cell is not there."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    first = next(cell for cell in nb.cells if cell.cell_type == "code")
    assert "import google.colab" in first.source, f"{path.name}: the first code cell is not the Colab cell"
    source, count = GIT_REQUIREMENT.subn(f'"s2slide @ {package.as_uri()}"', first.source)
    assert count == 1, f"{path.name}: the Colab cell must install s2slide @ git+<repository>@<tag> once"
    first.source = source
    return nb


def _kernel_env(overlay: Path, work: Path) -> dict[str, str]:
    """The environment of a Colab kernel here: nothing of this test's venv, nothing of the book build."""
    drop = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "JUPYTER_PATH", "MPLBACKEND", "S2SLIDE_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    path = [p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(ROOT / ".venv"))]
    env["PATH"] = os.pathsep.join([str(overlay / "bin"), *path])
    env.update(S2SLIDE_OFFLINE="1", S2SLIDE_CACHE=str(work / "cache"), S2SLIDE_RESULTS=str(work / "results"))
    if os.environ.get("S2SLIDE_MIRROR"):
        env["S2SLIDE_MIRROR"] = os.environ["S2SLIDE_MIRROR"]
    return env


def _kernelspec(home: Path, python: Path) -> None:
    spec = home / "kernels" / "colab-standin"
    spec.mkdir(parents=True)
    argv = [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Colab stand-in",
                                                  "language": "python"}))


def _outputs_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", "") if out.get("output_type") == "stream" else "")
        parts.append("\n".join(out.get("traceback", [])))
    return "\n".join(parts)


def _installed(site: Path) -> dict[str, str]:
    """``{name: version}`` of the distributions installed in one site-packages folder."""
    out = {}
    for info in site.glob("*.dist-info"):
        name, _, version = info.name[: -len(".dist-info")].partition("-")
        out[name.lower().replace("_", "-")] = version
    return out


def _chapter_param(path: Path):
    marks = []
    if path.name[:2] in HEAVY and not os.environ.get("S2SLIDE_COLAB_ALL"):
        marks.append(pytest.mark.skip(reason=f"{path.stem} is a heavy chapter: set S2SLIDE_COLAB_ALL=1 to run it"))
    return pytest.param(path, id=path.stem, marks=marks)


@pytest.mark.parametrize("path", [_chapter_param(p) for p in CHAPTERS])
def test_chapter_runs_alone_in_a_fresh_colab(path, base_env, tmp_path, monkeypatch):
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    t0 = time.perf_counter()
    python = _overlay(base_env, tmp_path / "overlay")
    nb = _colab_notebook(path, _package_copy(tmp_path / "s2slide-checkout"))
    work = tmp_path / "content"  # Colab's /content: empty
    work.mkdir()
    _kernelspec(tmp_path / "jupyter", python)
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    client = NotebookClient(nb, kernel_name="colab-standin", timeout=CELL_TIMEOUT_S,
                            resources={"metadata": {"path": str(work)}})
    try:
        client.execute(env=_kernel_env(tmp_path / "overlay", work))
    except CellExecutionError as err:
        plain = re.sub(r"\x1b\[[0-9;]*m", "", str(err))  # the traceback without terminal colours
        pytest.fail(f"{path.name} failed in the Colab stand-in:\n{plain[-4000:]}")
    finally:
        import nbformat

        EXECUTED.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, EXECUTED / path.name)
    seconds = round(time.perf_counter() - t0, 1)
    _record(path.stem, {"seconds": seconds, "installed": len(_installed(_site_packages(tmp_path / "overlay")))})

    install_log = _outputs_text(next(c for c in nb.cells if c.cell_type == "code"))
    assert "incompatible" not in install_log, f"{path.name}: the install cell breaks Colab's packages:\n{install_log}"
    before = set(json.loads((base_env / "complete.json").read_text()).get("pip_check", []))
    broken = _pip_check(python) - before
    assert not broken, f"{path.name}: after its install cell, pip check reports:\n" + "\n".join(sorted(broken))
    base, added = _installed(_site_packages(base_env)), _installed(_site_packages(tmp_path / "overlay"))
    replaced = {n: (base.get(n, "-"), added[n]) for n in KEEP if n in added}
    assert not replaced, f"{path.name}: the install cell replaces Colab's own {replaced} (Colab's, new)"
    assert "s2slide" in added, f"{path.name}: the first cell did not install s2slide"


def test_stub_is_only_in_the_standin():
    """The stub must never leak into the book's own environment (it would switch every chapter to Colab mode)."""
    with pytest.raises(ImportError):
        import google.colab  # noqa: F401
