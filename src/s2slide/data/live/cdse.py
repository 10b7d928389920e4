"""Live scenes from the Copernicus Data Space Ecosystem (CDSE): the route of seed 000.

Steps, each a small function you can call on its own:

1. :class:`Credentials` from ``CDSE_USERNAME`` / ``CDSE_PASSWORD`` or getpass prompts (never
   printed, logged or stored; their repr hides them) and a :class:`CDSESession` holding the
   access token (refreshed once on HTTP 401).
2. :meth:`CDSESession.search`: the OData catalogue, filtered on the collection, the scene's
   polygon (``OData.CSC.Intersects``), ``ContentDate/Start`` and product type ``S2MSI2A``.
3. :meth:`CDSESession.download`: the zipped SAFE product, streamed with a progress bar into a
   ``.part`` file that a retry resumes (HTTP ``Range``); renamed into place (``os.replace``)
   only after its size and MD5 checksum are verified.
4. :func:`extract_bands`: only the needed band files (``IMG_DATA/R20m/*_B02_20m.jp2``, SCL,
   the product metadata) are taken out of the zip.
5. :func:`read_to_grid`: each band file cropped (and reprojected if needed) onto the scene grid
   with rasterio, so a ~1 GB product becomes a few hundred kB per band.

Endpoints are the ``Copernicus Data Space*`` entries of :data:`s2slide.config.ENDPOINTS`,
replaced by arguments or by the environment variables ``CDSE_TOKEN_URL``, ``CDSE_ODATA_URL`` and
``CDSE_DOWNLOAD_URL``. The DEM is the Copernicus DEM GLO-30 from Earth Search (no account), see
:func:`s2slide.data.live.stac.load_dem`.

Network behaviour: every request has an overall deadline (``timeout`` s, :mod:`s2slide.data.net`);
a download may take ``timeout + size / 100 kB/s`` and is cut (and resumable) when it averages
under 1 kB/s over ``timeout`` s. The download service may redirect to another host: the token is
sent again only to Copernicus hosts (:data:`COPERNICUS_DOMAINS`, https), never elsewhere.
The bytes received are compared with the catalogue's ``ContentLength`` and their MD5 with its
``Checksum``; where the catalogue gives none, the provenance and a warning say it was not checked.
Messages built from the login service's replies are scrubbed of the credentials sent.

Example
-------
>>> from s2slide.data.live import cdse
>>> session = cdse.CDSESession()   # asks for the password on first use  # doctest: +SKIP
>>> area = cdse.scene_polygon("luding")                                 # doctest: +SKIP
>>> hits = session.search(area, "2021-11-04", "2021-11-06")             # doctest: +SKIP
>>> ds = cdse.load_cdse("luding", session=session)                     # doctest: +SKIP
"""

from __future__ import annotations

import getpass
import hashlib
import os
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Collection, Sequence

import numpy as np

from s2slide import config
from s2slide.data import bands as s2bands
from s2slide.data import harmonize, net
from s2slide.errors import (AuthenticationError, ChecksumError, DownloadError,
                            NetworkUnavailableError)
from s2slide.data.live import _grid
from s2slide.data.live._grid import Acquisition
from s2slide.data.scenes import SceneSpec

_ENDPOINT = {"token": "Copernicus Data Space login", "odata": "Copernicus Data Space",
             "download": "Copernicus Data Space download"}
_DEFAULTS = {e.name: e.default for e in config.ENDPOINT_SETTINGS}
TOKEN_URL = _DEFAULTS[_ENDPOINT["token"]]
ODATA_URL = _DEFAULTS[_ENDPOINT["odata"]]
DOWNLOAD_URL = _DEFAULTS[_ENDPOINT["download"]]
#: Domains whose hosts may receive the access token again after a redirect (https only).
COPERNICUS_DOMAINS: tuple[str, ...] = ("dataspace.copernicus.eu", "copernicus.eu")
CLIENT_ID = "cdse-public"
REGISTER = "https://dataspace.copernicus.eu (Login > Register)"
#: ESA's band_id order in MTD_MSIL2A.xml (BOA_ADD_OFFSET band_id="0" is B01).
MTD_BAND_IDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10",
                "B11", "B12")
_BAND_FILE = re.compile(r"IMG_DATA/R(\d{2})m/[^/]*_(B\d[\dA]|SCL)_\d{2}m\.(jp2|tif)$")


def endpoint(kind: str, override: str | None = None) -> str:
    """The ``"token"``, ``"odata"`` or ``"download"`` address: argument, else ``CDSE_<KIND>_URL``,
    else the public one (:func:`s2slide.config.endpoint`)."""
    return override or config.endpoint(_ENDPOINT[kind])


