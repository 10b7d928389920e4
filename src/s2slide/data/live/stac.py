"""Live Sentinel-2 L2A scenes from a STAC API, no account needed (chapter 1).

Earth Search (Element 84) is the default catalogue; Microsoft Planetary Computer is the
alternative (its asset addresses are signed with a SAS token, :class:`TokenSigner`).
:func:`load_stac` searches items with pystac-client around each date, picks the nearest
acquisition whose window is clear enough (SCL), and reads *only the window* of the needed
Cloud-Optimised GeoTIFFs with odc-stac (HTTP range requests; no tile is downloaded whole)
onto the grid of :mod:`s2slide.data.scenes`. The Copernicus DEM GLO-30 of the same catalogue gives
``dem`` (bilinear) and ``slope``.

Addresses come from :func:`s2slide.config.endpoint` at each call: ``S2SLIDE_EARTH_SEARCH_URL``,
``S2SLIDE_PLANETARY_COMPUTER_URL`` and ``S2SLIDE_PC_TOKEN_URL`` point the route elsewhere (a lab
mirror, a test server) as ``load_scene`` is called.

Harmonisation -- what this module decided
-----------------------------------------
odc-stac loads raw digital numbers: it does *not* apply the STAC ``raster:bands``
scale/offset, so nothing is applied twice. The BOA offset is decided **per item, before the
mosaic**: each item of a day is read on its own (odc-stac ``groupby="id"``), converted with its
own offset, and only then are the items mosaicked (first valid pixel in (time, id) order).
Two tiles of one day can need different offsets: Earth Search's flag was missing or wrong on
part of the 2022 archive (Element84/earth-search issues 66 and 71), so one offset per day would
leave part of a window 0.1 too bright or too dark. For each item:

1. ``earthsearch:boa_offset_applied: true``: the COGs already hold ``DN - 1000``, so offset 0,
   whatever ``raster:bands`` says (its -0.1 was wrong on such items, earth-search issue 9).
2. Otherwise the offset follows the processing baseline (the property, else the product name),
   else the processing date, and the acquisition date only as a last resort
   (:func:`s2slide.data.harmonize.offset_decision`).
3. Then the item's own pixels are checked (:func:`s2slide.data.live._grid.dn_scale`): dark
   references (vegetation in blue and red, water in SWIR) sit below DN 1000 when the DNs are
   offset-free and above it when they carry +1000. Where they decide against the metadata, a
   warning says so and the pixels win; where the window holds no such surface (a bright
   desert), the metadata stands.

Every item's decision is recorded in the provenance (``items`` of ``pre``/``post``).

Example
-------
>>> from s2slide.data.live import stac
>>> ds = stac.load_stac("luding")                               # doctest: +SKIP
>>> ds = stac.load_stac("luding", catalog="planetary-computer")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Collection, Sequence
from urllib.parse import urlparse

import numpy as np

from s2slide import config
from s2slide.data import bands as s2bands
from s2slide.data import harmonize, net
from s2slide.data.live import _grid
from s2slide.data.live._grid import Acquisition
from s2slide.data.scenes import SceneSpec
from s2slide.errors import (DownloadError, InvalidInputError, NetworkUnavailableError,
                            NoValidDataError, S2SlideError)

#: Public addresses (a setting replaces them: see :func:`s2slide.config.endpoint`).
EARTH_SEARCH_URL = "https://earth-search.aws.element84.com/v1"
PLANETARY_COMPUTER_URL = "https://planetarycomputer.microsoft.com/api/stac/v1"


@dataclass(frozen=True)
class Catalog:
    """A STAC API holding Sentinel-2 L2A and the Copernicus DEM.

    Attributes
    ----------
    name : str
        Human name for labels and messages.
    url : str
        STAC API root.
    collection, dem_collection : str
        Collection ids of Sentinel-2 L2A and of the Copernicus DEM GLO-30.
    dem_asset : str
        Asset key of the DEM COG.
    asset_style : str
        ``"common"`` when assets are named by common name (``blue``, ``nir08``, ``scl``:
        Earth Search) or ``"band"`` when by band name (``B02``, ``B8A``, ``SCL``: Planetary
        Computer).
    signed : bool
        Asset addresses must be signed with a SAS token (:class:`TokenSigner`).
    endpoint : str or None
        Name of the :data:`s2slide.config.ENDPOINTS` entry whose setting replaces ``url``
        (``get_catalog`` reads it at each call); None for a catalogue given by its address.
    """

    name: str
    url: str
    collection: str = "sentinel-2-l2a"
    dem_collection: str = "cop-dem-glo-30"
    dem_asset: str = "data"
    asset_style: str = "common"
    signed: bool = False
    endpoint: str | None = None

    def asset(self, band: str) -> str:
        """Asset key of a band name (``"B8A"``) or of ``"SCL"`` in this catalogue."""
        if self.asset_style == "band":
            return band
        return "scl" if band == "SCL" else s2bands.BANDS[band].common_name


#: The catalogues ``catalog=`` accepts by name (addresses: the public defaults).
CATALOGS: dict[str, Catalog] = {
    "earth-search": Catalog("Earth Search", EARTH_SEARCH_URL, endpoint="Earth Search STAC"),
    "planetary-computer": Catalog("Planetary Computer", PLANETARY_COMPUTER_URL,
                                  asset_style="band", signed=True,
                                  endpoint="Planetary Computer STAC"),
}
_SETTING = {"Earth Search STAC": "S2SLIDE_EARTH_SEARCH_URL",
            "Planetary Computer STAC": "S2SLIDE_PLANETARY_COMPUTER_URL"}


def get_catalog(catalog: str | Catalog) -> Catalog:
    """A :class:`Catalog` from its name in :data:`CATALOGS` (or a Catalog itself).

    A named catalogue takes its address from its setting now (``S2SLIDE_EARTH_SEARCH_URL``,
    ``S2SLIDE_PLANETARY_COMPUTER_URL``), else the public one.
    """
    if isinstance(catalog, Catalog):
        return catalog
    try:
        cat = CATALOGS[str(catalog).lower()]
    except KeyError:
        raise InvalidInputError(f"unknown STAC catalog {catalog!r}; use one of "
                                f"{', '.join(CATALOGS)} or a stac.Catalog(...)") from None
    return dataclasses.replace(cat, url=config.endpoint(cat.endpoint)) if cat.endpoint else cat


# ----------------------------------------------------------------------------- signing
class TokenSigner:
    """Signs Planetary Computer asset addresses with a SAS token per collection, in bounded time.

    Why not ``planetary_computer.sign``: when its token service does not answer it retries with
    back-off and no timeout (443 s measured), and it does not remember the failure, so it can
    repeat per item. Here each token request has an overall deadline (``timeout`` s), is tried at
    most ``attempts`` times, and a failure is remembered: every later signing in the same load
    fails at once with the same NetworkUnavailableError.

    Assets served by the catalogue's own API (previews, tile JSON) and Azure's public thumbnail
    account are left unsigned, as the planetary-computer package does.

    Parameters
    ----------
    url : str, optional
        Token service root; ``<url>/<collection>`` answers ``{"token": ..., "msft:expiry": ...}``.
        Default: the ``Planetary Computer token service`` endpoint (``S2SLIDE_PC_TOKEN_URL``).
    api_url : str, optional
        The catalogue's own address (its assets are not signed).
    timeout : float
        Seconds per token request (connect + answer).
    attempts : int
        Token requests tried before giving up.
    """

    _PUBLIC = ("ai4edatasetspublicassets.blob.core.windows.net",)

    def __init__(self, url: str | None = None, *, api_url: str | None = None,
                 timeout: float = 5.0, attempts: int = 3) -> None:
        self.url = (url or config.endpoint("Planetary Computer token service")).rstrip("/")
        self._api_host = urlparse(api_url).netloc if api_url else None
        self.timeout, self.attempts = float(timeout), max(1, int(attempts))
        self._tokens: dict[str, tuple[str, float]] = {}
        self.failure: NetworkUnavailableError | None = None
        self.requests = 0

    def token(self, collection: str) -> str:
        """The SAS token of ``collection`` (cached until a minute before it expires)."""
        if self.failure is not None:
            raise NetworkUnavailableError(str(self.failure))
        cached = self._tokens.get(collection)
        if cached and cached[1] - time.time() > 60:
            return cached[0]
        last: Exception | None = None
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(min(0.5 * attempt, 2.0))
            self.requests += 1
            try:
                reply = net.get_json(f"{self.url}/{collection}", timeout=self.timeout,
                                     what="the Planetary Computer token service",
                                     setting="S2SLIDE_PC_TOKEN_URL")
                token = str(reply["token"])
            except (KeyError, TypeError):
                last = net.unavailable("the Planetary Computer token service",
                                       "its answer holds no 'token'", url=self.url)
                continue
            except NetworkUnavailableError as err:
                last = err
                continue
            self._tokens[collection] = (token, _expiry(reply))
            return token
        self.failure = NetworkUnavailableError(
            f"the Planetary Computer token service ({self.url}) gave no token for {collection!r} "
            f"in {self.attempts} tries of at most {self.timeout:g} s ({_reason(last)}); its image "
            "files cannot be read unsigned. Use catalog='earth-search' (no signing needed), try "
            "again later, or check S2SLIDE_PC_TOKEN_URL")
        raise NetworkUnavailableError(str(self.failure))

    def sign_href(self, href: str, collection: str) -> str:
        """``href`` with the collection's token appended (unchanged if it needs none)."""
        host = urlparse(href).netloc
        if (not href.startswith(("http://", "https://")) or host in self._PUBLIC
                or host == self._api_host or "sig=" in href):
            return href
        return f"{href}{'&' if '?' in href else '?'}{self.token(collection)}"

    def __call__(self, obj: Any) -> None:
        """pystac-client modifier: sign the assets of items and item collections in place."""
        import pystac

        if isinstance(obj, pystac.Item):
            for asset in obj.assets.values():
                asset.href = self.sign_href(asset.href, obj.collection_id or "")
        elif isinstance(obj, pystac.ItemCollection):
            for item in obj:
                self(item)
        elif isinstance(obj, dict):
            features = obj.get("features") if obj.get("type") == "FeatureCollection" else [obj]
            for feat in features or []:
                if isinstance(feat, dict) and feat.get("type") == "Feature":
                    for asset in (feat.get("assets") or {}).values():
                        asset["href"] = self.sign_href(asset["href"], feat.get("collection", ""))


