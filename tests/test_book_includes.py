"""Every ``literalinclude`` in the chapters and book pages names a file and object that exist.

Sphinx only warns when a ``:pyobject:`` is missing, and the book is built with ``-W``, so a renamed
function in the package failed the whole build at its very end (stop 20's CI). This reads the
sources with ``ast`` in well under a second, so the unit tests say it first and name the chapter.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "book").glob("*.md"))
INCLUDE = re.compile(r"```\{literalinclude\}\s+(\S+)\s*\n((?::[a-z-]+:.*\n)*)")


def _text(page: Path) -> str:
    if page.suffix == ".ipynb":
        cells = json.loads(page.read_text())["cells"]
        return "\n".join("".join(c["source"]) + "\n" for c in cells if c["cell_type"] == "markdown")
    return page.read_text()


def _objects(tree: ast.Module) -> set[str]:
    """Top-level names and Class.method names, as Sphinx's :pyobject: accepts them."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            if isinstance(node, ast.ClassDef):
                names |= {f"{node.name}.{m.name}" for m in node.body
                          if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))}
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def _includes():
    for page in PAGES:
        for match in INCLUDE.finditer(_text(page)):
            options = dict(re.findall(r":([a-z-]+):\s*(.*)", match.group(2)))
            yield pytest.param(page, match.group(1), options.get("pyobject"),
                               id=f"{page.stem}:{match.group(1).split('/')[-1]}:{options.get('pyobject')}")


def test_the_pages_include_code():
    assert sum(1 for _ in _includes()) > 20


@pytest.mark.parametrize("page,target,pyobject", list(_includes()))
def test_include_resolves(page, target, pyobject):
    path = (page.parent / target).resolve()
    assert path.is_file(), f"{page.name} includes {target}, which does not exist"
    if pyobject:
        names = _objects(ast.parse(path.read_text()))
        assert pyobject in names, (
            f"{page.name} includes `{pyobject}` from {target}, which has no such object; "
            "rename the :pyobject: to the function's new name")