def copernicus_host(url: str) -> bool:
    """Whether ``url`` is an https address on a Copernicus host (:data:`COPERNICUS_DOMAINS`),
    the only places the access token is sent again after a redirect."""
    from urllib.parse import urlparse

    parsed = urlparse(url)
    host = (parsed.hostname or "").lower()
    on_domain = any(host == d or host.endswith("." + d) for d in COPERNICUS_DOMAINS)
    local = host in ("localhost", "127.0.0.1", "::1")
    return on_domain and (parsed.scheme == "https" or local)


def _prompt(text: str) -> str:
    """getpass, with a clear error where no one can answer (a batch run: nbval, CI, a script)."""
    try:
        return getpass.getpass(text)
    except (EOFError, OSError):
        raise AuthenticationError(
            "no Copernicus Data Space credentials and no terminal to ask for them (a batch run "
            "such as nbval, CI or a script): set CDSE_USERNAME and CDSE_PASSWORD before running, "
            f"or use the 'stac' route, which needs no account; a free account is made at {REGISTER}"
        ) from None


@dataclass(frozen=True)
class Credentials:
    """A CDSE username and password; the repr never shows them."""

    username: str = field(repr=False)
    password: str = field(repr=False)

    def __repr__(self) -> str:
        return "Credentials(username=<hidden>, password=<hidden>)"

    __str__ = __repr__

    @classmethod
    def from_env_or_prompt(cls) -> "Credentials":
        """``CDSE_USERNAME`` / ``CDSE_PASSWORD`` if set, else getpass prompts (nothing echoed).

        Raises
        ------
        AuthenticationError
            Nothing was entered.
        """
        user = os.environ.get("CDSE_USERNAME") or _prompt("CDSE username (e-mail): ")
        password = os.environ.get("CDSE_PASSWORD") or _prompt("CDSE password: ")
        if not user.strip() or not password:
            raise AuthenticationError(
                "no Copernicus Data Space credentials: set CDSE_USERNAME and CDSE_PASSWORD or "
                f"type them at the prompts; a free account is made at {REGISTER}")
        return cls(user.strip(), password)


def _post_token(url: str, form: dict[str, str], timeout: float) -> dict[str, Any]:
    """POST the token form; every message built from the reply is scrubbed of the form's secrets."""
    import requests

    secrets = [v for k, v in form.items() if k in ("username", "password", "refresh_token")]
    with net.deadline(timeout) as budget:
        try:
            resp = net.Session(timeout=timeout).post(url, data=form)
        except requests.RequestException as err:
            raise net.unavailable("the Copernicus Data Space login", err, url=url,
                                  budget=budget) from None
    if resp.status_code in (400, 401):
        try:
            reply = resp.json()
            detail = reply.get("error_description") or reply.get("error") or resp.reason
        except (ValueError, AttributeError):
            detail = resp.reason
        raise AuthenticationError(net.scrub(
            f"Copernicus Data Space refused the login (HTTP {resp.status_code}: {detail}); check "
            "CDSE_USERNAME / CDSE_PASSWORD (or what you typed at the prompt) and that the "
            f"account is activated at {REGISTER}", secrets))
    try:
        net.check_status(resp, what="the Copernicus Data Space login", setting="CDSE_TOKEN_URL")
        tokens = net.parse_json(resp, what="the Copernicus Data Space login", url=url)
    except NetworkUnavailableError as err:
        raise NetworkUnavailableError(net.scrub(str(err), secrets)) from None
    if not isinstance(tokens, dict) or not tokens.get("access_token"):
        keys = ", ".join(sorted(tokens)) if isinstance(tokens, dict) else type(tokens).__name__
        raise NetworkUnavailableError(net.scrub(
            f"the Copernicus Data Space login at {url} answered without an access_token (it "
            f"sent: {keys}); the service may be having trouble or CDSE_TOKEN_URL points at "
            "something else: try again later, or unset CDSE_TOKEN_URL", secrets))
    return tokens


