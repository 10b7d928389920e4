"""Chapter tooling: create a chapter from the template, refresh every Colab install cell.

    python tools/chapters.py new 09 my_topic "My topic"   # notebooks/09_my_topic.ipynb
    python tools/chapters.py sync                          # rewrite all Colab cells from the pins
    python tools/chapters.py sync --ref v0.2.0             # ... installing s2slide at that ref
    python tools/chapters.py from-py src.py notebooks/NN_slug.ipynb   # jupytext percent -> .ipynb

The Colab cell of every chapter is generated from requirements.txt (versions of what Colab lacks) and
_config.yml (the repository and the branch or tag the book's Colab button opens, which is also the
ref of s2slide that the cell installs), so versions and addresses are written in one place;
tests/test_pins.py checks the result against those files and against Colab's own ``pip freeze``
(../shared/colab/pip-freeze.txt), and tests/test_colab.py runs it in a stand-in of that image.
tools/release.py rewrites the ref for a release tag.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
#: What the chapters need that Colab's CPU runtime lacks, at the versions of requirements.txt.
#: Everything else they use is on Colab, and they use Colab's own copy as it is (numpy, scipy, pandas,
#: matplotlib, scikit-learn, TensorFlow, Keras, OpenCV, h5py, xarray, dask, rasterio, pyproj, shapely,
#: geopandas, pooch, requests, tqdm, earthengine-api, geemap, folium, bokeh, psutil): an install cell
#: that pins another version of one of them replaces Colab's copy on disk while the running kernel keeps
#: the old module. ``distributed`` is on Colab's GPU runtime but not on its CPU one (since 2025-12); it is
#: pinned to Colab's dask version (requirements.txt pins dask and distributed to it), as distributed
#: requires exactly its own dask version. Spectral Python is not here: only the tests use it.
COLAB_LACKS = ("rioxarray", "pystac-client", "odc-stac", "planetary-computer", "distributed")
#: Installed without their requirements: ``{name: (requirements left out, why that is safe)}``.
#: codecarbon 3 (every 3.x release) asks for psutil>=6, which would replace Colab's psutil 5.9.5, loaded
#: by the running kernel; codecarbon 2.8 needs an httpx older than Colab's. codecarbon 3.3.2 calls only
#: psutil functions that 5.9 has (cpu_percent, cpu_times, cpu_count, virtual_memory, Process().pid,
#: .memory_info, .children, .cpu_times), and chapter 7 runs with psutil 5.9.5 in the Colab stand-in.
NO_DEPS = {"codecarbon": (("psutil",), "asks for psutil>=6 but calls only what Colab's psutil 5.9 has")}
#: The requirements of the NO_DEPS packages that Colab lacks (codecarbon 3.3.2's, less psutil and less
#: what Colab has); installed with the COLAB_LACKS packages, unpinned (as the requirements pip resolves
#: for them). tests/test_pins.py checks this list against codecarbon's metadata and Colab's freeze.
NO_DEPS_REQUIRE = ("nvidia-ml-py", "pycountry", "questionary", "rapidfuzz")
MARKER = "# Colab setup"
#: Where the record of Colab's image is: S2SLIDE_COLAB_FREEZE, else ../shared/colab/ beside the checkout.
FREEZE_DEFAULT = ROOT.parent / "shared" / "colab" / "pip-freeze.txt"
#: What the cell writes before installing anything, read by chapter 0 (s2slide.records.env).
SNAPSHOT = "s2slide-colab-before.json"


def pins() -> dict[str, str]:
    """``{name: version}`` from requirements.txt (names lower-case)."""
    out = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s#;]+)", line.strip())
        if m:
            out[m.group(1).lower()] = m.group(2)
    return out


def _config_value(key: str) -> str:
    """A value of the ``repository:`` block of _config.yml (``url`` or ``branch``)."""
    text = (ROOT / "_config.yml").read_text()
    block = re.search(r"^repository:\s*\n((?:[ \t]+.*\n|\s*\n)*)", text, re.M)
    m = re.search(rf"^\s+{key}:\s*(\S+)", block.group(1), re.M) if block else None
    if not m:
        raise SystemExit(f"_config.yml has no repository {key}")
    return m.group(1).strip("\"'")


def repository_url() -> str:
    return _config_value("url")


def package_ref() -> str:
    """The branch or tag whose s2slide the cell installs: the book's ``repository.branch``.

    ``main`` on the main branch (the notebooks there call what main's package has); a release tag
    in the commit that tools/release.py tags, so a notebook opened from that tag installs that tag.
    """
    return _config_value("branch")


def release_tag() -> str:
    """``v`` + the version in pyproject.toml."""
    m = re.search(r'^version\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    if not m:
        raise SystemExit("pyproject.toml has no version")
    return "v" + m.group(1)


def freeze_path() -> Path | None:
    """Colab's ``pip freeze`` (S2SLIDE_COLAB_FREEZE, else ../shared/colab/pip-freeze.txt); None if absent."""
    path = Path(os.environ.get("S2SLIDE_COLAB_FREEZE") or FREEZE_DEFAULT)
    return path if path.is_file() else None


#: Why the tests that need Colab's freeze skip without it.
FREEZE_MISSING = ("Colab's pip freeze is not here (S2SLIDE_COLAB_FREEZE, else ../shared/colab/pip-freeze.txt "
                  "beside the checkout): put a copy of pip-freeze.txt from github.com/googlecolab/backend-info "
                  "there, as .github/workflows/book.yml does")


def colab_requirements() -> list[str]:
    """What the cell's first pip call installs: COLAB_LACKS at their pins, then NO_DEPS_REQUIRE."""
    p = pins()
    missing = [name for name in (*COLAB_LACKS, *NO_DEPS) if name not in p]
    if missing:
        raise SystemExit(f"requirements.txt pins none of {missing}; the Colab cell takes versions from it")
    return [f"{name}=={p[name]}" for name in COLAB_LACKS] + list(NO_DEPS_REQUIRE)


def colab_cell_source(ref: str | None = None) -> str:
    """The Colab setup cell, installing s2slide at ``ref`` (default: :func:`package_ref`)."""
    p, ref = pins(), ref or package_ref()
    lacks = "".join(f'\n            "{req}",' for req in colab_requirements())
    no_deps = "".join(f'\n        # {name} {p[name]} {why}:'
                      f'\n        # installed without its requirements (those Colab lacks are in the list above).'
                      f'\n        ("{name}", ["--no-deps"], ["{name}=={p[name]}"], PYPI),'
                      for name, (_, why) in NO_DEPS.items())
    return f"""{MARKER}: on Google Colab, install what this course needs that Colab lacks, at versions that
# leave every package Colab ships as it is, and the course's helper package s2slide.
# Anywhere else this cell does nothing: locally, run `make book` (or
# `pip install -r requirements.txt -e .`) once instead.
# Generated by `python tools/chapters.py sync` from requirements.txt and _config.yml.
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tempfile
import warnings

try:
    import google.colab  # noqa: F401

    IN_COLAB = True
except ImportError:
    IN_COLAB = False

if IN_COLAB:
    REPOSITORY = "{repository_url()}"
    REF = "{ref}"  # the branch or release tag of REPOSITORY that this notebook belongs to
    AGAIN = "then Runtime > Restart session and run this cell again"
    PYPI = ("check that this runtime reaches pypi.org (if it does, Colab has changed: report it "
            f"at {{REPOSITORY}}/issues), {{AGAIN}}")
    STEPS = [  # (what, pip's options, requirements, what to do when it fails)
        ("the packages Colab lacks", [], [{lacks}
        ], PYPI),{no_deps}
        ("s2slide", [], [f"s2slide @ git+{{REPOSITORY}}@{{REF}}"],
         f"check that {{REPOSITORY}} exists and has the branch or tag {{REF}}, {{AGAIN}}"),
    ]

    def installed(requirement):
        \"\"\"Whether this runtime has the package at all (at any version: Colab's own is kept).\"\"\"
        try:
            importlib.metadata.version(re.split(r"[=@ ]", requirement)[0])
        except importlib.metadata.PackageNotFoundError:
            return False
        return True

    # Colab's own versions, before anything is installed: chapter 0 prints what this cell changed.
    SNAPSHOT = os.path.join(tempfile.gettempdir(), "{SNAPSHOT}")
    if not os.path.exists(SNAPSHOT):
        with open(SNAPSHOT, "w") as file:
            json.dump({{d.metadata["Name"]: d.version for d in importlib.metadata.distributions()}},
                      file)
    for what, options, requirements, todo in STEPS:
        # what this runtime has is kept (e.g. distributed and dask on Colab's GPU runtime)
        requirements = [r for r in requirements if not installed(r)]
        if not requirements:
            continue
        print(f"Colab setup: installing {{what}}")
        command = [sys.executable, "-m", "pip", "install", "-q", *options, *requirements]
        pip = subprocess.run(command, capture_output=True, text=True,
                             env={{**os.environ, "GIT_TERMINAL_PROMPT": "0"}})
        said = [line.strip() for line in pip.stderr.splitlines()  # pip's and git's own errors
                if line.strip().lower().startswith(("error", "fatal"))
                and "subprocess-exited" not in line]
        if pip.returncode:
            reason = (said or pip.stderr.strip().splitlines() or ["no message"])[0]
            warnings.filterwarnings("ignore", "To exit")  # IPython's hint on SystemExit: not meant
            raise SystemExit(f"Colab setup: installing {{what}} failed ({{reason}}); {{todo}}.")
        if said:  # pip's warnings
            print(*said, sep="\\n", file=sys.stderr)
    print(f"Colab setup: done (s2slide from {{REPOSITORY}}@{{REF}})")"""


def sync(path: Path, ref: str | None = None) -> bool:
    """Rewrite the Colab cell of one notebook; True if it changed."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            if cell.source.startswith(MARKER):
                new = colab_cell_source(ref)
                if cell.source != new:
                    cell.source = new
                    nbformat.write(nb, path)
                    return True
                return False
            break
    raise SystemExit(f"{path}: its first code cell is not the Colab setup cell")


def sync_all(ref: str | None = None) -> list[Path]:
    """Rewrite the Colab cell of every chapter; the notebooks that changed."""
    return [p for p in sorted((ROOT / "notebooks").glob("*.ipynb")) if sync(p, ref)]


TEMPLATE = [
    ("markdown", "# {title}\n\n:::{{admonition}} Data shown in this chapter\n:class: note\nSay which data each figure shows: live, mirror (real files) or simulated.\n:::"),
    ("markdown", "## Overview\n\n1. First learning objective.\n2. Second learning objective.\n3. Third learning objective.\n\n## Prerequisites\n\n| Concepts | Importance | Notes |\n|---|---|---|\n| [Chapter 1](01_data_access) | Necessary | `load_scene` |\n\n**Time to learn**: 30 minutes."),
    ("code", "COLAB"),
    ("code", "# parameters: the knobs a student or a test may change\nSOURCE = \"auto\"  # \"auto\", \"live\", \"mirror\" or \"simulated\"\nSEED = 0"),
    ("code", "from s2slide import data\nfrom s2slide.records import results\n\nrun = results.ChapterRun(\"{stem}\").start()"),
    ("markdown", "## A section\n\nOne sentence per line; say what the next cell shows."),
    ("markdown", "## Summary\n\n### What's next"),
    ("code", "run.finish()"),
    ("markdown", "## Exercises\n\n## Resources and references"),
]


def new(number: str, slug: str, title: str) -> Path:
    stem = f"{int(number):02d}_{slug}"
    path = ROOT / "notebooks" / f"{stem}.ipynb"
    if path.exists():
        raise SystemExit(f"{path} exists")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for kind, text in TEMPLATE:
        if kind == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(text.format(title=title, stem=stem)))
        else:
            src = colab_cell_source() if text == "COLAB" else text.format(stem=stem)
            cell = nbformat.v4.new_code_cell(src)
            if src.startswith("# parameters"):
                cell.metadata["tags"] = ["parameters"]
            nb.cells.append(cell)
    nbformat.write(nb, path)
    print(f"created {path}; add it to _toc.yml")
    return path


def from_py(source: Path, dest: Path) -> None:
    """Convert a jupytext percent-format script to a clean notebook.

    A code cell whose whole text is ``COLAB`` becomes the Colab setup cell (needs ``jupytext``).
    """
    import jupytext

    nb = jupytext.read(source)
    for cell in nb.cells:
        cell.metadata.pop("lines_to_next_cell", None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            if cell.source.strip() == "COLAB":
                cell.source = colab_cell_source()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                   "language_info": {"name": "python"}}
    nbformat.write(nb, dest)
    print(f"wrote {dest}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "from-py":
        from_py(Path(sys.argv[2]), Path(sys.argv[3]))
    elif len(sys.argv) in (2, 4) and sys.argv[1] == "sync" and sys.argv[2:3] in ([], ["--ref"]):
        for nb_path in sync_all(sys.argv[3] if len(sys.argv) == 4 else None):
            print(f"updated {nb_path.name}")
    elif len(sys.argv) == 5 and sys.argv[1] == "new":
        new(*sys.argv[2:5])
    else:
        print(__doc__)
        raise SystemExit(2)
