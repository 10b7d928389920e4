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

from s2slide.errors import SettingError

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
_FALSE = {"", "0", "false", "no", "off"}


def _flag(name: str, *, strict: bool = True) -> bool:
    """An on/off variable; with ``strict``, a value that is neither raises :class:`SettingError`."""
    value = os.environ.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE or not strict:
        return False
    raise SettingError(f"{name}={os.environ[name]!r} is neither on nor off: set it to 1 "
                       "(never try live sources) or 0 (try them), or unset it.")


def offline() -> bool:
    """Return True when live sources must not be tried (``S2SLIDE_OFFLINE`` or ``CI`` set).

    ``S2SLIDE_OFFLINE`` must be on (``1``, ``true``, ``yes``, ``on``) or off (``0``, ``false``,
    ``no``, ``off``, empty); anything else raises :class:`~s2slide.errors.SettingError`.
    """
    return _flag("S2SLIDE_OFFLINE") or _flag("CI", strict=False)


def book_root(start: Path | None = None) -> Path | None:
    """Return the course checkout (the folder holding ``_config.yml`` and ``src/s2slide``), if any."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_config.yml").is_file() and (folder / "src" / "s2slide").is_dir():
            return folder
    return None


def _folder(path: Path, variable: str) -> Path:
    """Create ``path`` if needed; :class:`SettingError` naming ``variable`` if it cannot be a folder."""
    where = f"{variable}={os.environ[variable]!r}" if os.environ.get(variable) else f"{path}"
    if path.exists() and not path.is_dir():
        raise SettingError(f"{where} is not a folder (a file or a device): set {variable} to a "
                           "folder (it is created if missing), or unset it to use the default.")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SettingError(f"{where}: the folder cannot be created ({err.strerror}): set "
                           f"{variable} to a folder you can write to.") from err
    return path


def cache_dir() -> Path:
    """Return (and create) the cache folder for downloads and live scenes.

    Raises :class:`~s2slide.errors.SettingError` when ``S2SLIDE_CACHE`` names a file or a folder
    that cannot be created. A cache folder that exists but is read-only (a class cache prepared
    by an instructor) is fine: what it holds is read, and new scenes are not cached.
    """
    env = os.environ.get("S2SLIDE_CACHE")
    if env:
        path = Path(env).expanduser()
    else:
        import pooch

        path = Path(pooch.os_cache("s2slide"))
    return _folder(path, "S2SLIDE_CACHE")


def mirror_dir() -> Path | None:
    """Return the local mirror of the sample files named by ``S2SLIDE_MIRROR``; None if unset.

    Raises :class:`~s2slide.errors.SettingError` when it is set to something that is not a
    folder (a typo, a file): a mirror silently ignored would send every read to the network.
    """
    env = os.environ.get("S2SLIDE_MIRROR")
    if not env:
        return None
    path = Path(env).expanduser()
    if not path.is_dir():
        what = "a file" if path.exists() else "no such folder"
        raise SettingError(f"S2SLIDE_MIRROR={env!r} is {what}: set it to the folder holding "
                           "the course's sample files (e.g. ../shared/data), or unset it.")
    return path


def results_dir() -> Path:
    """Return (and create) the folder where chapters write ``NN_slug.json`` results files.

    Raises :class:`~s2slide.errors.SettingError` when ``S2SLIDE_RESULTS`` names a file or a
    folder that cannot be created.
    """
    env = os.environ.get("S2SLIDE_RESULTS")
    if env:
        path = Path(env).expanduser()
    else:
        root = book_root()
        path = root / "_build" / "results" if root else Path.cwd() / "s2slide_results"
    return _folder(path, "S2SLIDE_RESULTS")


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