class CDSESession:
    """A logged-in CDSE session: access token, refresh on expiry, search, download.

    Parameters
    ----------
    credentials : Credentials, optional
        Default: :meth:`Credentials.from_env_or_prompt` (asked on first login only).
    token_url, odata_url, download_url : str, optional
        Endpoints (default: module constants or ``CDSE_*_URL`` environment variables).
    timeout : float
        Overall seconds per request (connect + answer); a download may take
        ``timeout + size / 100 kB/s`` and is cut when it averages under 1 kB/s over ``timeout``.

    Attributes
    ----------
    checks : dict
        Product name -> what was verified of its download (size, MD5, or "not checked").
    """

    def __init__(self, credentials: Credentials | None = None, *, token_url: str | None = None,
                 odata_url: str | None = None, download_url: str | None = None,
                 timeout: float = 60.0) -> None:
        self._credentials = credentials
        self.token_url = endpoint("token", token_url)
        self.odata_url = endpoint("odata", odata_url)
        self.download_url = endpoint("download", download_url)
        self.timeout = float(timeout)
        self._access: str | None = None
        self._refresh: str | None = None
        self.checks: dict[str, str] = {}

    def __repr__(self) -> str:
        state = "logged in" if self._access else "not logged in"
        return f"CDSESession({self.odata_url!r}, {state})"

    def login(self) -> None:
        """Get an access token with the password grant (client ``cdse-public``)."""
        if self._credentials is None:
            self._credentials = Credentials.from_env_or_prompt()
        tokens = _post_token(self.token_url, {
            "client_id": CLIENT_ID, "grant_type": "password",
            "username": self._credentials.username, "password": self._credentials.password},
            self.timeout)
        self._access, self._refresh = tokens["access_token"], tokens.get("refresh_token")

    def refresh(self) -> None:
        """Renew the access token with the refresh token, else log in again."""
        if self._refresh:
            try:
                tokens = _post_token(self.token_url, {
                    "client_id": CLIENT_ID, "grant_type": "refresh_token",
                    "refresh_token": self._refresh}, self.timeout)
                self._access = tokens["access_token"]
                self._refresh = tokens.get("refresh_token", self._refresh)
                return
            except AuthenticationError:
                pass
        self.login()

    def _auth_headers(self) -> dict[str, str]:
        if self._access is None:
            self.login()
        return {"Authorization": f"Bearer {self._access}"}

    def search(self, polygon: str, start: str | date, end: str | date, *,
               top: int = 100) -> list[dict[str, Any]]:
        """Sentinel-2 L2A products intersecting ``polygon`` acquired between two dates.

        Parameters
        ----------
        polygon : str
            WKT ``POLYGON((lon lat, ...))`` in WGS 84 (see :func:`scene_polygon`).
        start, end : str or date
            ISO dates; products whose ``ContentDate/Start`` lies in [start, end + 1 day).

        Returns
        -------
        list of dict
            OData product records (``Id``, ``Name``, ``ContentLength``, ``ContentDate``,
            ``Checksum``, ``Attributes``...), oldest first.
        """
        params = {"$filter": odata_filter(polygon, start, end), "$top": str(top),
                  "$orderby": "ContentDate/Start asc", "$expand": "Attributes"}
        reply = net.get_json(self.odata_url, params=params, timeout=self.timeout,
                             what="the Copernicus Data Space catalogue", setting="CDSE_ODATA_URL")
        value = reply.get("value") if isinstance(reply, dict) else None
        if not isinstance(value, list) or not all(isinstance(p, dict) and "Id" in p and "Name" in p
                                                  for p in value):
            raise net.unavailable("the Copernicus Data Space catalogue", "its answer is not an "
                                  "OData product list (no 'value' list of products with Id and "
                                  "Name)", url=self.odata_url, hint="check CDSE_ODATA_URL, or try "
                                  "again later")
        return value

    def download(self, product: dict[str, Any], folder: str | Path | None = None, *,
                 attempts: int = 3, progress: bool = True) -> Path:
        """Download a product's zip; resume a ``.part`` file; verify size and MD5; rename.

        Parameters
        ----------
        product : dict
            An OData record from :meth:`search`.
        folder : path, optional
            Where the zip goes (default ``<S2SLIDE_CACHE>/cdse``).
        attempts : int
            Tries after a dropped connection (each resuming the previous one).
        progress : bool
            Show a tqdm progress bar.

        Returns
        -------
        Path
            The verified ``<Name>.zip``; no final file exists unless verified. What was
            verified is in :attr:`checks` (and a warning says when the catalogue gave no MD5).

        Raises
        ------
        DownloadError
            The connection was dropped on every attempt (the ``.part`` file is kept to resume).
        NetworkUnavailableError
            No answer, or slower than 1 kB/s over ``timeout`` s, or past the deadline (the
            ``.part`` is kept to resume).
        ChecksumError
            Size or MD5 differ from the catalogue (nothing partial is kept).
        AuthenticationError
            The token was refused again after one refresh.
        """
        folder = Path(folder) if folder else config.cache_dir() / "cdse"
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / (str(product["Name"]).removesuffix(".SAFE") + ".zip")
        size, md5 = _size_of(product), _md5_of(product)
        if final.exists() and (size is None or final.stat().st_size == size):
            self.checks.setdefault(final.name, "downloaded and verified earlier")
            return final
        part = final.with_name(final.name + ".part")
        url = f"{self.download_url}({product['Id']})/$value"
        last: Exception | None = None
        for _ in range(max(1, attempts)):
            try:
                self._stream(url, part, size, progress=progress, desc=final.name)
                break
            except _Cut as err:
                last = err
        else:
            raise DownloadError(f"download of {final.name} was cut ({last}); the part kept at "
                                f"{part} is resumed by calling download again") from None
        self.checks[final.name] = _verify(part, size=size, md5=md5)
        os.replace(part, final)
        return final

    def _http(self) -> Any:
        if getattr(self, "_session", None) is None:
            self._session = net.Session(timeout=self.timeout, keep_auth=copernicus_host)
        return self._session

    def _get(self, url: str, headers: dict[str, str], budget: Any) -> Any:
        import requests

        try:
            resp = self._http().get(url, headers={**headers, **self._auth_headers()}, stream=True)
            if resp.status_code == 401:  # expired token: refresh once
                resp.close()
                self.refresh()
                resp = self._http().get(url, headers={**headers, **self._auth_headers()},
                                        stream=True)
        except requests.RequestException as err:
            raise net.unavailable("the Copernicus Data Space download service", err, url=url,
                                  budget=budget, hint=_RESUME_HINT) from None
        if resp.status_code == 401:
            resp.close()
            raise AuthenticationError(
                "Copernicus Data Space refused the download token even after a refresh; log "
                "in again (check CDSE_USERNAME / CDSE_PASSWORD) and make sure the account "
                f"may download products ({REGISTER})")
        return resp

    def _stream(self, url: str, part: Path, size: int | None, *, progress: bool,
                desc: str) -> None:
        """One attempt: resume ``part`` from its length; raise _Cut if the connection drops."""
        have = part.stat().st_size if part.exists() else 0
        if size is not None and have >= size:
            return
        total_s = self.timeout + max(0, (size or 0) - have) / net.MIN_RATE
        with net.deadline(total_s, min_rate=net.LOW_RATE, window=self.timeout) as budget:
            resp = self._get(url, {"Range": f"bytes={have}-"} if have else {}, budget)
            with resp:
                if resp.status_code == 416:
                    _range_not_satisfiable(resp, part, have, size, desc)
                    return
                if resp.status_code not in (200, 206):
                    net.check_status(resp, what=f"the download of {desc}", error=DownloadError,
                                     setting="CDSE_DOWNLOAD_URL")
                    raise DownloadError(f"HTTP {resp.status_code} downloading {desc}: "
                                        f"{resp.reason}; try again later")
                if resp.status_code == 200:  # the server ignored Range: start again
                    have = 0
                announced = _announced_total(resp, have)
                if size is not None and announced is not None and announced != size:
                    part.unlink(missing_ok=True)
                    raise ChecksumError(
                        f"the download service announces {announced} bytes for {desc}, but the "
                        f"catalogue's ContentLength is {size}: the file is not the one the "
                        "catalogue describes; nothing was kept. Search again (the product may "
                        "have been reprocessed) or try later")
                self._write(resp, part, have, budget, announced or size, progress, desc)
        got = part.stat().st_size
        if (announced or size) and got < (announced or size):
            raise _Cut(f"after {got} of {announced or size} bytes")

    def _write(self, resp: Any, part: Path, have: int, budget: Any, total: int | None,
               progress: bool, desc: str) -> None:
        import requests
        import urllib3
        from tqdm.auto import tqdm

        with open(part, "ab" if have else "wb") as out, tqdm(
                total=total, initial=have, unit="B", unit_scale=True, desc=desc,
                disable=not progress) as bar:
            try:  # read1: what arrived before a cut is written, so that a retry resumes from it
                while chunk := resp.raw.read1(1 << 16):
                    out.write(chunk)
                    bar.update(len(chunk))
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as err:
                out.flush()
                if budget.passed():
                    raise net.unavailable(f"the download of {desc}", err, budget=budget,
                                          url=resp.url, hint=_RESUME_HINT) from None
                raise _Cut(f"after {part.stat().st_size} bytes: the connection was "
                           "dropped") from None


