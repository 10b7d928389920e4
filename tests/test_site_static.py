"""The built site (static checks; the Chromium tests are still to come): chapter map, Colab links, no errors."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
CHAPTERS = sorted((ROOT / "notebooks").glob("*.ipynb"))

pytestmark = pytest.mark.site


@pytest.fixture(scope="module")
def html() -> Path:
    if not (HTML / "index.html").exists():
        pytest.fail("_build/html is missing: run `make html` first")
    return HTML


def test_index_shows_the_chapter_map(html):
    text = (html / "book" / "intro.html").read_text()
    for path in CHAPTERS:
        assert f"notebooks/{path.stem}.html" in text or f"{path.stem}.html" in text


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_page_has_colab_link_and_no_error_output(html, path):
    page = (html / "notebooks" / f"{path.stem}.html").read_text()
    assert f"colab.research.google.com/github/s2slide/s2slide-course/blob/main/./notebooks/{path.name}" in page
    assert "Traceback (most recent call last)" not in page
    assert "output error" not in page
