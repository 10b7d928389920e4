"""A fresh Colab start, stood in for: each chapter alone, on Colab's own versions, set up only by its first cell.

What stands for what:

- Colab's image -> ONE base environment built from Colab's published ``pip freeze``
  (../shared/colab/pip-freeze.txt, or the file S2SLIDE_COLAB_FREEZE names; googlecolab/backend-info is
  where it comes from), on Python 3.13 as Colab's (else 3.12, else 3.11: the test says which). Not all of
  its 646 packages: those the chapters touch (ROOTS: what the chapters and s2slide import) and everything
  those need, plus what the cell's own packages need of Colab's, all at the freeze's versions. Building it
  takes minutes (mostly TensorFlow); it is cached in _build/colab-base/<hash of freeze, Python, roots>.
  Two departures, on purpose: ``tensorflow-cpu`` stands for Colab's ``tensorflow`` (same version, the
  same Python API, no CUDA wheels to download), and ``opencv-python-headless`` alone for Colab's three
  OpenCV wheels (they install the same ``cv2`` module over one another).
- a new Colab runtime -> a fresh, empty overlay venv per chapter that sees the base through a ``.pth``
  file; whatever the chapter's first cell installs lands in the overlay, as on Colab it lands on top of
  the image. ``google.colab`` -> tests/colab_stub (the cell then takes its Colab branch).
- Colab's pip -> the base's pip (the freeze's version), seeing PyPI as Colab does: this machine's pip
  configuration (local indexes, a constraints file) is left out.
- Colab's empty /content -> an empty working folder and empty cache/results/temporary folders: a
  chapter that needs a file of the repository or of another chapter fails here.
- the network -> none but the package index. So S2SLIDE_OFFLINE=1 (chapters fall back to simulated
  scenes), and S2SLIDE_MIRROR, when set, stands in for downloading the sample files from their public
  addresses (the same files, checked by sha256).

The ONE change made to a chapter: its requirement ``s2slide @ git+<repository>@<ref>`` is rewritten to
``s2slide @ file://<a copy of this checkout's package>``, because GitHub cannot be reached here. Every
other requirement is installed from PyPI exactly as the cell writes it.

Checked: the cell's requirements resolve against the freeze without changing any of its packages (pip's
resolver, constrained to the freeze, on the stand-in's Python), also against the GPU runtime's freeze
(pip-freeze.gpu.txt beside it), where the cell skips what that runtime has (distributed, dask); and the
packages it installs without their requirements find all of them but the ones named in tools/chapters.py. For each chapter: every cell runs;
the first cell installs s2slide and installs nothing that Colab has (no package of the freeze lands in the
overlay); ``pip check`` finds no broken requirement that the base did not have, but the ones named;
chapter 0 prints that the cell changed none of Colab's packages.

Light chapters (00-04, 07) run by default; the heavy ones (05, 06, 08) only with S2SLIDE_COLAB_ALL=1
(the weekly CI run sets it). Timings go to _build/colab-base/timings.json and each executed notebook to
_build/colab-base/executed/, to read when a test fails. ``python tests/test_colab.py`` prints which Python
and which freeze the stand-in uses, and how much disk it has.

Disk: the base takes about 3 GB and pip needs room to unpack TensorFlow on top (BASE_NEEDS_GB, measured).
With less free space than that, the tests that need the base are skipped with a reason that says so and
how much is free (``make colab`` prints the reasons), rather than failing halfway with pip's
"No space left on device" and leaving a half-built base behind; S2SLIDE_COLAB_REQUIRED=1 makes that a
failure instead (for an instructor's check before a term).
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
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
sys.path.insert(0, str(ROOT / "tools"))
import chapters  # noqa: E402

STUB = ROOT / "tests" / "colab_stub"
BASE_ROOT = ROOT / "_build" / "colab-base"
TIMINGS = BASE_ROOT / "timings.json"
EXECUTED = BASE_ROOT / "executed"
SKIPPED = BASE_ROOT / "SKIPPED"  # written when the disk is too full for the base (removed by `make colab`)
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
HEAVY = {"05", "06", "08"}  # TensorFlow training / many scenes: minutes each on a CPU
CELL_TIMEOUT_S = 900  # as the book build (_config.yml execute.timeout)
#: Free disk the base build needs: the base measured 2.9 GB (Python 3.13, Colab's freeze of 2026) and
#: the disk in use rose by at most 3.6 GB while it was built and one chapter ran (sampled every 3 s).
BASE_NEEDS_GB = 4.0
#: Colab's Python first, then the fallbacks.
PYTHONS = ("3.13", "3.12", "3.11")
#: The packages of Colab's image that the chapters and s2slide import (and the kernel and pip they run
#: under); the base gets these and all they depend on, at the freeze's versions.
ROOTS = ("pip", "ipykernel", "ipython", "numpy", "scipy", "pandas", "matplotlib", "scikit-learn",
         "tensorflow", "keras", "opencv-python-headless", "h5py", "xarray", "dask", "geopandas",
         "rasterio", "affine", "pyproj", "shapely", "pyogrio", "pooch", "requests", "tqdm",
         "earthengine-api", "geemap", "folium", "bokeh", "psutil")
#: Colab's package -> what the stand-in installs for it, at the same version.
SUBSTITUTES = {"tensorflow": "tensorflow-cpu"}
GIT_REQUIREMENT = re.compile(r'f?"s2slide @ git\+[^"]*"')
#: pip settings of this machine that Colab does not have (local indexes, a constraints file).
PIP_LOCAL = ("PIP_CONFIG_FILE", "PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_CONSTRAINT",
             "PIP_REQUIREMENT", "PIP_NO_INDEX")

pytestmark = pytest.mark.colab


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def find_python() -> tuple[str, str] | None:
    """``(path, "3.13")`` of the interpreter for the stand-in: S2SLIDE_COLAB_PYTHON, else the first of
    PYTHONS found on PATH, in pyenv or in uv's folder; None if none runs."""
    pyenv = Path(os.environ.get("PYENV_ROOT", "~/.pyenv")).expanduser() / "versions"
    uv = Path(os.environ.get("UV_PYTHON_INSTALL_DIR", "~/.local/share/uv/python")).expanduser()
    candidates = [os.environ.get("S2SLIDE_COLAB_PYTHON", "")]
    for version in PYTHONS:
        candidates += [shutil.which(f"python{version}") or "",
                       *sorted(glob.glob(f"{pyenv}/{version}.*/bin/python{version}"), reverse=True),
                       *sorted(glob.glob(f"{uv}/cpython-{version}.*/bin/python{version}"), reverse=True)]
        if f"{sys.version_info[0]}.{sys.version_info[1]}" == version:
            candidates.append(sys.executable)
    for path in filter(None, candidates):
        try:
            proc = subprocess.run([path, "-c", "import sys, venv; print('%d.%d' % sys.version_info[:2])"],
                                  capture_output=True, text=True, timeout=60)
        except OSError:  # not there, not executable
            continue
        if proc.returncode == 0 and proc.stdout.strip() in PYTHONS:
            return path, proc.stdout.strip()
    return None