_RESUME_HINT = ("what arrived is kept (a .part file) and the next call of the same load resumes "
                "it; check the network or try later, or use the 'stac' route (no download)")


class _Cut(Exception):
    """A transfer that stopped early (retried, then reported as DownloadError)."""


def _size_of(product: dict[str, Any]) -> int | None:
    value = product.get("ContentLength")
    return int(value) if isinstance(value, (int, float)) and value > 0 else None


def _announced_total(resp: Any, have: int) -> int | None:
    """The full size the server announces: Content-Range's total, else have + Content-Length."""
    match = re.match(r"bytes \d+-\d+/(\d+)", resp.headers.get("Content-Range", ""))
    if match:
        return int(match.group(1))
    length = resp.headers.get("Content-Length")
    return have + int(length) if length and length.isdigit() else None


def _range_not_satisfiable(resp: Any, part: Path, have: int, size: int | None,
                           desc: str) -> None:
    """HTTP 416 on a resume: complete if the server's size is what we have, else a mismatch."""
    match = re.match(r"bytes \*/(\d+)", resp.headers.get("Content-Range", ""))
    server = int(match.group(1)) if match else None
    if server is not None and server == have and (size is None or size == have):
        return
    part.unlink(missing_ok=True)
    raise ChecksumError(
        f"the download of {desc} does not match the catalogue: the server holds "
        f"{server if server is not None else 'an unknown number of'} bytes, the catalogue's "
        f"ContentLength says {size}, {have} had arrived; nothing was kept. Search again (the "
        "product may have been reprocessed) or try later")