def _expiry(reply: dict[str, Any]) -> float:
    try:
        text = str(reply["msft:expiry"]).replace("Z", "+00:00")
        return datetime.fromisoformat(text).astimezone(timezone.utc).timestamp()
    except (KeyError, ValueError):
        return time.time() + 300.0


def _reason(err: Exception | None) -> str:
    text = str(err or "no answer")
    return text.split(" (", 1)[1].split(");", 1)[0] if " (" in text and ");" in text else text


# ----------------------------------------------------------------------------- the API
def _api_error(cat: Catalog, what: str, err: BaseException, budget: Any = None) -> Exception:
    """A clear error for anything pystac-client raises while talking to the API."""
    import json

    import pystac_client
    import requests

    setting = _SETTING.get(cat.endpoint or "", "the catalogue's address")
    if isinstance(err, S2SlideError):
        return err
    cause = err.__cause__ or err.__context__
    if (isinstance(err, pystac_client.exceptions.APIError) and getattr(err, "status_code", None)
            is None and isinstance(cause, (requests.RequestException, OSError))):
        err = cause  # pystac-client wraps connection errors in an APIError without a status
    if isinstance(err, pystac_client.exceptions.APIError):
        code = getattr(err, "status_code", None)
        return net.unavailable(what, f"HTTP {code}: {str(err)[:160]}", url=cat.url,
                               hint=net.status_fix(code, setting=setting))
    if isinstance(err, json.JSONDecodeError):
        return net.not_json(what, err.doc or "", url=cat.url, check=setting,
                            detail=f"{err.msg} at char {err.pos}")
    if isinstance(err, (requests.RequestException, OSError)):
        return net.unavailable(what, err, url=cat.url, budget=budget)
    return net.unavailable(what, f"its answer is not what a STAC API sends ({type(err).__name__}: "
                           f"{str(err)[:160]})", url=cat.url,
                           hint=f"check that {setting} points at a STAC API")


