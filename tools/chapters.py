"""Chapter tooling: create a chapter from the template, refresh every Colab install cell.

    python tools/chapters.py new 09 my_topic "My topic"   # notebooks/09_my_topic.ipynb
    python tools/chapters.py sync                          # rewrite all Colab cells from the pins
    python tools/chapters.py from-py src.py notebooks/NN_slug.ipynb   # jupytext percent -> .ipynb

The Colab cell of every chapter is generated from requirements.txt, pyproject.toml and
_config.yml, so versions are written in one place; tests/test_pins.py checks the result.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
#: What Colab lacks (Colab ships numpy, scipy, pandas, matplotlib, scikit-learn, TensorFlow,
#: OpenCV, h5py, xarray, geopandas, earthengine-api and geemap; we use those as they are).
COLAB_PACKAGES = (
    "rasterio", "rioxarray", "pooch", "pystac-client", "odc-stac", "planetary-computer",
    "spectral", "codecarbon",
)
MARKER = "# Colab setup"


def pins() -> dict[str, str]:
    """``{name: version}`` from requirements.txt (names lower-case)."""
    out = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s#;]+)", line.strip())
        if m:
            out[m.group(1).lower()] = m.group(2)
    return out


def repository_url() -> str:
    text = (ROOT / "_config.yml").read_text()
    m = re.search(r"^repository:\s*\n(?:\s+#.*\n)*\s+url:\s*(\S+)", text, re.M)
    if not m:
        raise SystemExit("_config.yml has no repository url")
    return m.group(1)


def release_tag() -> str:
    m = re.search(r'^version\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    if not m:
        raise SystemExit("pyproject.toml has no version")
    return "v" + m.group(1)


def colab_cell_source() -> str:
    p = pins()
    packages = ",\n        ".join(f'"{name}=={p[name]}"' for name in COLAB_PACKAGES)
    return f'''{MARKER}: on Google Colab, install what Colab lacks (versions pinned in requirements.txt)
# and the course's helper package s2slide. Anywhere else this cell does nothing:
# locally, run `make book` or `pip install -r requirements.txt -e .` once instead.
import subprocess
import sys

try:
    import google.colab  # noqa: F401

    IN_COLAB = True
except ImportError:
    IN_COLAB = False

if IN_COLAB:
    REPOSITORY = "{repository_url()}"
    PACKAGES = [
        {packages},
        f"s2slide @ git+{{REPOSITORY}}@{release_tag()}",
    ]
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *PACKAGES], check=True)'''


def sync(path: Path) -> bool:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            if cell.source.startswith(MARKER):
                new = colab_cell_source()
                if cell.source != new:
                    cell.source = new
                    nbformat.write(nb, path)
                    return True
                return False
            break
    raise SystemExit(f"{path}: its first code cell is not the Colab setup cell")


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
    elif len(sys.argv) >= 2 and sys.argv[1] == "sync":
        for nb_path in sorted((ROOT / "notebooks").glob("*.ipynb")):
            if sync(nb_path):
                print(f"updated {nb_path.name}")
    elif len(sys.argv) == 5 and sys.argv[1] == "new":
        new(*sys.argv[2:5])
    else:
        print(__doc__)
        raise SystemExit(2)