def _md5_of(product: dict[str, Any]) -> str | None:
    for entry in product.get("Checksum") or []:
        if str(entry.get("Algorithm", "")).upper() == "MD5" and entry.get("Value"):
            return str(entry["Value"]).lower()
    return None


def _verify(part: Path, *, size: int | None, md5: str | None) -> str:
    """Check size and MD5 of a finished download (delete it if wrong); say what was checked."""
    got = part.stat().st_size
    name = part.name.removesuffix(".part")
    problem = None
    if size is not None and got != size:
        problem = f"has {got} bytes, the catalogue's ContentLength says {size}"
    elif md5:
        with open(part, "rb") as f:
            found = hashlib.file_digest(f, "md5").hexdigest()
        if found != md5:
            problem = f"has MD5 {found}, the catalogue's Checksum says {md5}"
    if problem:
        part.unlink()
        raise ChecksumError(f"the download {name} {problem}; it was deleted: download it again "
                            "(if this repeats, the catalogue record is out of date)")
    said = [f"size {got} bytes matches ContentLength" if size is not None else
            "size not checked: the catalogue gives no ContentLength"]
    said.append("MD5 matches Checksum" if md5 else "MD5 not checked: the catalogue gives no "
                                                   "MD5 Checksum")
    if size is None or not md5:
        warnings.warn(f"{name}: {'; '.join(s for s in said if 'not checked' in s)}", stacklevel=4)
    return "; ".join(said)


def scene_polygon(name: str | SceneSpec) -> str:
    """WKT polygon (WGS 84, lon lat) of a scene's bounding box, for OData searches."""
    w, s, e, n = _grid.resolve_scene(name).bbox_lonlat()
    return f"POLYGON(({w} {s},{e} {s},{e} {n},{w} {n},{w} {s}))"


def odata_filter(polygon: str, start: str | date, end: str | date) -> str:
    """The OData ``$filter`` of Sentinel-2 L2A products over ``polygon`` between two dates."""
    t0 = f"{str(start)[:10]}T00:00:00.000Z"
    t1 = f"{(date.fromisoformat(str(end)[:10]) + timedelta(days=1)).isoformat()}T00:00:00.000Z"
    return ("Collection/Name eq 'SENTINEL-2' and "
            f"OData.CSC.Intersects(area=geography'SRID=4326;{polygon}') and "
            f"ContentDate/Start ge {t0} and ContentDate/Start lt {t1} and "
            "Attributes/OData.CSC.StringAttribute/any(att:att/Name eq 'productType' and "
            "att/OData.CSC.StringAttribute/Value eq 'S2MSI2A')")


def _attribute(product: dict[str, Any], name: str) -> Any:
    for att in product.get("Attributes") or []:
        if att.get("Name") == name:
            return att.get("Value")
    return None


def product_baseline(product: dict[str, Any]) -> str | None:
    """Processing baseline ``"04.00"`` from the product name's ``_N0400_`` field."""
    m = re.search(r"_N(\d{2})(\d{2})_", str(product.get("Name", "")))
    return f"{m.group(1)}.{m.group(2)}" if m else None


def product_tile(product: dict[str, Any]) -> str:
    m = re.search(r"_(T\d{2}[A-Z]{3})_", str(product.get("Name", "")))
    return m.group(1) if m else str(product.get("Id"))