def open_client(cat: Catalog, *, timeout: float = 20.0):
    """Open the catalogue with pystac-client, every request bounded by ``timeout`` seconds.

    No retries (pystac-client's five retries turned ``timeout=20`` into two minutes against a
    server that never answered). On Planetary Computer the items returned are signed with a
    :class:`TokenSigner` (``client.s2slide_signer``), whose failure is remembered for the
    rest of the load.

    Raises
    ------
    NetworkUnavailableError
        The API does not answer in time, answers an HTTP error, or answers something that is
        not a STAC API (an HTML login page of a captive portal, invalid JSON).
    """
    import pystac_client
    from pystac_client.stac_api_io import StacApiIO

    stac_io = StacApiIO(max_retries=None)
    stac_io.session = net.Session(timeout=timeout)
    signer = TokenSigner(api_url=cat.url, timeout=min(timeout, 5.0)) if cat.signed else None
    with net.deadline(timeout) as budget:
        try:
            client = pystac_client.Client.open(cat.url, modifier=signer, stac_io=stac_io,
                                               timeout=timeout)
        except Exception as err:  # every failure becomes a clear error
            raise _api_error(cat, f"the {cat.name} STAC API", err, budget) from None
    client.s2slide_signer = signer
    return client


def search_items(client: Any, cat: Catalog, *, collection: str,
                 bbox: tuple[float, float, float, float], start: date | None = None,
                 end: date | None = None, max_items: int = 500) -> list:
    """Items of ``collection`` intersecting ``bbox`` (lon/lat), optionally between two dates.

    Raises
    ------
    NetworkUnavailableError
        As :func:`open_client` (each page request is bounded by the client's timeout).
    """
    when = None if start is None else f"{start.isoformat()}T00:00:00Z/{end.isoformat()}T23:59:59Z"
    try:
        search = client.search(collections=[collection], bbox=list(bbox), datetime=when,
                               max_items=max_items)
        return list(search.items())
    except Exception as err:  # every failure becomes a clear error
        raise _api_error(cat, f"the {cat.name} STAC search ({collection})", err) from None


