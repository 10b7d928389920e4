"""The package's layout: a folder per concept, and each layer imports only the layers below it.

Layers, bottom to top (README, "Layout"):

1. ``errors``, ``config``, ``checks``, ``files``: the error family, the settings, the argument
   checks every method calls, and the atomic writing of files;
2. ``data/``: everything that gets data (load_scene, live routes, simulator, registry, bands);
3. the methods the chapters teach, at the top of the package (``indices``, ``align``, ...);
4. ``models/``: the networks and their input;
5. ``scale`` and ``rapid``: the chains of chapters 8 and 9, which use all of the above;
6. ``records/``: the book's own records (results files, carbon, footprints, environment checks),
   which may look at everything and which nothing in the package imports.

Imports inside functions (the package imports heavy libraries late) count as well.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "s2slide"
METHODS = {"align", "indices", "cluster", "mnf", "patches", "tiling", "metrics", "plot",
           "composite", "landslides", "stats"}
CHAINS = {"scale", "rapid"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(path: Path, known: set[str]) -> set[str]:
    """The s2slide modules a file imports (``from s2slide.data import registry`` -> the submodule)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("s2slide")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("s2slide"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                out.add(sub if sub in known else node.module)
    return out - {"s2slide"}


def _layer(module: str) -> int:
    name = module.removeprefix("s2slide.")
    top = name.split(".")[0]
    if top in ("errors", "config", "checks", "files"):
        return 1
    if top == "data":
        return 2
    if top in METHODS:
        return 3
    if top == "models":
        return 4
    if top in CHAINS:
        return 5
    if top == "records":
        return 6
    raise AssertionError(f"{module}: a module outside the layers; add it to a layer here and in "
                         "the README's layout table")


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: _imports(p, set(mods)) - {m} for m, p in mods.items()}


def test_every_module_belongs_to_a_layer():
    for module in _modules():
        if module != "s2slide":
            _layer(module)


def test_each_module_imports_only_its_own_layer_or_those_below():
    upward = [f"{m} imports {d}" for m, deps in _graph().items() if m != "s2slide"
              for d in deps if _layer(d) > _layer(m)]
    assert not upward, "imports that point up the layers:\n" + "\n".join(upward)


def test_no_import_circle():
    graph = _graph()
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycle = path[path.index(dep):] + [dep]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep)
        path.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)


def test_data_access_lives_under_data():
    names = set(_modules())
    for old in ("bands", "scenes", "harmonize", "registry", "simulate", "l4s", "live", "pipeline",
                "results", "carbon", "footprint", "env"):
        assert f"s2slide.{old}" not in names, f"s2slide.{old} is at the top again"
    assert {"s2slide.data.live", "s2slide.data.registry", "s2slide.models.inputs",
            "s2slide.records.results"} <= names