def product_time(product: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(product["ContentDate"]["Start"]).replace("Z", "+00:00"))


# ----------------------------------------------------------------------------- product files
def band_members(names: Sequence[str], bands: Sequence[str], *,
                 resolution_m: float) -> dict[str, str]:
    """Zip members holding each band (and SCL), at the resolution closest to the grid's.

    A 20 m grid reads ``R20m/*_B02_20m.jp2``; B08 exists only in R10m, so it comes from there.

    Raises
    ------
    MissingBandError
        A band has no file in the product.
    """
    from s2slide.errors import MissingBandError

    found: dict[str, list[tuple[int, str]]] = {}
    for member in names:
        m = _BAND_FILE.search(member)
        if m:
            found.setdefault(m.group(2), []).append((int(m.group(1)), member))
    out = {}
    for band in [*bands, "SCL"]:
        if band not in found:
            raise MissingBandError(f"the product has no {band} file under IMG_DATA; it holds "
                                   f"{', '.join(sorted(found)) or 'no band files'}")
        out[band] = min(found[band], key=lambda rm: (abs(rm[0] - resolution_m), rm[0]))[1]
    return out


def extract_bands(zip_path: str | Path, bands: Sequence[str], *, resolution_m: float,
                  folder: str | Path | None = None) -> tuple[dict[str, Path], Path | None]:
    """Extract only the needed band files (and SCL, MTD_MSIL2A.xml) from a SAFE zip.

    Returns
    -------
    (dict, Path or None)
        Band name -> extracted file, and the product metadata file if the zip has one.
    """
    zip_path = Path(zip_path)
    folder = Path(folder) if folder else zip_path.with_suffix("")
    try:
        with zipfile.ZipFile(zip_path) as zf:
            names = zf.namelist()
            members = band_members(names, bands, resolution_m=resolution_m)
            mtd = [n for n in names if n.endswith("MTD_MSIL2A.xml")]
            wanted = list(members.values()) + mtd[:1]
            for member in wanted:
                if not (folder / member).exists():
                    zf.extract(member, folder)
    except zipfile.BadZipFile as err:
        zip_path.unlink(missing_ok=True)
        raise DownloadError(f"{zip_path.name} is not a valid zip ({err}); it was deleted, "
                            "download it again") from None
    paths = {band: folder / member for band, member in members.items()}
    return paths, (folder / mtd[0]) if mtd else None


def read_offsets(mtd: Path | None, baseline: str | None, day: date, *,
                 product: dict[str, Any] | None = None) -> tuple[dict[str, int], str]:
    """Per-band BOA_ADD_OFFSET from MTD_MSIL2A.xml, else from the baseline (product name or
    metadata), else the processing date, and the acquisition date only as a last resort."""
    if mtd is not None:
        text = Path(mtd).read_text(errors="replace")
        found = re.findall(r'<BOA_ADD_OFFSET band_id="(\d+)">\s*(-?\d+)\s*<', text)
        if found:
            return ({MTD_BAND_IDS[int(i)]: int(v) for i, v in found},
                    "BOA_ADD_OFFSET per band from MTD_MSIL2A.xml")
        if "<PROCESSING_BASELINE>" in text and baseline is None:
            baseline = text.split("<PROCESSING_BASELINE>")[1].split("<")[0].strip()
    product = product or {}
    offset, why = harmonize.offset_decision(
        baseline=baseline, product=str(product.get("Name") or "") or None,
        processed=_attribute(product, "processingDate"), acquired=day)
    return {b: offset for b in MTD_BAND_IDS}, why


def read_to_grid(path: str | Path, spec: SceneSpec, *, resampling: str = "nearest") -> np.ndarray:
    """Read one band file onto the scene grid (window only; reprojected if the CRS differs).

    Returns
    -------
    ndarray
        Dims (y, x), the file's dtype; 0 outside the file (Sentinel-2 nodata).
    """
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.vrt import WarpedVRT

    with rasterio.open(path) as src, WarpedVRT(
            src, crs=f"EPSG:{spec.epsg}", transform=_grid.grid_transform(spec),
            width=spec.width, height=spec.height, nodata=0,
            resampling=Resampling[resampling]) as vrt:
        return vrt.read(1)


def _mosaic(layers: Sequence[np.ndarray]) -> np.ndarray:
    """First non-zero value wins (products of one day from neighbouring tiles)."""
    out = layers[0].copy()
    for layer in layers[1:]:
        out = np.where(out == 0, layer, out)
    return out


