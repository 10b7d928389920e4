"""Where data, caches and results live, and whether the network may be used.

Everything is driven by environment variables so that a notebook never needs editing:

``S2SLIDE_OFFLINE``
    ``1`` / ``true``: never try a live source (``make book`` and CI set it). Also implied by ``CI``.
``S2SLIDE_MIRROR``
    a folder holding a copy of the course's real sample files (tests point it at ``../shared/data``).
``S2SLIDE_CACHE``
    where downloads and live scenes are cached (default: the user cache folder, e.g.
    ``~/.cache/s2slide``).
``S2SLIDE_RESULTS``
    where chapters write their results files (default ``_build/results`` of the book checkout,
    else ``./s2slide_results``).
``S2SLIDE_MODE``
    ``fast`` or ``full``: the default training mode of the deep-learning chapters.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The live endpoints the course can use (see book/data.md).
ENDPOINTS: dict[str, str] = {
    "Earth Search STAC": "https://earth-search.aws.element84.com/v1",
    "Planetary Computer STAC": "https://planetarycomputer.microsoft.com/api/stac/v1",
    "Copernicus Data Space": "https://catalogue.dataspace.copernicus.eu/odata/v1/Products",
    "Earth Engine": "https://earthengine.googleapis.com",
    "Zenodo (Landslide4Sense)": "https://zenodo.org",
    "GitHub (sample files)": "https://raw.githubusercontent.com",
}

_TRUE = {"1", "true", "yes", "on"}


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def offline() -> bool:
    """Return True when live sources must not be tried (``S2SLIDE_OFFLINE`` or ``CI`` set)."""
    return _flag("S2SLIDE_OFFLINE") or _flag("CI")


def book_root(start: Path | None = None) -> Path | None:
    """Return the course checkout (the folder holding ``_config.yml`` and ``src/s2slide``), if any."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_config.yml").is_file() and (folder / "src" / "s2slide").is_dir():
            return folder
    return None


def cache_dir() -> Path:
    """Return (and create) the cache folder for downloads and live scenes."""
    env = os.environ.get("S2SLIDE_CACHE")
    if env:
        path = Path(env).expanduser()
    else:
        import pooch

        path = Path(pooch.os_cache("s2slide"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def mirror_dir() -> Path | None:
    """Return the local mirror of the sample files named by ``S2SLIDE_MIRROR``, if it exists."""
    env = os.environ.get("S2SLIDE_MIRROR")
    if not env:
        return None
    path = Path(env).expanduser()
    return path if path.is_dir() else None


def results_dir() -> Path:
    """Return (and create) the folder where chapters write ``NN_slug.json`` results files."""
    env = os.environ.get("S2SLIDE_RESULTS")
    if env:
        path = Path(env).expanduser()
    else:
        root = book_root()
        path = root / "_build" / "results" if root else Path.cwd() / "s2slide_results"
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_mode() -> str:
    """Return ``"fast"`` or ``"full"``: ``S2SLIDE_MODE`` if set, else ``"fast"``.

    Full mode (the seed papers' settings) is meant for a GPU, e.g. on Colab; set
    ``S2SLIDE_MODE=full`` or change ``MODE`` in a chapter's parameters cell.
    """
    mode = os.environ.get("S2SLIDE_MODE", "fast").strip().lower()
    if mode not in {"fast", "full"}:
        from s2slide.errors import InvalidInputError

        raise InvalidInputError(f"S2SLIDE_MODE={mode!r}: use 'fast' or 'full'.")
    return mode
