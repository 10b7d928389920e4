"""The built site, read as files (fast, no browser): chapter map, exact Colab links, no error output.

tests/test_site.py checks the same site in headless Chromium; these checks need only _build/html and
say more precisely what is wrong when the HTML itself is.
"""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
COLAB_HREF = re.compile(r'href="(https://colab\.research\.google\.com/[^"]+)"')

pytestmark = pytest.mark.site


def colab_url(notebook: Path) -> str:
    """The address a chapter's Colab button must open, from _config.yml's repository."""
    repo = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    owner_repo = urllib.parse.urlsplit(repo["url"]).path.strip("/")
    return (f"https://colab.research.google.com/github/{owner_repo}/blob/"
            f"{repo.get('branch', 'main')}/notebooks/{notebook.name}")


@pytest.fixture(scope="module")
def html() -> Path:
    if not (HTML / "index.html").exists():
        pytest.fail("_build/html is missing: run `make html` first")
    return HTML


def test_colab_url_is_the_published_form():
    assert colab_url(ROOT / "notebooks" / "01_data_access.ipynb") == (
        "https://colab.research.google.com/github/s2slide/s2slide-course/blob/main/"
        "notebooks/01_data_access.ipynb")


def test_index_shows_the_chapter_map(html):
    text = (html / "book" / "intro.html").read_text()
    missing = [p.stem for p in CHAPTERS if f"notebooks/{p.stem}.html" not in text]
    assert not missing, f"the introduction does not link chapters {missing}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_page_has_its_colab_link(html, path):
    page = (html / "notebooks" / f"{path.stem}.html").read_text()
    expected = colab_url(path)
    # Links to this repository on Colab (the launch button); a chapter may also link other notebooks.
    ours = {u for u in COLAB_HREF.findall(page) if u.startswith(expected.split("/blob/")[0] + "/")}
    assert ours == {expected}, (
        f"{path.stem}: Colab links to this repository {sorted(ours)}, expected only {expected} "
        "(check repository.url, branch and path_to_book in _config.yml)")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_page_has_no_error_output(html, path):
    page = (html / "notebooks" / f"{path.stem}.html").read_text()
    assert "Traceback (most recent call last)" not in page
    assert not re.search(r'class="[^"]*\boutput (?:error|traceback)\b', page), (
        f"{path.stem}: the page shows an error output; run the chapter and fix the failing cell")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_source_is_published_for_download(html, path):
    assert (html / "_sources" / "notebooks" / path.name).is_file(), (
        f"{path.name} is not in _build/html/_sources: the download button would fail")