# ----------------------------------------------------------------------------- one date
def products_by_day(products: Sequence[dict[str, Any]], lon: float) -> dict[date, list[dict]]:
    """Group products by solar day, one per tile (the highest processing baseline)."""
    best: dict[tuple[date, str], dict] = {}
    for p in products:
        key = (_grid.solar_day(product_time(p), lon), product_tile(p))
        if key not in best or (product_baseline(p) or "") > (product_baseline(best[key]) or ""):
            best[key] = p
    days: dict[date, list[dict]] = {}
    for (day, _), p in sorted(best.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        days.setdefault(day, []).append(p)
    return days


def _cloud(products: Sequence[dict[str, Any]]) -> float | None:
    values = [_attribute(p, "cloudCover") for p in products]
    values = [float(v) for v in values if v is not None]
    return float(np.mean(values)) if values else None


@dataclass
class _Read:
    scl: np.ndarray
    files: list[dict[str, Path]]
    mtds: list[Path | None]
    scls: list[np.ndarray]


def _read_day(session: CDSESession, products: Sequence[dict], spec: SceneSpec,
              bands: Sequence[str], *, folder: Path | None, progress: bool) -> _Read:
    files, mtds = [], []
    for p in products:
        zip_path = session.download(p, folder, progress=progress)
        paths, mtd = extract_bands(zip_path, bands, resolution_m=spec.resolution_m)
        files.append(paths)
        mtds.append(mtd)
    scls = [read_to_grid(f["SCL"], spec, resampling="nearest") for f in files]
    return _Read(_mosaic(scls), files, mtds, scls)


def _reflectance(read: _Read, products: Sequence[dict], spec: SceneSpec, bands: Sequence[str],
                 day: date, checks: dict[str, str] | None = None,
                 ) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """Harmonised reflectance (band, y, x) and SCL of one day: each product converted with its
    own per-band offsets, then mosaicked (first product with data wins, its SCL with it)."""
    layers, decisions = [], []
    for paths, mtd, p in zip(read.files, read.mtds, products, strict=True):
        offsets, note = read_offsets(mtd, product_baseline(p), day, product=p)
        stack = []
        for b in bands:
            how = _grid.band_resampling(b, spec.resolution_m)
            dn = read_to_grid(paths[b], spec, resampling=how)
            stack.append(harmonize.dn_to_reflectance(dn, offset=offsets[b], nodata=0))
        layers.append(np.stack(stack))
        name = str(p["Name"]).removesuffix(".SAFE") + ".zip"
        decisions.append({"id": p["Name"], "baseline": product_baseline(p),
                          "offset": int(offsets[bands[0]]), "note": note,
                          "download": (checks or {}).get(name, "")})
    refl, scl = _grid.mosaic_reflectance(layers, read.scls)
    return refl, scl, decisions


def load_date(session: CDSESession, spec: SceneSpec, bands: Sequence[str], target: date, *,
              search_days: int, max_cloud: float, max_candidates: int,
              folder: Path | None, progress: bool, scl_mask: Collection[int] | None = None
              ) -> tuple[np.ndarray, np.ndarray, Acquisition]:
    """Harmonised reflectance, clear mask and provenance of the date nearest ``target``."""
    polygon = scene_polygon(spec)
    found = session.search(polygon, target - timedelta(days=search_days),
                           target + timedelta(days=search_days))
    lon = float(np.mean(spec.bbox_lonlat()[::2]))
    if not found:
        wide = session.search(polygon, target - timedelta(days=_grid.NEAREST_SEARCH_DAYS),
                              target + timedelta(days=_grid.NEAREST_SEARCH_DAYS))
        raise _grid.no_scene_error(
            where=spec.name, target=target, search_days=search_days,
            how="the Copernicus Data Space catalogue",
            nearby=[(d, _cloud(v)) for d, v in products_by_day(wide, lon).items()])
    days = products_by_day(found, lon)

    def read(day: date) -> tuple[np.ndarray, _Read]:
        got = _read_day(session, days[day], spec, bands, folder=folder, progress=progress)
        return got.scl, got

    day, _, got, frac = _grid.choose_day(days, target, cloud_of=lambda d: _cloud(days[d]),
                                           read=read, max_cloud=max_cloud,
                                           max_candidates=max_candidates, where=spec.name)
    refl, scl, decisions = _reflectance(got, days[day], spec, bands, day, session.checks)
    offsets = {d["offset"] for d in decisions}
    acq = Acquisition(
        date=day.isoformat(), baseline=product_baseline(days[day][0]),
        offset=offsets.pop() if len(offsets) == 1 else None,
        offset_note=decisions[0]["note"] if len(decisions) == 1 else "per product: " + "; ".join(
            f"{d['id']}: {d['offset']}" for d in decisions),
        cloud_fraction=frac, ids=[p["Name"] for p in days[day]], items=decisions,
        hrefs={"products": [f"{session.download_url}({p['Id']})/$value" for p in days[day]]})
    return refl, _grid.valid_from_scl(scl, scl_mask=scl_mask), acq


def _load_dem(spec: SceneSpec, catalog: Any, *,
              timeout: float = 20.0) -> tuple[np.ndarray, dict[str, Any]]:
    from s2slide.data.live import stac

    cat = stac.get_catalog(catalog)
    return stac.load_dem(stac.open_client(cat, timeout=timeout), cat, spec, timeout=timeout)


def load_cdse(name: str | SceneSpec, *, bands: Sequence[str] | None = None,
              pre_date: str | None = None, post_date: str | None = None, max_cloud: float = 0.2,
              search_days: int = 10, max_candidates: int = 2,
              credentials: Credentials | None = None, session: CDSESession | None = None,
              download_dir: str | Path | None = None, progress: bool = True,
              dem_catalog: Any = "earth-search", timeout: float = 60.0,
              scl_mask: Collection[int] | None = None) -> Any:
    """Load a live scene through Copernicus Data Space in the :mod:`s2slide.data` contract.

    Parameters
    ----------
    name : str or SceneSpec
        ``"luding"`` (the seed's route) or ``"barhabise"``.
    bands, pre_date, post_date, max_cloud, search_days
        As :func:`s2slide.data.live.load_live`.
    max_candidates : int
        Products downloaded per date (about 1 GB each) before CloudCoverError.
    credentials : Credentials, optional
        Default from ``CDSE_USERNAME`` / ``CDSE_PASSWORD`` or prompts.
    session : CDSESession, optional
        An existing session (its endpoints and token are reused).
    download_dir : path, optional
        Where zips go (default ``<S2SLIDE_CACHE>/cdse``; delete them when done).
    progress : bool
        Show download progress bars.
    dem_catalog : str or stac.Catalog
        STAC catalogue of the Copernicus DEM GLO-30 (no account).
    timeout : float
        Overall seconds per request of a new session (see :class:`CDSESession`); the DEM's
        catalogue requests get at most 20 s.
    scl_mask : collection of int, optional
        SCL classes that make a pixel not ``valid``; default
        :data:`s2slide.data.bands.SCL_INVALID` (see there why dark area / shadow, 2, is kept).

    Examples
    --------
    >>> import os
    >>> os.environ["CDSE_USERNAME"] = "me@example.org"  # or type it at the prompt  # doctest: +SKIP
    >>> ds = load_cdse("luding")                          # doctest: +SKIP
    """
    spec, bands, pre_day, post_day = _grid.resolve_request(name, bands, pre_date, post_date, max_cloud)
    session = session or CDSESession(credentials, timeout=timeout)
    opts = dict(search_days=search_days, max_cloud=max_cloud, max_candidates=max_candidates,
                folder=Path(download_dir) if download_dir else None, progress=progress,
                scl_mask=s2bands.scl_classes(scl_mask))
    pre, valid_pre, pre_acq = load_date(session, spec, bands, pre_day, **opts)
    post, valid_post, post_acq = load_date(session, spec, bands, post_day, **opts)
    dem, dem_prov = _load_dem(spec, dem_catalog, timeout=min(timeout, 20.0))
    prov = {"route": "cdse", "catalog": "Copernicus Data Space Ecosystem (OData)",
            "catalog_url": session.odata_url, "reader": "SAFE zip, band files cropped with "
            "rasterio (WarpedVRT)", "harmonisation": "per-band BOA_ADD_OFFSET from "
            "MTD_MSIL2A.xml, else from the processing baseline", "dem": dem_prov,
            "scl_mask": sorted(opts["scl_mask"])}
    return _grid.assemble(spec, bands=bands, pre=pre, post=post, valid=valid_pre & valid_post,
                          dem=dem, pre_acq=pre_acq, post_acq=post_acq,
                          label_source="Copernicus Data Space", provenance=prov)


def reachable(*, timeout: float = 2.0, odata_url: str | None = None) -> bool:
    """Whether the CDSE catalogue answers JSON within ``timeout`` seconds overall (no login)."""
    from s2slide.errors import S2SlideError

    if config.offline():
        return False
    try:
        net.get_json(endpoint("odata", odata_url), params={"$top": "1"}, timeout=timeout,
                     what="the Copernicus Data Space catalogue")
        return True
    except S2SlideError:
        return False