def items_by_day(items: Sequence, lon: float) -> dict[date, list]:
    """Group items by local solar day (the day odc-stac's ``groupby="solar_day"`` uses)."""
    days: dict[date, list] = {}
    for item in items:
        days.setdefault(_grid.solar_day(item.datetime, lon), []).append(item)
    return days


def _day_cloud(items: Sequence) -> float | None:
    covers = [it.properties.get("eo:cloud_cover") for it in items]
    covers = [c for c in covers if c is not None]
    return float(np.mean(covers)) if covers else None


# ----------------------------------------------------------------------------- offsets per item
def item_baseline(item: Any) -> str | None:
    """Processing baseline of a STAC item: its property, else the one in its product names."""
    props = item.properties
    baseline = props.get("s2:processing_baseline") or props.get("sentinel:processing_baseline")
    if baseline:
        return str(baseline)
    for key in ("s2:product_uri", "s2:granule_id", "s2:tile_id", "s2:datatake_id",
                "s2:datastrip_id"):
        found = harmonize.baseline_from_name(props.get(key))
        if found:
            return found
    return harmonize.baseline_from_name(item.id)


def item_offset(item: Any) -> tuple[int, str | None, str]:
    """(BOA_ADD_OFFSET to apply, processing baseline, reason) for one STAC item, from metadata.

    See the module notes; the item's pixels are checked afterwards by :func:`check_item_offset`.
    """
    props = item.properties
    baseline = item_baseline(item)
    applied = props.get("earthsearch:boa_offset_applied", props.get("sentinel:boa_offset_applied"))
    if applied is True:
        return 0, baseline, ("catalogue already applied BOA_ADD_OFFSET "
                             "(earthsearch:boa_offset_applied: true)")
    offset, why = harmonize.offset_decision(baseline=baseline,
                                            processed=props.get("s2:generation_time"),
                                            acquired=item.datetime.date())
    return offset, baseline, why


def item_decision(item: Any, dn: np.ndarray, bands: Sequence[str], scl: np.ndarray, *,
                  what: str) -> dict[str, Any]:
    """One item's offset: its metadata's (:func:`item_offset`), then checked on its pixels
    (:func:`check_item_offset`; ``dn`` (band, y, x) and ``scl`` (y, x) on any common grid).

    Returns
    -------
    dict
        ``id``, ``baseline``, ``offset`` and ``note`` (the evidence), for the provenance.
    """
    offset, baseline, note = item_offset(item)
    offset, note = check_item_offset(dn, bands, scl, offset=offset, baseline=baseline, note=note,
                                     what=f"{what}, {item.id}")
    return {"id": item.id, "baseline": baseline, "offset": offset, "note": note}


