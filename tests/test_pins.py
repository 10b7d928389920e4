"""The pins agree everywhere: requirements.txt, environment.yml, every Colab install cell, and Colab's own image.

requirements.txt is the pinned CI environment (Python 3.11). Each notebook's Colab cell is generated from it
(tools/chapters.py sync) for the packages Colab lacks, and must agree with Colab's published ``pip freeze``
(../shared/colab/pip-freeze.txt or S2SLIDE_COLAB_FREEZE; those tests skip without it) for the rest.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import chapters  # noqa: E402

from s2slide.records import env  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
PIN = re.compile(r"([A-Za-z0-9_.\-]+)==([A-Za-z0-9_.+\-]+)")
#: Packages the cell installs that must have the version of another package of Colab's (distributed
#: requires exactly its own dask version).
SAME_VERSION_AS = {"distributed": "dask"}


def _first_code(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return next(c for c in nb.cells if c.cell_type == "code").source


@pytest.fixture(scope="module")
def freeze() -> dict[str, str]:
    path = chapters.freeze_path()
    if path is None:
        pytest.skip(chapters.FREEZE_MISSING)
    return env.read_freeze(path.read_text())


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
def test_colab_cell_is_generated_from_the_pins(path):
    """The first code cell is the one tools/chapters.py generates from requirements.txt and _config.yml."""
    first = _first_code(path)
    assert first.startswith(chapters.MARKER), f"{path.name}: first code cell is not the Colab cell"
    assert first == chapters.colab_cell_source(), (
        f"{path.name}: the Colab cell is not what requirements.txt and _config.yml give: "
        "run `python tools/chapters.py sync`")
    # Colab's own TensorFlow and OpenCV are used, never replaced
    assert "tensorflow" not in first and "opencv" not in first


def test_the_cell_installs_s2slide_from_main_or_from_this_release():
    """On main the cells install main; in a release's commit, that release's tag (tools/release.py)."""
    ref = chapters.package_ref()
    assert ref in ("main", chapters.release_tag()), (
        f"_config.yml's repository.branch is {ref!r}: it must be main, or {chapters.release_tag()} in a "
        "release commit made by tools/release.py")
    assert f'REF = "{ref}"' in chapters.colab_cell_source()
    assert f'REPOSITORY = "{chapters.repository_url()}"' in chapters.colab_cell_source()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_colab_cell_pins_nothing_against_colab_freeze(path, freeze):
    """A package Colab ships is never pinned by the cell (pinning another version replaces Colab's);
    what the cell pins to match Colab's versions does match them."""
    for name, version in PIN.findall(_first_code(path)):
        key = name.lower()
        assert key not in freeze, (
            f"{path.name}: the Colab cell pins {name}=={version}, but Colab ships {name}=={freeze[key]}: "
            "remove it from chapters.COLAB_LACKS")
        if key in SAME_VERSION_AS:
            other = SAME_VERSION_AS[key]
            assert version == freeze[other], (
                f"{path.name}: the Colab cell pins {name}=={version}; it must be Colab's {other} version "
                f"{freeze[other]} (pin both in requirements.txt)")


def test_no_deps_requirements_are_what_colab_lacks(freeze):
    """The cell installs the NO_DEPS packages' requirements that Colab lacks, and only those."""
    from packaging.markers import default_environment
    from packaging.requirements import Requirement

    marker_env = {**default_environment(), "python_version": "3.13", "extra": ""}
    wanted = set()
    for name, (skipped, _) in chapters.NO_DEPS.items():
        assert metadata.version(name) == chapters.pins()[name], f"the .venv's {name} is not the pinned one"
        for req in map(Requirement, metadata.requires(name) or []):
            if (not req.marker or req.marker.evaluate(marker_env)) and req.name.lower() not in skipped:
                wanted.add(env._normalize(req.name))
    assert set(chapters.NO_DEPS_REQUIRE) == wanted - set(freeze), "update chapters.NO_DEPS_REQUIRE"


def test_the_snapshot_cell_and_chapter_0_agree():
    assert chapters.SNAPSHOT == env.SETUP_SNAPSHOT
    assert f'"{env.SETUP_SNAPSHOT}"' in chapters.colab_cell_source()


def test_new_chapter_gets_the_colab_cell(tmp_path, monkeypatch):
    """``tools/chapters.py new`` writes the same cell as every chapter's."""
    monkeypatch.setattr(chapters, "ROOT", tmp_path)
    for name in ("requirements.txt", "_config.yml", "pyproject.toml"):
        (tmp_path / name).write_text((ROOT / name).read_text())
    (tmp_path / "notebooks").mkdir()
    path = chapters.new("09", "my_topic", "My topic")
    assert _first_code(path) == chapters.colab_cell_source()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_clean_and_has_a_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), (
        f"{path.name} carries outputs: clear them before committing")
    assert any("parameters" in c.metadata.get("tags", []) for c in code), (
        f"{path.name} has no cell tagged 'parameters'")
    # nbformat's own layout (sorted keys), so that tools/chapters.py and tools/release.py, which
    # write notebooks with nbformat, change only what they mean to change
    assert path.read_text() == nbformat.writes(nb) + "\n", (
        f"{path.name} is not in nbformat's layout: run nbformat.write(nbformat.read(path, 4), path)")


def test_every_notebook_is_in_the_toc():
    toc = (ROOT / "_toc.yml").read_text()
    for path in NOTEBOOKS:
        assert f"notebooks/{path.stem}" in toc, f"add notebooks/{path.stem} to _toc.yml"
