"""The pins agree everywhere: requirements.txt, environment.yml and every Colab install cell."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import chapters  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
PIN = re.compile(r"([A-Za-z0-9_.\-]+)==([A-Za-z0-9_.+\-]+)")


def test_requirements_are_exact_pins():
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            assert PIN.fullmatch(line), f"requirements.txt: {line!r} is not an exact pin (name==version)"


def test_environment_yml_matches_requirements():
    env_pins = dict(PIN.findall((ROOT / "environment.yml").read_text()))
    env_pins = {k.lower(): v for k, v in env_pins.items()}
    assert env_pins == chapters.pins(), "run `python tools/pins.py` to regenerate environment.yml"
    assert "python=3.11" in (ROOT / "environment.yml").read_text()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_colab_cell_uses_the_pins_and_the_repository(path):
    nb = nbformat.read(path, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert first.source.startswith(chapters.MARKER), f"{path.name}: first code cell is not the Colab cell"
    pins = chapters.pins()
    for name, version in PIN.findall(first.source):
        assert pins.get(name.lower()) == version, (
            f"{path.name}: Colab cell pins {name}=={version}, requirements.txt says "
            f"{pins.get(name.lower())}; run `python tools/chapters.py sync`")
    assert f'REPOSITORY = "{chapters.repository_url()}"' in first.source
    assert f"@{chapters.release_tag()}" in first.source
    # Colab's own TensorFlow and OpenCV are used, never replaced
    assert "tensorflow" not in first.source and "opencv" not in first.source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_clean_and_has_a_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), (
        f"{path.name} carries outputs: clear them before committing")
    assert any("parameters" in c.metadata.get("tags", []) for c in code), (
        f"{path.name} has no cell tagged 'parameters'")


def test_every_notebook_is_in_the_toc():
    toc = (ROOT / "_toc.yml").read_text()
    for path in NOTEBOOKS:
        assert f"notebooks/{path.stem}" in toc, f"add notebooks/{path.stem} to _toc.yml"
