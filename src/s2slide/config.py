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
``S2SLIDE_EARTH_SEARCH_URL``, ``S2SLIDE_PLANETARY_COMPUTER_URL``, ``S2SLIDE_PC_TOKEN_URL``, ``CDSE_ODATA_URL``, ``CDSE_TOKEN_URL``, ``CDSE_DOWNLOAD_URL``
    one address per live catalogue service (:data:`ENDPOINTS`), e.g. a lab's local mirror of a
    catalogue or a test server; unset, the public address is used.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from s2slide.errors import SettingError


@dataclass(frozen=True)
class Endpoint:
    """A live service: its public address and the environment variable that replaces it.

    Attributes
    ----------
    name : str
        Human name, the key of :data:`ENDPOINTS`.
    default : str
        The public address.
    variable : str or None
        Environment variable holding another address (a lab's mirror of a catalogue, a test
        server); None for a service only probed by chapter 0, whose address is fixed.
    """

    name: str
    default: str
    variable: str | None = None


#: Every live service the course talks to, in the order chapter 0 lists them (book/setup.md).
ENDPOINT_SETTINGS: tuple[Endpoint, ...] = (
    Endpoint("Earth Search STAC", "https://earth-search.aws.element84.com/v1",
             "S2SLIDE_EARTH_SEARCH_URL"),
    Endpoint("Planetary Computer STAC", "https://planetarycomputer.microsoft.com/api/stac/v1",
             "S2SLIDE_PLANETARY_COMPUTER_URL"),
    Endpoint("Planetary Computer token service",
             "https://planetarycomputer.microsoft.com/api/sas/v1/token", "S2SLIDE_PC_TOKEN_URL"),
    Endpoint("Copernicus Data Space", "https://catalogue.dataspace.copernicus.eu/odata/v1/Products",
             "CDSE_ODATA_URL"),
    Endpoint("Copernicus Data Space login",
             "https://identity.dataspace.copernicus.eu/auth/realms/CDSE/protocol/openid-connect/token",
             "CDSE_TOKEN_URL"),
    Endpoint("Copernicus Data Space download",
             "https://download.dataspace.copernicus.eu/odata/v1/Products", "CDSE_DOWNLOAD_URL"),
    Endpoint("Earth Engine", "https://earthengine.googleapis.com"),
    Endpoint("Zenodo (Landslide4Sense)", "https://zenodo.org"),
    Endpoint("GitHub (sample files)", "https://raw.githubusercontent.com"),
)
_BY_NAME = {e.name: e for e in ENDPOINT_SETTINGS}


def endpoint(name: str) -> str:
    """The address of a live service now: its environment variable if set, else the default.

    Read at every call, so that setting e.g. ``S2SLIDE_EARTH_SEARCH_URL`` in a running notebook
    redirects the next ``load_scene(..., source="live")``.

    Raises
    ------
    InvalidInputError
        Unknown name, or a variable that does not hold an ``http(s)://`` address.
    """
    from s2slide.errors import InvalidInputError

    try:
        ep = _BY_NAME[name]
    except KeyError:
        raise InvalidInputError(f"unknown endpoint {name!r}; known: {', '.join(_BY_NAME)}") from None
    value = os.environ.get(ep.variable, "").strip() if ep.variable else ""
    if not value:
        return ep.default
    if not value.lower().startswith(("http://", "https://")):
        raise InvalidInputError(f"{ep.variable}={value!r} is not an http(s):// address; set it to "
                                f"e.g. {ep.default!r}, or unset it to use the public service")
    return value


class _Endpoints(Mapping[str, str]):
    """Endpoint name -> the address in use now (see :func:`endpoint`)."""

    def __getitem__(self, name: str) -> str:
        if name not in _BY_NAME:
            raise KeyError(name)
        return endpoint(name)

    def __iter__(self) -> Iterator[str]:
        return iter(_BY_NAME)

    def __len__(self) -> int:
        return len(_BY_NAME)

    def __repr__(self) -> str:
        return repr(dict(self))


#: The live endpoints the course can use (book/setup.md), read from the environment at each access.
ENDPOINTS: Mapping[str, str] = _Endpoints()


def endpoint_table() -> list[dict[str, str]]:
    """One row per live service: name, environment variable, address in use, and whether it is
    the public default or was set (chapter 0 prints it)."""
    return [{"service": e.name, "variable": e.variable or "(fixed)", "address": endpoint(e.name),
             "set by": ("environment" if e.variable and os.environ.get(e.variable, "").strip()
                        else "default")} for e in ENDPOINT_SETTINGS]


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
