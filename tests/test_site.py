"""The published website, as a reader sees it: every page of _build/html in headless Chromium.

The site is served over http://127.0.0.1 (a free port, a thread) and driven through Selenium with
Debian's chromium-driver (never Selenium Manager, which would download a browser). Each page is loaded
once at desktop width (1280 px) and once as a phone (390 px, mobile emulation); what the browser
reports is kept and checked by the tests below, and a screenshot of each goes to _build/screenshots/.

Checked: no error in any cell output, every image loaded with real alt text, every internal link and
anchor resolves, no local resource fails in the browser console, each chapter has a Colab launch link
to its notebook in the repository named in _config.yml and a working .ipynb download, each chapter
teaches (numbered objectives, prerequisites table, time to learn, at least three exercises whose
solutions are hidden until clicked, a collapsed instructor note), the bibliography renders, the
introduction links the execution statistics, and no page is blank or wider than a phone.

Chromium and its driver: Debian's packages (`tools/chromium.sh`); other paths through the environment
variables CHROMIUM and CHROMEDRIVER.
"""

from __future__ import annotations

import functools
import os
import re
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml
from loopback import serve_folder
from test_site_static import colab_url

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
WIDTHS = {"desktop": (1280, 900, False), "phone": (390, 844, True)}
MIN_TEXT = 200  # characters of article text: the shortest page (the bibliography) has far more
#: A phone page may be at most this much wider than the screen. 1 px absorbs sub-pixel rounding of
#: fractional widths; anything more is a real sideways scroll (wide code or tables must scroll
#: inside their own box, as the theme does for them).
OVERFLOW_PX = 1
#: Share of the screenshot taken by its most common colour above which the page counts as blank.
#: Real pages measured here: at most about 0.9 (white margins around text); an empty or unstyled
#: error page is above 0.99.
BLANK_SHARE = 0.985
IMAGE_FILE = re.compile(r"\.(png|jpe?g|gif|svg|webp)$", re.I)
MIN_EXERCISES = 3
#: Console messages of the theme itself, the same on every Jupyter Book 1.0 site, harmless to a reader:
#: sphinx-thebe's settings script is included twice (the second `const` fails; thebe is not used here),
#: the theme resets an empty stored light/dark mode on a first visit, and no favicon is configured.
KNOWN_CONSOLE = ("Identifier 'THEBE_JS_URL' has already been declared",
                 "Got invalid theme mode", "/favicon.ico - Failed to load resource")

pytestmark = pytest.mark.site


def _pages() -> list[str]:
    """Every page of the table of contents, as paths under _build/html without '.html'."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [entry["file"] for entry in part.get("chapters", [])]
    return [str(Path(f).with_suffix("")) for f in files]


PAGES = _pages()
CHAPTERS = [p for p in PAGES if p.startswith("notebooks/")]

# What the browser is asked about each page (one round trip per page and width).
PROBE_JS = r"""
const main = document.querySelector('main') || document.body;
const outputs = [...document.querySelectorAll(
  'div.cell_output .output.traceback, div.cell_output .output.error, div.cell_output .output.stderr')];
const problems = [...document.querySelectorAll('.system-message, .problematic')];
const abs = (el, attr) => el[attr] || '';
// Is the body of a dropdown (everything but its title and toggle button) hidden from the reader?
const collapsed = el => [...el.children]
  .filter(c => !c.classList.contains('admonition-title') && c.tagName !== 'BUTTON')
  .every(c => c.getClientRects().length === 0 || getComputedStyle(c).visibility === 'hidden'
               || c.getBoundingClientRect().height === 0);