def _pip_env() -> dict[str, str]:
    """The environment for pip: PyPI as Colab sees it, none of this machine's pip configuration."""
    env = {k: v for k, v in os.environ.items() if k not in PIP_LOCAL and k != "VIRTUAL_ENV"}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def _pip(python: Path, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    cmd = [str(python), "-m", "pip", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_pip_env())


class NoRoom(Exception):
    """The disk filled up under pip: the machine's limit, not the chapters'."""


def _free_gb(where: Path) -> float:
    where = next(p for p in (where, *where.parents) if p.exists())
    return shutil.disk_usage(where).free / 1e9


def _no_room(why: str) -> None:
    """Skip (or fail, with S2SLIDE_COLAB_REQUIRED=1): the stand-in cannot be built on this disk."""
    message = (f"the Colab stand-in was not run: {why}. Its base needs about {BASE_NEEDS_GB:.0f} GB free "
               f"under {BASE_ROOT}: free some disk (old _build/colab-base folders, pip's cache) and run "
               "`make colab` again")
    if os.environ.get("S2SLIDE_COLAB_REQUIRED"):
        pytest.fail(message)
    SKIPPED.parent.mkdir(parents=True, exist_ok=True)
    SKIPPED.write_text(message + "\n")  # `make test` says so in its last line
    pytest.skip(message)


def _pip_or_fail(python: Path, *args: str) -> None:
    proc = _pip(python, "install", "-q", "--no-input", *args)
    if proc.returncode and "No space left on device" in proc.stdout + proc.stderr:
        raise NoRoom(f"pip ran out of disk ({_free_gb(BASE_ROOT):.1f} GB free after it stopped)")
    if proc.returncode:
        pytest.fail(f"pip install {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


def _site_packages(prefix: Path, version: str) -> Path:
    return prefix / "lib" / f"python{version}" / "site-packages"


def _record(key: str, value: object) -> None:
    with _lock(BASE_ROOT / ".timings.lock"):
        data = json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}
        data[key] = value
        TIMINGS.write_text(json.dumps(data, indent=1, sort_keys=True))


def _pip_check(python: Path) -> set[str]:
    """The broken requirements ``pip check`` reports in the environment of ``python`` (empty if none)."""
    proc = _pip(python, "check", timeout=300)
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


def _package_copy(where: Path) -> Path:
    """The installable part of this checkout (not .venv or _build), as pip would fetch it from git."""
    where.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, where / name)
    shutil.copytree(ROOT / "src", where / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return where


def _runtime(path: Path) -> dict:
    """One of Colab's runtimes from its freeze: the file, ``{name: version}`` and pip constraints."""
    from s2slide.records import env

    freeze = env.read_freeze(path.read_text())
    constraints = [f"{name}=={version}" for name, version in sorted(freeze.items())]
    constraints += [f"{sub}=={freeze[name]}" for name, sub in SUBSTITUTES.items() if name in freeze]
    return {"path": path, "freeze": freeze, "constraints": "\n".join(constraints) + "\n"}


@pytest.fixture(scope="session")
def colab() -> dict:
    """Colab's CPU runtime (its freeze; the stand-in's base), its GPU runtime where its freeze sits beside
    (pip-freeze.gpu.txt; only resolved against), and the stand-in's Python. Skips, saying why, without."""
    path = chapters.freeze_path()
    if path is None:
        pytest.skip(chapters.FREEZE_MISSING)
    found = find_python()
    if found is None:
        pytest.skip(f"no Python {' / '.join(PYTHONS)} found for the Colab stand-in (set S2SLIDE_COLAB_PYTHON)")
    python, version = found
    if version != PYTHONS[0]:
        import warnings

        warnings.warn(f"Colab stand-in on Python {version} ({python}): Colab has Python {PYTHONS[0]}, "
                      "which this machine lacks (set S2SLIDE_COLAB_PYTHON)", stacklevel=1)
    gpu = path.with_name("pip-freeze.gpu.txt")
    return {**_runtime(path), "python": python, "version": version,
            "gpu": _runtime(gpu) if gpu.is_file() else None}


def _resolver(colab: dict) -> Path:
    """A small venv of the stand-in's Python with Colab's pip, for dry runs (nothing is installed)."""
    where = BASE_ROOT / f"resolver-{colab['version']}"
    if not (where / "ok").exists():
        shutil.rmtree(where, ignore_errors=True)
        subprocess.run([colab["python"], "-m", "venv", str(where)], check=True)
        _pip_or_fail(where / "bin" / "python", f"pip=={colab['freeze']['pip']}")
        (where / "ok").write_text("")
    return where / "bin" / "python"


def _dry_run(colab: dict, runtime: dict, *args: str) -> dict:
    """pip's report of installing ``args`` on the stand-in's Python, constrained to a runtime's freeze."""
    constraints = BASE_ROOT / f"constraints-{hashlib.sha256(runtime['constraints'].encode()).hexdigest()[:12]}.txt"
    constraints.write_text(runtime["constraints"])
    report = BASE_ROOT / f"report-{os.getpid()}.json"
    proc = _pip(_resolver(colab), "install", "--dry-run", "--ignore-installed", "-q", "--no-input",
                "--report", str(report), "-c", str(constraints), *args)
    if proc.returncode:
        return {"error": "\n".join(line for line in proc.stderr.splitlines() if "does not provide" not in line)}
    out = json.loads(report.read_text())
    report.unlink()
    return out


def _lacking(requirements: list[str], freeze: dict[str, str]) -> list[str]:
    """What the cell installs on a runtime: it skips a package the runtime has at any version."""
    return [r for r in requirements if _norm(re.split(r"[=@ ]", r)[0]) not in freeze]


def _resolve(colab: dict, runtime: dict, scratch: Path) -> dict:
    """What the cell's pip calls would install on a runtime: ``{"installs": {name: version}, "no_deps":
    {name: its requirements}}``, or ``{"error": pip's message}``. Cached per freeze, cell and package."""
    requirements = _lacking(chapters.colab_requirements(), runtime["freeze"])
    no_deps = _lacking([f"{name}=={chapters.pins()[name]}" for name in chapters.NO_DEPS], runtime["freeze"])
    key_text = json.dumps([runtime["constraints"], colab["version"], requirements, no_deps,
                           (ROOT / "pyproject.toml").read_text()])
    cached = BASE_ROOT / f"resolution-{hashlib.sha256(key_text.encode()).hexdigest()[:12]}.json"
    with _lock(BASE_ROOT / ".lock"):
        if not cached.exists():
            package = _package_copy(scratch / f"s2slide-{cached.stem}")
            report = _dry_run(colab, runtime, *requirements, str(package))
            out = {"error": report["error"]} if "error" in report else {"installs": {
                _norm(i["metadata"]["name"]): i["metadata"]["version"] for i in report["install"]}}
            if "installs" in out:
                report = _dry_run(colab, runtime, "--no-deps", *no_deps) if no_deps else {"install": []}
                out["no_deps"] = {_norm(i["metadata"]["name"]): i["metadata"].get("requires_dist", [])
                                  for i in report.get("install", [])}
                out["error"] = report.get("error")
            cached.write_text(json.dumps(out, indent=1))
    return json.loads(cached.read_text())


@pytest.fixture(scope="session")
def resolution(colab, tmp_path_factory) -> dict:
    """The resolution on Colab's CPU runtime (the one the stand-in stands for)."""
    return _resolve(colab, colab, tmp_path_factory.mktemp("resolve"))


def _runtime_param(kind: str, colab: dict) -> dict:
    if kind == "cpu":
        return colab
    if colab["gpu"] is None:
        pytest.skip(f"no pip-freeze.gpu.txt beside {colab['path']}")
    return colab["gpu"]


@pytest.mark.parametrize("kind", ["cpu", "gpu"])
def test_the_colab_cell_resolves_against_colab_freeze(kind, colab, tmp_path_factory):
    """The cell's packages (and s2slide's requirements) resolve with every package of the runtime's
    freeze as it is; on the GPU runtime, which has distributed and dask, the cell installs neither."""
    runtime = _runtime_param(kind, colab)
    resolved = _resolve(colab, runtime, tmp_path_factory.mktemp("resolve"))
    assert not resolved.get("error"), (
        f"pip cannot install the Colab cell's packages without changing Colab's (constrained to "
        f"{runtime['path']}, Python {colab['version']}):\n{resolved['error'][-3000:]}")
    changed = {n: (runtime["freeze"][n], v) for n, v in resolved["installs"].items()
               if n in runtime["freeze"] and runtime["freeze"][n] != v}
    assert not changed, f"the cell would change Colab's {changed} (Colab's, new)"
    assert "s2slide" in resolved["installs"]


def _no_deps_requirements(resolution: dict, version: str) -> dict[str, list]:
    """``{name: [Requirement, ...]}`` of what the cell's NO_DEPS packages require on Python ``version``
    (markers evaluated, no extras), by required name."""
    from packaging.markers import default_environment
    from packaging.requirements import Requirement

    marker_env = {**default_environment(), "python_version": version, "extra": ""}
    out: dict[str, list] = {}
    for requires in resolution.get("no_deps", {}).values():
        for req in map(Requirement, requires):
            if not req.marker or req.marker.evaluate(marker_env):
                out.setdefault(_norm(req.name), []).append(req)
    return out


@pytest.mark.parametrize("kind", ["cpu", "gpu"])
def test_no_deps_packages_find_their_requirements(kind, colab, tmp_path_factory):
    """A package the cell installs without its requirements finds every one of them on Colab or in the
    cell, but those tools/chapters.py names (and Colab has those, at another version)."""
    runtime = _runtime_param(kind, colab)
    resolved = _resolve(colab, runtime, tmp_path_factory.mktemp("resolve"))
    assert not resolved.get("error"), resolved.get("error")
    have = {**runtime["freeze"], **resolved["installs"]}
    assert set(resolved["no_deps"]) == set(_lacking(list(chapters.NO_DEPS), runtime["freeze"]))
    for name, requires in resolved["no_deps"].items():
        skipped, _ = chapters.NO_DEPS[name]
        wanted = _no_deps_requirements({"no_deps": {name: requires}}, colab["version"])
        for required, reqs in wanted.items():
            found = have.get(required)
            for req in reqs:
                if required in skipped:
                    assert found, f"{name} needs {req}, which Colab does not have at all: install it normally"
                else:
                    assert found and req.specifier.contains(found, prereleases=True), (
                        f"{name} needs {req}; Colab and the cell give {found or 'nothing'}: add it to "
                        "chapters.NO_DEPS_REQUIRE (or install it normally)")
        assert not set(skipped) - set(wanted), f"{name} no longer requires {skipped}: install it normally"


@pytest.fixture(scope="session")
def base_env(colab, resolution) -> dict:
    """The Colab-like base environment (built once per freeze, Python and roots)."""
    if resolution.get("error"):
        pytest.fail("the Colab cell does not resolve against Colab's freeze: see "
                    "test_the_colab_cell_resolves_against_colab_freeze[cpu]")
    freeze = colab["freeze"]
    missing = [name for name in ROOTS if name not in freeze]
    assert not missing, f"Colab's freeze no longer has {missing}: update ROOTS and the chapters"
    needed = sorted(set(ROOTS) | {n for n in resolution["installs"] if n in freeze}
                    | {n for n in _no_deps_requirements(resolution, colab["version"]) if n in freeze})
    roots = [SUBSTITUTES.get(name, name) for name in needed]
    key = hashlib.sha256(json.dumps([colab["constraints"], colab["version"], roots]).encode()).hexdigest()[:12]
    base = BASE_ROOT / key
    with _lock(BASE_ROOT / ".lock"):
        if not (base / "complete.json").exists():
            for stale in BASE_ROOT.iterdir():  # bases of older freezes: 3 GB each
                if re.fullmatch(r"[0-9a-f]{12}", stale.name) and stale.is_dir() and stale != base:
                    shutil.rmtree(stale, ignore_errors=True)
            t0 = time.perf_counter()
            shutil.rmtree(base, ignore_errors=True)
            free = _free_gb(BASE_ROOT)
            if free < BASE_NEEDS_GB:
                _no_room(f"only {free:.1f} GB of disk is free")
            try:
                subprocess.run([colab["python"], "-m", "venv", str(base)], check=True)
                constraints = base / "colab-constraints.txt"
                constraints.write_text(colab["constraints"])
                _pip_or_fail(base / "bin" / "python", "-c", str(constraints), "pip")  # Colab's pip first
                _pip_or_fail(base / "bin" / "python", "-c", str(constraints), *roots)
            except NoRoom as err:
                shutil.rmtree(base, ignore_errors=True)  # a half-built base would only hold the disk
                _no_room(str(err))
            seconds = round(time.perf_counter() - t0, 1)
            info = {"build_s": seconds, "python": colab["version"], "freeze": str(colab["path"]),
                    "pip_check": sorted(_pip_check(base / "bin" / "python"))}
            (base / "complete.json").write_text(json.dumps(info, indent=1))
            _record("base_build_s", seconds)
    return {"prefix": base, "version": colab["version"], "freeze": freeze,
            "pip_check": set(json.loads((base / "complete.json").read_text())["pip_check"])}


def _overlay(base: dict, where: Path) -> Path:
    """A new venv that sees the base and the google.colab stub after its own (empty) site-packages.

    ``site.addsitedir`` (rather than a bare path line) also runs the base's own .pth files. No pip in the
    overlay: ``python -m pip`` is the base's pip, which installs into the running interpreter's prefix.
    """
    subprocess.run([str(base["prefix"] / "bin" / "python"), "-m", "venv", "--without-pip", str(where)],
                   check=True)
    site = _site_packages(base["prefix"], base["version"])
    lines = [f"import site; site.addsitedir({str(site)!r})", str(STUB)]
    (_site_packages(where, base["version"]) / "_colab_base.pth").write_text("\n".join(lines) + "\n")
    return where / "bin" / "python"


def _colab_notebook(path: Path, package: str):
    """The chapter with its s2slide requirement pointed at ``package``; fails if the cell is not there."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    first = next(cell for cell in nb.cells if cell.cell_type == "code")
    assert "import google.colab" in first.source, f"{path.name}: the first code cell is not the Colab cell"
    source, count = GIT_REQUIREMENT.subn(f'"s2slide @ {package}"', first.source)
    assert count == 1, f"{path.name}: the Colab cell must install s2slide @ git+<repository>@<ref> once"
    first.source = source
    return nb


def _kernel_env(overlay: Path, work: Path, **extra: str) -> dict[str, str]:
    """The environment of a Colab kernel here: nothing of this test's venv or of the book build, pip as on
    Colab, and its own temporary folder (the cell's record of Colab's versions goes there)."""
    drop = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "JUPYTER_PATH", "MPLBACKEND", "S2SLIDE_")
    env = {k: v for k, v in _pip_env().items() if not k.startswith(drop)}
    path = [p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(ROOT / ".venv"))]
    env["PATH"] = os.pathsep.join([str(overlay / "bin"), *path])
    (work / "tmp").mkdir(parents=True, exist_ok=True)
    env.update(S2SLIDE_OFFLINE="1", S2SLIDE_CACHE=str(work / "cache"), S2SLIDE_RESULTS=str(work / "results"),
               TMPDIR=str(work / "tmp"), **extra)
    if os.environ.get("S2SLIDE_MIRROR"):
        env["S2SLIDE_MIRROR"] = os.environ["S2SLIDE_MIRROR"]
    return env


def _execute(nb, python: Path, tmp_path: Path, env: dict[str, str], monkeypatch) -> None:
    """Run ``nb`` in a kernel of ``python``, in an empty working folder (raises CellExecutionError)."""
    from nbclient import NotebookClient

    spec = tmp_path / "jupyter" / "kernels" / "colab-standin"
    spec.mkdir(parents=True)
    argv = [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Colab stand-in",
                                                  "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    work = tmp_path / "content"  # Colab's /content: empty
    work.mkdir(exist_ok=True)
    client = NotebookClient(nb, kernel_name="colab-standin", timeout=CELL_TIMEOUT_S,
                            resources={"metadata": {"path": str(work)}})
    client.execute(env=env)


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
        out[_norm(name)] = version
    return out


def _left_out_on_purpose(line: str) -> bool:
    """A ``pip check`` line about a requirement tools/chapters.py leaves out on purpose
    (``codecarbon 3.3.2 has requirement psutil>=6.0.0, but you have psutil 5.9.5.``)."""
    words = line.lower().split()
    skipped = chapters.NO_DEPS.get(words[0], ((),))[0] if words else ()
    return any(f"requirement {name}" in line.lower() for name in skipped)


def _chapter_param(path: Path):
    marks = []
    if path.name[:2] in HEAVY and not os.environ.get("S2SLIDE_COLAB_ALL"):
        marks.append(pytest.mark.skip(reason=f"{path.stem} is a heavy chapter: set S2SLIDE_COLAB_ALL=1 to run it"))
    return pytest.param(path, id=path.stem, marks=marks)


@pytest.mark.parametrize("path", [_chapter_param(p) for p in CHAPTERS])
def test_chapter_runs_alone_in_a_fresh_colab(path, base_env, tmp_path, monkeypatch):
    import nbformat
    from nbclient.exceptions import CellExecutionError

    t0 = time.perf_counter()
    overlay = tmp_path / "overlay"
    python = _overlay(base_env, overlay)
    nb = _colab_notebook(path, _package_copy(tmp_path / "s2slide-checkout").as_uri())
    try:
        _execute(nb, python, tmp_path, _kernel_env(overlay, tmp_path / "content"), monkeypatch)
    except CellExecutionError as err:
        plain = re.sub(r"\x1b\[[0-9;]*m", "", str(err))  # the traceback without terminal colours
        pytest.fail(f"{path.name} failed in the Colab stand-in:\n{plain[-4000:]}")
    finally:
        EXECUTED.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, EXECUTED / path.name)
    added = _installed(_site_packages(overlay, base_env["version"]))
    _record(path.stem, {"seconds": round(time.perf_counter() - t0, 1), "installed": len(added),
                        "python": base_env["version"]})

    code = [c for c in nb.cells if c.cell_type == "code"]
    install_log = _outputs_text(code[0])
    assert "incompatible" not in install_log, f"{path.name}: the install cell breaks Colab's packages:\n{install_log}"
    assert "s2slide" in added, f"{path.name}: the first cell did not install s2slide"
    freeze = base_env["freeze"]
    standins = {sub: name for name, sub in SUBSTITUTES.items()}
    colab_own = {n: (freeze.get(standins.get(n, n)), v) for n, v in added.items() if standins.get(n, n) in freeze}
    assert not colab_own, (f"{path.name}: the install cell installs packages Colab has {colab_own} "
                           "(Colab's version, the cell's): it would replace Colab's own")
    broken = {line for line in _pip_check(python) - base_env["pip_check"] if not _left_out_on_purpose(line)}
    assert not broken, f"{path.name}: after its install cell, pip check reports:\n" + "\n".join(sorted(broken))
    if path.name.startswith("00_"):
        said = "\n".join(_outputs_text(c) for c in code)
        assert "changed none of the" in said, f"{path.name}: chapter 0 does not report an untouched Colab:\n{said[-2000:]}"


def test_a_failed_install_says_what_to_do(base_env, tmp_path, monkeypatch):
    """pip failing (here: no package index) stops the cell with one line saying what failed and what to do."""
    import nbformat
    from nbclient.exceptions import CellExecutionError

    overlay = tmp_path / "overlay"
    python = _overlay(base_env, overlay)
    nb = _colab_notebook(CHAPTERS[0], _package_copy(tmp_path / "s2slide-checkout").as_uri())
    nb.cells = [next(c for c in nb.cells if c.cell_type == "code")]
    unreachable = _kernel_env(overlay, tmp_path / "content", PIP_INDEX_URL="http://127.0.0.1:9/simple",
                              PIP_RETRIES="0", PIP_TIMEOUT="2")
    with pytest.raises(CellExecutionError) as err:
        _execute(nb, python, tmp_path, unreachable, monkeypatch)
    output = nbformat.from_dict(nb.cells[0]).outputs
    error = next(out for out in output if out.output_type == "error")
    assert error.ename == "SystemExit" and "CalledProcessError" not in str(err.value)
    message = error.evalue
    assert "\n" not in message and message.startswith("Colab setup: installing the packages Colab lacks failed (")
    assert "pypi.org" in message and "Restart session" in message, message
    assert not any("To exit" in out.get("text", "") for out in output), "IPython's exit hint is shown"


def test_a_full_disk_skips_with_a_reason_and_required_makes_it_fail(tmp_path, monkeypatch):
    """pip's "No space left on device" (as CI's disk gave it once) is told apart from a broken install."""
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'ERROR: Could not install packages due to an OSError: "
                    "[Errno 28] No space left on device' >&2\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(NoRoom, match="ran out of disk"):
        _pip_or_fail(fake, "numpy")
    fake.write_text("#!/bin/sh\necho 'ERROR: No matching distribution found for numpy==0' >&2\nexit 1\n")
    with pytest.raises(pytest.fail.Exception, match="No matching distribution"):
        _pip_or_fail(fake, "numpy==0")
    monkeypatch.delenv("S2SLIDE_COLAB_REQUIRED", raising=False)
    monkeypatch.setattr(sys.modules[__name__], "SKIPPED", tmp_path / "SKIPPED")
    with pytest.raises(pytest.skip.Exception, match="only 1.0 GB.*make colab"):
        _no_room("only 1.0 GB of disk is free")
    assert "only 1.0 GB" in (tmp_path / "SKIPPED").read_text()  # for make test's last line
    monkeypatch.setenv("S2SLIDE_COLAB_REQUIRED", "1")
    with pytest.raises(pytest.fail.Exception, match="only 1.0 GB"):
        _no_room("only 1.0 GB of disk is free")


def test_find_python_takes_the_one_named_and_says_which(monkeypatch):
    """S2SLIDE_COLAB_PYTHON wins (CI names uv's 3.13 there); the version reported is the interpreter's."""
    monkeypatch.setenv("S2SLIDE_COLAB_PYTHON", sys.executable)
    assert find_python() == (sys.executable, "%d.%d" % sys.version_info[:2])
    monkeypatch.setenv("S2SLIDE_COLAB_PYTHON", "/nonexistent/python3.13")
    found = find_python()
    assert found is not None and found[1] in PYTHONS  # falls back to what this machine has


def test_stub_is_only_in_the_standin():
    """The stub must never leak into the book's own environment (it would switch every chapter to Colab mode)."""
    with pytest.raises(ImportError):
        import google.colab  # noqa: F401


if __name__ == "__main__":
    found, path = find_python(), chapters.freeze_path()
    print(f"Colab stand-in: Python {found[1]} ({found[0]})" if found else
          f"Colab stand-in: no Python {' / '.join(PYTHONS)} found (set S2SLIDE_COLAB_PYTHON)")
    if found and found[1] != PYTHONS[0]:
        print(f"  Colab has Python {PYTHONS[0]}; this is the fallback")
    print(f"Colab's freeze: {path}" if path else f"{chapters.FREEZE_MISSING}: the stand-in is skipped")
    print(f"Disk free under {BASE_ROOT}: {_free_gb(BASE_ROOT):.1f} GB (a new base needs about "
          f"{BASE_NEEDS_GB:.0f} GB; with less, its tests are skipped and say so)")
