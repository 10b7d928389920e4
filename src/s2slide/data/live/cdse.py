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

Endpoints are module constants, overridden by arguments or by the environment variables
``CDSE_TOKEN_URL``, ``CDSE_ODATA_URL`` and ``CDSE_DOWNLOAD_URL``. The DEM is the Copernicus
DEM GLO-30 from Earth Search (no account), see :func:`s2slide.data.live.stac.load_dem`.

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
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Collection, Sequence

import numpy as np

from s2slide import config
from s2slide.data import bands as s2bands
from s2slide.data import harmonize
from s2slide.config import ENDPOINTS
from s2slide.errors import AuthenticationError, ChecksumError, DownloadError
from s2slide.data.live import _grid
from s2slide.data.live._grid import Acquisition
from s2slide.data.scenes import SceneSpec

TOKEN_URL = ("https://identity.dataspace.copernicus.eu/auth/realms/CDSE/protocol/"
             "openid-connect/token")
ODATA_URL = ENDPOINTS["Copernicus Data Space"]
DOWNLOAD_URL = "https://download.dataspace.copernicus.eu/odata/v1/Products"
CLIENT_ID = "cdse-public"
REGISTER = "https://dataspace.copernicus.eu (Login > Register)"
#: ESA's band_id order in MTD_MSIL2A.xml (BOA_ADD_OFFSET band_id="0" is B01).
MTD_BAND_IDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10",
                "B11", "B12")
_BAND_FILE = re.compile(r"IMG_DATA/R(\d{2})m/[^/]*_(B\d[\dA]|SCL)_\d{2}m\.(jp2|tif)$")


def endpoint(kind: str, override: str | None = None) -> str:
    """The ``"token"``, ``"odata"`` or ``"download"`` address: argument, else env, else default."""
    default = {"token": TOKEN_URL, "odata": ODATA_URL, "download": DOWNLOAD_URL}[kind]
    return override or os.environ.get(f"CDSE_{kind.upper()}_URL") or default


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
        user = os.environ.get("CDSE_USERNAME") or getpass.getpass("CDSE username (e-mail): ")
        password = os.environ.get("CDSE_PASSWORD") or getpass.getpass("CDSE password: ")
        if not user.strip() or not password:
            raise AuthenticationError(
                "no Copernicus Data Space credentials: set CDSE_USERNAME and CDSE_PASSWORD or "
                f"type them at the prompts; a free account is made at {REGISTER}")
        return cls(user.strip(), password)


def _post_token(url: str, form: dict[str, str], timeout: float) -> dict[str, Any]:
    import requests

    try:
        resp = requests.post(url, data=form, timeout=timeout)
    except requests.RequestException as err:
        raise _grid.network_error("the Copernicus Data Space login", err) from None
    if resp.status_code in (400, 401):
        try:
            detail = resp.json().get("error_description") or resp.json().get("error")
        except ValueError:
            detail = resp.reason
        raise AuthenticationError(
            f"Copernicus Data Space refused the login (HTTP {resp.status_code}: {detail}); check "
            "CDSE_USERNAME / CDSE_PASSWORD (or what you typed at the prompt) and that the "
            f"account is activated at {REGISTER}")
    if not resp.ok:
        raise _grid.network_error("the Copernicus Data Space login", f"HTTP {resp.status_code}")
    return resp.json()