def check_item_offset(dn: np.ndarray, bands: Sequence[str], scl: np.ndarray, *, offset: int,
                      baseline: str | None, note: str, what: str) -> tuple[int, str]:
    """The offset an item's own pixels support (a warning where they overrule its metadata).

    Parameters
    ----------
    dn : ndarray of uint16, dims (band, y, x)
        The item's digital numbers on the scene grid (0 = nodata).
    bands : sequence of str
        Band names of ``dn``'s first axis.
    scl : ndarray of int, dims (y, x)
        The item's scene classification on the same grid.
    offset, baseline, note
        The metadata's decision (:func:`item_offset`).
    """
    scale, evidence = _grid.dn_scale(dn, bands, scl)
    expected = "+1000" if offset else "plain"
    if scale is None:
        return offset, f"{note}; pixels undecided ({evidence})"
    if scale == expected:
        return offset, f"{note}; pixels agree ({evidence})"
    if baseline and harmonize._baseline_tuple(baseline) < (4, 0):
        return offset, (f"{note}; pixels suggest {scale} DNs ({evidence}) but baseline {baseline} "
                        "has no offset: kept")
    new = harmonize.BOA_ADD_OFFSET_PB04 if scale == "+1000" else 0
    warnings.warn(f"{what}: the catalogue's metadata gives BOA_ADD_OFFSET {offset}, but the "
                  f"item's pixels show {'DNs still carrying +1000' if new else 'the offset already applied'} "
                  f"({evidence}), a known catalogue error; using offset {new}", stacklevel=4)
    return new, f"{note}; pixels overrule it ({evidence}): offset {new} used"


# ----------------------------------------------------------------------------- reading
def _configure_gdal(timeout: float) -> None:
    """GDAL's HTTP settings for COG reads: each request bounded, two retries at most."""
    import odc.stac

    odc.stac.configure_rio(
        cloud_defaults=True, aws={"aws_unsigned": True},
        GDAL_HTTP_TIMEOUT=str(max(1, int(round(timeout)))),
        GDAL_HTTP_CONNECTTIMEOUT=str(max(1, int(round(min(net.CONNECT_S, timeout))))),
        GDAL_HTTP_MAX_RETRY="2", GDAL_HTTP_RETRY_DELAY="1")


_NETWORK_WORDS = ("curl", "http response code", "http error", "could not resolve",
                  "timed out", "timeout", "couldn't connect", "connection", "ssl")


def _diagnose(href: str, timeout: float) -> str | None:
    """Open and decode a little of one image file on its own: None if it reads, else why not."""
    import rasterio
    from rasterio.errors import RasterioError

    try:
        with rasterio.Env(GDAL_HTTP_TIMEOUT=str(max(1, int(round(timeout)))),
                          GDAL_HTTP_MAX_RETRY="0", GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR",
                          CPL_VSIL_CURL_ALLOWED_EXTENSIONS=".tif,.tiff,.TIF,.jp2"):
            with rasterio.open(href) as src:
                src.read(1, out_shape=(min(src.height, 64), min(src.width, 64)))
    except (RasterioError, OSError, ValueError) as err:
        return str(err) or type(err).__name__
    return None


def _read_error(what: str, err: BaseException, hrefs: Sequence[str],
                timeout: float) -> Exception:
    """NetworkUnavailableError for files that cannot be fetched, DownloadError for one that
    arrives but is not a readable GeoTIFF (corrupt or truncated): each file is opened on its own
    to tell which (odc-stac's own error may say neither)."""
    for href in hrefs[:8]:
        why = _diagnose(href, timeout)
        if why is None:
            continue
        if any(word in why.lower() for word in _NETWORK_WORDS):
            return _grid.network_error(f"the image file {href} of {what}", why)
        return DownloadError(
            f"the image file {href} of {what} arrives but is not a readable GeoTIFF (corrupt or "
            f"truncated: {why[:160]}). The catalogue is serving a broken file: pick another date "
            "(pre_date/post_date) or catalogue, or report it to the catalogue's operator")
    where = ", ".join(hrefs[:2]) + (" ..." if len(hrefs) > 2 else "")
    return _grid.network_error(f"the image files of {what} ({where})", err)