const titled = (el, text) => ((el.querySelector('.admonition-title') || {}).innerText || '').trim().startsWith(text);
return {
  title: document.title,
  text: (document.querySelector('article') || main).innerText.length,
  errors: outputs.map(o => o.className + ': ' + o.innerText.slice(0, 300))
                 .concat(problems.map(p => 'sphinx problem: ' + p.innerText.slice(0, 300))),
  stderr_outputs: outputs.filter(o => o.classList.contains('stderr')).map(o => o.innerText.slice(0, 300)),
  images: [...document.images].map(i => ({src: i.currentSrc || i.src, attr: i.getAttribute('src'),
                                          alt: i.getAttribute('alt'), width: i.naturalWidth,
                                          complete: i.complete})),
  links: [...document.querySelectorAll('a[href]')].map(a => abs(a, 'href'))
    .concat([...document.querySelectorAll('link[href]')].map(l => abs(l, 'href')))
    .concat([...document.querySelectorAll('script[src]')].map(s => abs(s, 'src'))),
  colab: [...document.querySelectorAll('a[href*="colab.research.google.com"]')].map(a => a.href),
  downloads: [...document.querySelectorAll('a.btn-download-source-button')].map(a => a.href),
  stylesheets_missing: [...document.querySelectorAll('link[rel=stylesheet]')].filter(l => !l.sheet).map(l => l.href),
  teaching: {
    objectives: document.querySelectorAll('section#overview ol > li').length,
    prerequisites: !!document.querySelector('section#prerequisites table'),
    time_to_learn: /Time to learn/.test(main.innerText),
    exercises: document.querySelectorAll('div.exercise').length,
    solutions: [...document.querySelectorAll('div.solution')].map(s => ({id: s.id, hidden: collapsed(s)})),
    instructor_notes: [...document.querySelectorAll('div.admonition')].filter(a => titled(a, 'Instructor note'))
      .map(a => ({hidden: collapsed(a), text: a.innerText.length})),
  },
  scroll_width: document.documentElement.scrollWidth,
  view_width: window.innerWidth,
};
"""


@pytest.fixture(scope="module")
def site():
    """The built site over HTTP (links and downloads behave as on GitHub Pages, unlike file://)."""
    if not (HTML / "index.html").exists():
        pytest.skip("_build/html is missing: build the site first with `make html`")
    with serve_folder(HTML) as base:
        yield base


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            pytest.fail(f"{path} is missing: run `tools/chromium.sh` "
                        "(or `apt-get install chromium chromium-driver`)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "SEVERE"})  # console errors, kept per page
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(arg)
    # An explicit driver path: Selenium Manager (which downloads drivers and browsers) never runs.
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _load(driver, url: str, width: str) -> None:
    w, h, mobile = WIDTHS[width]
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": w, "height": h, "deviceScaleFactor": 1, "mobile": mobile})
    driver.get(url)
    driver.execute_async_script(  # wait for fonts and every image, lazy ones included
        "const done = arguments[arguments.length - 1];"
        "document.querySelectorAll('img[loading=lazy]').forEach(i => i.loading = 'eager');"
        "Promise.all([document.fonts.ready, ...[...document.images].map(i => i.decode().catch(() => null))])"
        ".then(() => done(true));")


def _colour_share(png: Path) -> float:
    """Share of the pixels taken by the most common colour of a screenshot."""
    from PIL import Image

    with Image.open(png) as img:
        rgb = img.convert("RGB")
        colours = rgb.getcolors(maxcolors=rgb.width * rgb.height)
    return max(count for count, _ in colours) / (rgb.width * rgb.height)


@pytest.fixture(scope="module")
def report(site, browser):
    """``report(page, width)``: what the browser saw on that page (loaded once, then kept)."""
    seen: dict[tuple[str, str], dict] = {}
    SHOTS.mkdir(parents=True, exist_ok=True)

    def get(page: str, width: str = "desktop") -> dict:
        if (page, width) not in seen:
            _load(browser, site + page + ".html", width)
            data = browser.execute_script(PROBE_JS)
            data["console"] = [entry["message"] for entry in browser.get_log("browser")]
            shot = SHOTS / f"{page.replace('/', '-')}-{width}.png"
            browser.save_screenshot(str(shot))
            data["screenshot"], data["blank_share"] = shot, _colour_share(shot)
            seen[page, width] = data
        return seen[page, width]

    return get


def _local_target(url: str, site: str) -> tuple[Path, str] | None:
    """(file under _build/html, fragment) for a link into the site; None for other sites."""
    if not url.startswith(site):
        return None
    parts = urllib.parse.urlsplit(url)
    path = urllib.parse.unquote(parts.path).lstrip("/")
    target = HTML / path
    if path == "" or path.endswith("/"):
        target = target / "index.html"
    return target, urllib.parse.unquote(parts.fragment)


@functools.lru_cache(maxsize=None)
def _anchors(path: Path) -> frozenset[str]:
    text = path.read_text(errors="replace")
    return frozenset(re.findall(r'\b(?:id|name)="([^"]+)"', text))


def test_site_root_redirects_to_the_introduction(site, browser):
    browser.get(site)
    assert browser.current_url.endswith("book/intro.html"), browser.current_url


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("page", PAGES)
def test_page_renders(report, page, width):
    data = report(page, width)
    assert data["title"], f"{page}: no <title>"
    assert data["text"] >= MIN_TEXT, f"{page} ({width}): only {data['text']} characters of text"
    assert data["blank_share"] < BLANK_SHARE, (
        f"{page} ({width}) looks blank: {data['blank_share']:.1%} of {data['screenshot']} is one colour")
    overflow = data["scroll_width"] - data["view_width"]
    assert overflow <= OVERFLOW_PX, (
        f"{page} ({width}) scrolls sideways by {overflow} px: a wide element escapes its box")


@pytest.mark.parametrize("page", PAGES)
def test_page_has_no_error_output(report, page):
    data = report(page)
    assert not data["errors"], f"{page} shows errors:\n" + "\n".join(data["errors"])
    bad = [s for s in data["stderr_outputs"] if re.search(r"Error|Traceback", s)]
    assert not bad, f"{page} shows error messages on stderr:\n" + "\n".join(bad)


@pytest.mark.parametrize("page", PAGES)
def test_images_load_and_have_alt_text(report, page):
    for img in report(page)["images"]:
        assert img["complete"] and img["width"] > 0, f"{page}: image {img['src']} did not load"
        alt = (img["alt"] or "").strip()
        # myst-nb gives a figure from a cell output its own file name as alt text unless the cell
        # says otherwise (cell metadata  "mystnb": {"image": {"alt": "..."}}  or a figure caption).
        assert alt and not IMAGE_FILE.search(alt) and alt != img["attr"], (
            f"{page}: image {img['attr']} has no real alt text ({alt!r}); in the notebook give the "
            'cell metadata {"mystnb": {"image": {"alt": "what the figure shows"}}}')


@pytest.mark.parametrize("page", PAGES)
def test_page_loads_all_its_own_resources(site, report, page):
    """No stylesheet missing and no error in the console about a file of this site (a 404, a script
    error). Errors about other hosts are left out: the test runs offline, the reader does not."""
    data = report(page)
    assert not data["stylesheets_missing"], f"{page}: stylesheets not loaded: {data['stylesheets_missing']}"
    origin = site.rstrip("/")
    local = [m for m in data["console"] if origin in m and not any(k in m for k in KNOWN_CONSOLE)]
    assert not local, f"{page}: the browser console reports:\n" + "\n".join(local)


def test_internal_links_resolve(site, report):
    broken = []
    for page in PAGES:
        for url in set(report(page)["links"]):
            target = _local_target(url, site)
            if target is None:
                continue
            path, fragment = target
            if not path.is_file():
                broken.append(f"{page}: {url} (no file {path.relative_to(HTML)})")
            elif fragment and path.suffix == ".html" and fragment not in _anchors(path):
                broken.append(f"{page}: {url} (no anchor #{fragment})")
    assert not broken, "broken internal links:\n" + "\n".join(sorted(broken))


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_opens_in_colab(report, page):
    # The address a click opens (the browser resolves "./" segments, as in a.href).
    expected = colab_url(ROOT / f"{page}.ipynb")
    links = report(page)["colab"]
    assert expected in links, f"{page}: no Colab link to {expected} (found {links})"
    assert (ROOT / f"{page}.ipynb").is_file()


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_downloads_as_its_notebook(report, page):
    import nbformat

    downloads = [u for u in report(page)["downloads"] if u.endswith(".ipynb")]
    assert downloads, f"{page}: no .ipynb download button"
    with urllib.request.urlopen(downloads[0], timeout=10) as response:
        got = nbformat.reads(response.read().decode(), as_version=4)
    source = nbformat.read(ROOT / f"{page}.ipynb", as_version=4)
    assert [c.source for c in got.cells] == [c.source for c in source.cells], (
        f"{page}: the downloaded notebook is not the chapter's source: rebuild the site")
    first = next(c for c in got.cells if c.cell_type == "code")
    assert "google.colab" in first.source, f"{page}: the download lacks the Colab setup cell"


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_teaches(report, page):
    """Numbered objectives, prerequisites, time to learn, >= 3 exercises with hidden solutions, and
    an instructor note that is collapsed until an instructor opens it (the issue's teaching list)."""
    teach = report(page)["teaching"]
    missing = [what for what, ok in (
        ("numbered learning objectives under '## Overview'", teach["objectives"] >= 2),
        ("a table under '## Prerequisites'", teach["prerequisites"]),
        ("'**Time to learn**'", teach["time_to_learn"]),
        (f"at least {MIN_EXERCISES} exercises (found {teach['exercises']})", teach["exercises"] >= MIN_EXERCISES),
        (f"a solution for each exercise (found {len(teach['solutions'])})",
         len(teach["solutions"]) >= teach["exercises"]),
        ("an admonition titled 'Instructor note'", teach["instructor_notes"]),
    ) if not ok]
    assert not missing, f"{page} lacks: " + "; ".join(missing)
    shown = [s["id"] for s in teach["solutions"] if not s["hidden"]]
    assert not shown, f"{page}: solutions visible before a click (give them ':class: dropdown'): {shown}"
    assert all(n["hidden"] for n in teach["instructor_notes"]), (
        f"{page}: the instructor note is open; give it ':class: dropdown tip'")


def test_bibliography_renders_entries(report):
    page = next(p for p in PAGES if p.endswith("bibliography"))
    data = report(page)
    assert data["text"] > 1000, "the bibliography page has (almost) no entries"
    html = (HTML / f"{page}.html").read_text()
    entries = re.findall(r'<div class="citation" id="[^"]+"', html)
    assert len(entries) >= 5, f"only {len(entries)} entries on the bibliography page"


def test_introduction_links_the_execution_statistics(site, report):
    intro = PAGES[0]
    targets = {_local_target(u, site)[0] for u in report(intro)["links"] if _local_target(u, site)}
    stats = HTML / "book" / "statistics.html"
    assert stats in targets, f"{intro} does not link to the execution statistics page"
    assert report("book/statistics")["text"] >= MIN_TEXT


def test_screenshots_are_kept(report):
    for page in CHAPTERS:
        for width in WIDTHS:
            shot = report(page, width)["screenshot"]
            assert shot.is_file() and shot.stat().st_size > 5000, f"no useful screenshot {shot}"