class CDSESession:
    """A logged-in CDSE session: access token, refresh on expiry, search, download.

    Parameters
    ----------
    credentials : Credentials, optional
        Default: :meth:`Credentials.from_env_or_prompt` (asked on first login only).
    token_url, odata_url, download_url : str, optional
        Endpoints (default: module constants or ``CDSE_*_URL`` environment variables).
    timeout : float
        Seconds to wait for each request.
    """

    def __init__(self, credentials: Credentials | None = None, *, token_url: str | None = None,
                 odata_url: str | None = None, download_url: str | None = None,
                 timeout: float = 60.0) -> None:
        self._credentials = credentials
        self.token_url = endpoint("token", token_url)
        self.odata_url = endpoint("odata", odata_url)
        self.download_url = endpoint("download", download_url)
        self.timeout = timeout
        self._access: str | None = None
        self._refresh: str | None = None

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
        import requests

        params = {"$filter": odata_filter(polygon, start, end), "$top": str(top),
                  "$orderby": "ContentDate/Start asc", "$expand": "Attributes"}
        try:
            resp = requests.get(self.odata_url, params=params, timeout=self.timeout)
        except requests.RequestException as err:
            raise _grid.network_error("the Copernicus Data Space catalogue", err) from None
        if not resp.ok:
            raise _grid.network_error("the Copernicus Data Space catalogue",
                                      f"HTTP {resp.status_code}: {resp.text[:200]}")
        return list(resp.json().get("value", []))

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
            Tries (each resuming the previous one) before giving up.
        progress : bool
            Show a tqdm progress bar.

        Returns
        -------
        Path
            The verified ``<Name>.zip``; no final file exists unless verified.

        Raises
        ------
        DownloadError
            The transfer was cut on every attempt (the ``.part`` file is kept to resume).
        ChecksumError
            Size or MD5 differ from the catalogue (the partial file is deleted).
        AuthenticationError
            The token was refused again after one refresh.
        """
        folder = Path(folder) if folder else config.cache_dir() / "cdse"
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / (str(product["Name"]).removesuffix(".SAFE") + ".zip")
        size, md5 = product.get("ContentLength"), _md5_of(product)
        if final.exists() and (not size or final.stat().st_size == size):
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
        _verify(part, size=size, md5=md5)
        os.replace(part, final)
        return final

    def _get(self, url: str, headers: dict[str, str]) -> Any:
        import requests

        try:
            resp = requests.get(url, headers={**headers, **self._auth_headers()}, stream=True,
                                timeout=self.timeout)
            if resp.status_code == 401:  # expired token: refresh once
                resp.close()
                self.refresh()
                resp = requests.get(url, headers={**headers, **self._auth_headers()},
                                    stream=True, timeout=self.timeout)
        except requests.RequestException as err:
            raise _Cut(f"{type(err).__name__}: {err}") from None
        if resp.status_code == 401:
            raise AuthenticationError(
                "Copernicus Data Space refused the download token even after a refresh; log "
                "in again (check CDSE_USERNAME / CDSE_PASSWORD) and make sure the account "
                f"may download products ({REGISTER})")
        return resp

    def _stream(self, url: str, part: Path, size: int | None, *, progress: bool,
                desc: str) -> None:
        import requests
        from tqdm.auto import tqdm

        have = part.stat().st_size if part.exists() else 0
        if size and have >= size:
            return
        resp = self._get(url, {"Range": f"bytes={have}-"} if have else {})
        if resp.status_code not in (200, 206):
            raise DownloadError(f"HTTP {resp.status_code} downloading {desc}: {resp.reason}")
        if resp.status_code == 200:  # the server ignored Range: start again
            have = 0
        with resp, open(part, "ab" if have else "wb") as out, tqdm(
                total=size, initial=have, unit="B", unit_scale=True, desc=desc,
                disable=not progress) as bar:
            try:
                for chunk in resp.iter_content(chunk_size=1 << 16):
                    out.write(chunk)
                    bar.update(len(chunk))
            except (requests.RequestException, OSError) as err:
                raise _Cut(f"after {part.stat().st_size} bytes: {type(err).__name__}") from None
        if size and part.stat().st_size < size:
            raise _Cut(f"after {part.stat().st_size} of {size} bytes")


class _Cut(Exception):
    """A transfer that stopped early (retried, then reported as DownloadError)."""


def _md5_of(product: dict[str, Any]) -> str | None:
    for entry in product.get("Checksum") or []:
        if str(entry.get("Algorithm", "")).upper() == "MD5" and entry.get("Value"):
            return str(entry["Value"]).lower()
    return None


def _verify(part: Path, *, size: int | None, md5: str | None) -> None:
    """Check size and MD5 of a finished download; delete it if wrong."""
    got = part.stat().st_size
    problem = None
    if size and got != size:
        problem = f"has {got} bytes, the catalogue says {size}"
    elif md5:
        digest = hashlib.md5()
        with open(part, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != md5:
            problem = f"MD5 {digest.hexdigest()} differs from the catalogue's {md5}"
    if problem:
        part.unlink()
        raise ChecksumError(f"the download {part.name} {problem}; it was deleted, download again")


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


def read_offsets(mtd: Path | None, baseline: str | None, day: date) -> tuple[dict[str, int], str]:
    """Per-band BOA_ADD_OFFSET from MTD_MSIL2A.xml, else from the baseline (or the date)."""
    if mtd is not None:
        text = Path(mtd).read_text(errors="replace")
        found = re.findall(r'<BOA_ADD_OFFSET band_id="(\d+)">\s*(-?\d+)\s*<', text)
        if found:
            return ({MTD_BAND_IDS[int(i)]: int(v) for i, v in found},
                    "BOA_ADD_OFFSET per band from MTD_MSIL2A.xml")
        if "<PROCESSING_BASELINE>" in text and baseline is None:
            baseline = text.split("<PROCESSING_BASELINE>")[1].split("<")[0].strip()
    offset = harmonize.boa_add_offset(baseline=baseline, acquired=day)
    why = f"processing baseline {baseline}" if baseline else "acquisition date"
    return {b: offset for b in MTD_BAND_IDS}, f"BOA_ADD_OFFSET {offset} from {why}"


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


def _read_day(session: CDSESession, products: Sequence[dict], spec: SceneSpec,
              bands: Sequence[str], *, folder: Path | None, progress: bool) -> _Read:
    files, mtds = [], []
    for p in products:
        zip_path = session.download(p, folder, progress=progress)
        paths, mtd = extract_bands(zip_path, bands, resolution_m=spec.resolution_m)
        files.append(paths)
        mtds.append(mtd)
    scl = _mosaic([read_to_grid(f["SCL"], spec, resampling="nearest") for f in files])
    return _Read(scl, files, mtds)


def _reflectance(read: _Read, products: Sequence[dict], spec: SceneSpec, bands: Sequence[str],
                 day: date) -> tuple[np.ndarray, dict[str, int], str]:
    """Harmonised reflectance (band, y, x) of one day (per product and band offsets)."""
    layers, offsets, note = [], {}, ""
    for paths, mtd, p in zip(read.files, read.mtds, products, strict=True):
        offsets, note = read_offsets(mtd, product_baseline(p), day)
        stack = []
        for b in bands:
            how = _grid.band_resampling(b, spec.resolution_m)
            dn = read_to_grid(paths[b], spec, resampling=how)
            stack.append(harmonize.dn_to_reflectance(dn, offset=offsets[b], nodata=0))
        layers.append(np.stack(stack))
    refl = layers[0]
    for layer in layers[1:]:
        refl = np.where(np.isnan(refl), layer, refl)
    return refl.astype(np.float32), offsets, note


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

    day, scl, got, frac = _grid.choose_day(days, target, cloud_of=lambda d: _cloud(days[d]),
                                           read=read, max_cloud=max_cloud,
                                           max_candidates=max_candidates, where=spec.name)
    refl, offsets, note = _reflectance(got, days[day], spec, bands, day)
    acq = Acquisition(
        date=day.isoformat(), baseline=product_baseline(days[day][0]),
        offset=int(offsets[bands[0]]), offset_note=note, cloud_fraction=frac,
        ids=[p["Name"] for p in days[day]],
        hrefs={"products": [f"{session.download_url}({p['Id']})/$value" for p in days[day]]})
    return refl, _grid.valid_from_scl(scl, scl_mask=scl_mask), acq


def _load_dem(spec: SceneSpec, catalog: Any) -> tuple[np.ndarray, dict[str, Any]]:
    from s2slide.data.live import stac

    cat = stac.get_catalog(catalog)
    return stac.load_dem(stac.open_client(cat), cat, spec)


def load_cdse(name: str | SceneSpec, *, bands: Sequence[str] | None = None,
              pre_date: str | None = None, post_date: str | None = None, max_cloud: float = 0.2,
              search_days: int = 10, max_candidates: int = 2,
              credentials: Credentials | None = None, session: CDSESession | None = None,
              download_dir: str | Path | None = None, progress: bool = True,
              dem_catalog: Any = "earth-search", scl_mask: Collection[int] | None = None) -> Any:
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
    session = session or CDSESession(credentials)
    opts = dict(search_days=search_days, max_cloud=max_cloud, max_candidates=max_candidates,
                folder=Path(download_dir) if download_dir else None, progress=progress,
                scl_mask=s2bands.scl_classes(scl_mask))
    pre, valid_pre, pre_acq = load_date(session, spec, bands, pre_day, **opts)
    post, valid_post, post_acq = load_date(session, spec, bands, post_day, **opts)
    dem, dem_prov = _load_dem(spec, dem_catalog)
    prov = {"route": "cdse", "catalog": "Copernicus Data Space Ecosystem (OData)",
            "catalog_url": session.odata_url, "reader": "SAFE zip, band files cropped with "
            "rasterio (WarpedVRT)", "harmonisation": "per-band BOA_ADD_OFFSET from "
            "MTD_MSIL2A.xml, else from the processing baseline", "dem": dem_prov,
            "scl_mask": sorted(opts["scl_mask"])}
    return _grid.assemble(spec, bands=bands, pre=pre, post=post, valid=valid_pre & valid_post,
                          dem=dem, pre_acq=pre_acq, post_acq=post_acq,
                          label_source="Copernicus Data Space", provenance=prov)


def reachable(*, timeout: float = 2.0, odata_url: str | None = None) -> bool:
    """Whether the CDSE catalogue answers within ``timeout`` seconds (no login)."""
    import requests

    if config.offline():
        return False
    try:
        return requests.get(endpoint("odata", odata_url), params={"$top": "1"},
                            timeout=timeout).ok
    except requests.RequestException:
        return False