def read_items(items: Sequence, assets: Sequence[str], spec: SceneSpec, *,
               resampling: dict[str, str], what: str,
               timeout: float = 20.0) -> list[dict[str, np.ndarray]]:
    """Read only the scene window of ``assets``, **each item on its own** (odc-stac).

    Returns
    -------
    list of dict
        One per item, in the order given: asset key -> ndarray (y, x) on the scene grid, native
        dtype (DN), 0 where the item has no data.

    Raises
    ------
    NoValidDataError
        No item has one of the assets.
    NetworkUnavailableError
        A file cannot be fetched in time.
    DownloadError
        A file arrives but is not a readable GeoTIFF.
    """
    import odc.stac
    from odc.geo.geobox import GeoBox

    missing = [a for a in assets if not any(a in it.assets for it in items)]
    if missing:
        raise NoValidDataError(f"the items of {what} have no asset {', '.join(missing)}; "
                               "this catalogue does not serve those bands")
    _configure_gdal(timeout)
    gbox = GeoBox(spec.shape, _grid.grid_transform(spec), f"EPSG:{spec.epsg}")
    try:
        ds = odc.stac.load(list(items), bands=list(assets), geobox=gbox, groupby="id",
                           resampling=resampling, chunks=None, fail_on_error=True)
    except Exception as err:  # GDAL/rasterio errors of every kind
        if isinstance(err, S2SlideError):
            raise
        hrefs = [it.assets[a].href.split("?")[0] for it in items for a in assets if a in it.assets]
        raise _read_error(what, err, hrefs, timeout) from None
    return [{a: ds[a].isel(time=i).values for a in assets} for i in range(len(items))]


def read_window(items: Sequence, assets: Sequence[str], spec: SceneSpec, *,
                resampling: dict[str, str], what: str, timeout: float = 20.0) -> dict[str, np.ndarray]:
    """Read the scene window of ``assets`` of one day's ``items``, mosaicked (SCL, DEM).

    Only for layers without a BOA offset: the items are mosaicked as they are (first valid pixel
    in (time, id) order). Reflectance bands go through :func:`read_items` and per-item offsets.
    """
    layers = read_items(_time_order(items), assets, spec, resampling=resampling, what=what,
                        timeout=timeout)
    return {a: _grid.first_valid([layer[a] for layer in layers]) for a in assets}


def _time_order(items: Sequence) -> list:
    return sorted(items, key=lambda it: (it.datetime, it.id))


def _resampling(spec: SceneSpec, bands: Sequence[str], cat: Catalog) -> dict[str, str]:
    """Per asset: :func:`_grid.band_resampling` for the bands, nearest for SCL."""
    out = {cat.asset(b): _grid.band_resampling(b, spec.resolution_m) for b in bands}
    out[cat.asset("SCL")] = "nearest"
    return out


def _hrefs(items: Sequence, key: str) -> list[str]:
    return [it.assets[key].href.split("?")[0] for it in items if key in it.assets]


