"""Every `{literalinclude}` of a chapter names a function or class that exists in its file.

Sphinx resolves ``:pyobject:`` only when the book is built, and a missing name is a warning, not
an error: chapter 9 showed ``stacks._lazy_group`` for weeks after the function had been renamed,
and the page would have lost the code its prose introduces. This reads the committed notebooks
and the package with ``ast``, in well under a second.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
INCLUDE = re.compile(r"```\{literalinclude\}\s+(\S+)\s*\n((?::[^\n]*\n)*)")


def _defined(path: Path) -> set[str]:
    """Names ``:pyobject:`` accepts in ``path``: top-level and ``Class.method`` definitions."""
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        if isinstance(node, ast.ClassDef):
            names |= {f"{node.name}.{n.name}" for n in node.body
                      if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    return names


def _includes(notebook: Path) -> list[tuple[str, str]]:
    cells = json.loads(notebook.read_text())["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    found = []
    for m in INCLUDE.finditer(text):
        obj = re.search(r":pyobject:\s*(\S+)", m.group(2))
        if obj:
            found.append((m.group(1), obj.group(1)))
    return found


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_every_pyobject_a_chapter_shows_exists(notebook):
    missing = [f"{target} :pyobject: {name}" for target, name in _includes(notebook)
               if name not in _defined((notebook.parent / target).resolve())]
    assert not missing, (f"{notebook.name} shows code that is not there (renamed or removed?): "
                         f"{missing}; point the literalinclude at the function's current name")


def test_the_pattern_reads_a_real_include():
    assert ("../src/s2slide/stats.py", "fit_inverse_gamma") in _includes(
        ROOT / "notebooks" / "09_any_earthquake.ipynb")