def harmonised_day(items: Sequence, cat: Catalog, spec: SceneSpec, bands: Sequence[str], *,
                   what: str, timeout: float = 20.0) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Reflectance (band, y, x), SCL (y, x) and per-item decisions of one day's items.

    Each item is read, given its own offset (metadata, then its pixels) and converted to
    reflectance before the items are mosaicked, so that no day mixes offsets.
    """
    items = _time_order(items)
    keys = [cat.asset(b) for b in bands]
    scl_key = cat.asset("SCL")
    layers = read_items(items, [*keys, scl_key], spec, resampling=_resampling(spec, bands, cat),
                        what=what, timeout=timeout)
    refls, scls, decisions = [], [], []
    for item, layer in zip(items, layers, strict=True):
        dn = np.stack([layer[k] for k in keys])
        decisions.append(item_decision(item, dn, bands, layer[scl_key], what=what))
        refls.append(harmonize.dn_to_reflectance(dn, offset=decisions[-1]["offset"], nodata=0))
        scls.append(layer[scl_key])
    refl, scl = _grid.mosaic_reflectance(refls, scls)
    return refl, scl, decisions


def load_date(client: Any, cat: Catalog, spec: SceneSpec, bands: Sequence[str], target: date,
              *, search_days: int, max_cloud: float, max_candidates: int,
              timeout: float = 20.0, scl_mask: Collection[int] | None = None
              ) -> tuple[np.ndarray, np.ndarray, Acquisition]:
    """Harmonised reflectance (band, y, x), clear mask (y, x) and provenance for one date."""
    bbox = spec.bbox_lonlat()
    lon = 0.5 * (bbox[0] + bbox[2])
    items = search_items(client, cat, collection=cat.collection, bbox=bbox,
                         start=target - timedelta(days=search_days),
                         end=target + timedelta(days=search_days))
    if not items:
        raise _nearest_dates_error(client, cat, spec, target, search_days)
    days = items_by_day(items, lon)
    scl_key = cat.asset("SCL")

    def read_scl(day: date) -> tuple[np.ndarray, None]:  # SCL only: bands once a day is chosen
        return read_window(days[day], [scl_key], spec, resampling={scl_key: "nearest"},
                           what=f"{spec.name} {day}", timeout=timeout)[scl_key], None

    day, _, _, frac = _grid.choose_day(days, target, cloud_of=lambda d: _day_cloud(days[d]),
                                       read=read_scl, max_cloud=max_cloud,
                                       max_candidates=max_candidates, where=spec.name)
    refl, scl, decisions = harmonised_day(days[day], cat, spec, bands,
                                          what=f"{spec.name} {day}", timeout=timeout)
    offsets = {d["offset"] for d in decisions}
    ordered = _time_order(days[day])
    acq = Acquisition(
        date=day.isoformat(), baseline=decisions[0]["baseline"],
        offset=offsets.pop() if len(offsets) == 1 else None,
        offset_note=(decisions[0]["note"] if len(decisions) == 1 else
                     "per item, before the mosaic: " + "; ".join(
                         f"{d['id']}: {d['offset']}" for d in decisions)),
        ids=[it.id for it in ordered], cloud_fraction=frac, items=decisions,
        hrefs={b: _hrefs(ordered, cat.asset(b)) for b in bands} | {"SCL": _hrefs(ordered, scl_key)})
    return refl, _grid.valid_from_scl(scl, scl_mask=scl_mask), acq


def _nearest_dates_error(client: Any, cat: Catalog, spec: SceneSpec, target: date,
                         search_days: int) -> Exception:
    bbox = spec.bbox_lonlat()
    wide = search_items(client, cat, collection=cat.collection, bbox=bbox,
                        start=target - timedelta(days=_grid.NEAREST_SEARCH_DAYS),
                        end=target + timedelta(days=_grid.NEAREST_SEARCH_DAYS))
    days = items_by_day(wide, 0.5 * (bbox[0] + bbox[2]))
    return _grid.no_scene_error(
        where=f"{spec.name} (lon/lat bbox {', '.join(f'{v:.3f}' for v in bbox)})",
        target=target, search_days=search_days, how=f"{cat.name} ({cat.collection})",
        nearby=[(d, _day_cloud(v)) for d, v in days.items()])


def load_dem(client: Any, cat: Catalog, spec: SceneSpec, *,
             timeout: float = 20.0) -> tuple[np.ndarray, dict[str, Any]]:
    """Copernicus DEM GLO-30 (m, float32, (y, x)) resampled bilinearly onto the scene grid."""
    items = search_items(client, cat, collection=cat.dem_collection, bbox=spec.bbox_lonlat())
    if not items:
        raise NoValidDataError(f"{cat.name} has no {cat.dem_collection} tile over {spec.name}")
    arr = read_window(items, [cat.dem_asset], spec, resampling={cat.dem_asset: "bilinear"},
                      what=f"the DEM of {spec.name}", timeout=timeout)[cat.dem_asset]
    dem = arr.astype(np.float32)
    return dem, {"collection": cat.dem_collection, "ids": [it.id for it in items],
                 "hrefs": _hrefs(items, cat.dem_asset), "resampling": "bilinear",
                 "attribution": _grid.DEM_ATTRIBUTION}


def load_stac(name: str | SceneSpec, *, catalog: str | Catalog = "earth-search",
              bands: Sequence[str] | None = None, pre_date: str | None = None,
              post_date: str | None = None, max_cloud: float = 0.2, search_days: int = 10,
              max_candidates: int = 4, timeout: float = 20.0,
              scl_mask: Collection[int] | None = None) -> Any:
    """Load a live bitemporal scene from a STAC API in the :mod:`s2slide.data` contract.

    Parameters
    ----------
    name : str or SceneSpec
        Scene name (``"luding"``, ``"barhabise"``) or a :class:`~s2slide.data.scenes.SceneSpec`.
    catalog : str or Catalog
        ``"earth-search"`` (default) or ``"planetary-computer"``; their addresses follow
        ``S2SLIDE_EARTH_SEARCH_URL`` / ``S2SLIDE_PLANETARY_COMPUTER_URL`` when set.
    bands : sequence of str, optional
        Band names (default: the scene's bands, e.g. B02 B03 B04 B8A B11 for Luding).
    pre_date, post_date : str, optional
        ISO dates wanted (default: the scene's seed dates); the nearest acquisition within
        ``search_days`` whose window is clear enough is used.
    max_cloud : float
        Largest fraction (0-1) of the *window* in SCL cloud/shadow/cirrus classes.
    search_days : int
        Days searched either side of each date.
    max_candidates : int
        Acquisitions whose SCL is read before giving up with CloudCoverError.
    timeout : float
        Overall seconds allowed for each request (connect + answer): each catalogue page, each
        image-file range read (GDAL), each token request (at most 5 s there). Not retried by
        pystac-client; GDAL retries a read twice.
    scl_mask : collection of int, optional
        SCL classes that make a pixel not ``valid``; default
        :data:`s2slide.data.bands.SCL_INVALID` (see there why dark area / shadow, 2, is kept).

    Returns
    -------
    xarray.Dataset
        ``pre``, ``post`` (float32 reflectance, (band, y, x)), ``dem``, ``slope``, ``valid``;
        attrs ``source="live"``, ``label``, dates, baselines, ``provenance`` (JSON, with each
        item's offset decision).

    Raises
    ------
    MissingBandError, SceneNotFoundError (lists the nearest dates with a scene),
    CloudCoverError, NetworkUnavailableError, DownloadError (a corrupt image file).

    Examples
    --------
    >>> ds = load_stac("luding", pre_date="2021-11-05", post_date="2022-11-20")  # doctest: +SKIP
    >>> ds.attrs["label"]                                                          # doctest: +SKIP
    'Luding, live Sentinel-2 L2A (Earth Search, 2021-11-05 / 2022-11-20)'
    """
    spec, bands, pre_day, post_day = _grid.resolve_request(name, bands, pre_date, post_date,
                                                           max_cloud)
    cat = get_catalog(catalog)
    client = open_client(cat, timeout=timeout)
    opts = dict(search_days=search_days, max_cloud=max_cloud, max_candidates=max_candidates,
                timeout=timeout, scl_mask=s2bands.scl_classes(scl_mask))
    pre, valid_pre, pre_acq = load_date(client, cat, spec, bands, pre_day, **opts)
    post, valid_post, post_acq = load_date(client, cat, spec, bands, post_day, **opts)
    dem, dem_prov = load_dem(client, cat, spec, timeout=timeout)
    prov = {"route": "stac", "catalog": cat.name, "catalog_url": cat.url,
            "collection": cat.collection, "reader": "odc-stac (COG windows, HTTP range reads)",
            "harmonisation": "raw DNs (raster:bands scale/offset not applied by odc-stac); "
                             "BOA_ADD_OFFSET decided per item (flag, baseline, pixels) before "
                             "the mosaic, see pre/post items",
            "dem": dem_prov, "scl_mask": sorted(opts["scl_mask"])}
    return _grid.assemble(spec, bands=bands, pre=pre, post=post, valid=valid_pre & valid_post,
                          dem=dem, pre_acq=pre_acq, post_acq=post_acq, label_source=cat.name,
                          provenance=prov)


def reachable(catalog: str | Catalog = "earth-search", *, timeout: float = 2.0) -> bool:
    """Whether the catalogue's landing page answers JSON within ``timeout`` seconds (overall)."""
    if config.offline():
        return False
    try:
        cat = get_catalog(catalog)
        return isinstance(net.get_json(cat.url, what=f"the {cat.name} STAC API",
                                       timeout=timeout), dict)
    except S2SlideError:
        return False
