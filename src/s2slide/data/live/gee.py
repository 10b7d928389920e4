"""Live scenes from Google Earth Engine, with geemap for an interactive map: seed 001's route.

Earth Engine needs an account and a Google Cloud project. The project id comes from the
environment variable ``EE_PROJECT`` (or ``GOOGLE_CLOUD_PROJECT``), else from a prompt.
:func:`available` answers *before* anything calls ``ee.Initialize`` -- which, without network,
can retry for 20-50 s -- and says why not; :func:`initialize` then initialises Earth Engine
itself so that geemap never prompts (``geemap.Map(ee_initialize=False)``).

Pixels come from ``COPERNICUS/S2_SR_HARMONIZED``, whose digital numbers Google has already
shifted to the pre-04.00 range, so reflectance = DN / 10000 for every date (offset 0), read
with ``ee.data.computePixels`` straight onto the scene grid; the DEM is
``COPERNICUS/DEM/GLO30`` (bilinear).

Example
-------
>>> from s2slide.data.live import gee
>>> ok = gee.available()            # Availability(ok=False, reason='offline: ...') offline
>>> if ok:                          # doctest: +SKIP
...     gee.initialize()            # project from EE_PROJECT or a prompt
...     m = gee.interactive_map("luding", date="2022-11-20")
...     ds = gee.load_gee("luding")
"""

from __future__ import annotations

import os
import socket
import threading
from datetime import date, datetime, timedelta, timezone
from typing import Any, Collection, NamedTuple, Sequence

import numpy as np

from s2slide import config
from s2slide.data import bands as s2bands
from s2slide.errors import (AuthenticationError, NetworkUnavailableError,
                            NoValidDataError)
from s2slide.data.live import _grid
from s2slide.data.live._grid import Acquisition
from s2slide.data.scenes import SceneSpec

COLLECTION = "COPERNICUS/S2_SR_HARMONIZED"
DEM_COLLECTION = "COPERNICUS/DEM/GLO30"
HOST = ("earthengine.googleapis.com", 443)
AUTH_HINT = ("run `import ee; ee.Authenticate()` once (on Colab it opens a sign-in link), and "
             "give a Cloud project registered for Earth Engine in EE_PROJECT")


class Availability(NamedTuple):
    """Whether Earth Engine can be used now, and why not; true in ``if`` when usable."""

    ok: bool
    reason: str

    def __bool__(self) -> bool:
        return self.ok


def _has_credentials() -> bool:
    if os.environ.get("GOOGLE_APPLICATION_CREDENTIALS") or os.environ.get("EE_CREDENTIALS"):
        return True
    try:
        import google.colab  # noqa: F401  (Colab signs in through its own prompt)

        return True
    except ImportError:
        pass
    import ee.oauth

    return os.path.exists(ee.oauth.get_credentials_path())


def _can_connect(host: tuple[str, int], timeout: float) -> str | None:
    """None if a TCP connection (DNS included) opens within ``timeout`` s, else the reason."""
    result: list[str | None] = []

    def probe() -> None:
        try:
            socket.create_connection(host, timeout=timeout).close()
            result.append(None)
        except OSError as err:
            result.append(f"{type(err).__name__}: {err}")

    thread = threading.Thread(target=probe, daemon=True)  # bounds DNS look-ups too
    thread.start()
    thread.join(timeout)
    return result[0] if result else f"no answer within {timeout:g} s"


def available(timeout: float = 2.0, *, host: tuple[str, int] = HOST) -> Availability:
    """Whether Earth Engine is usable now, checked *without* calling ``ee.Initialize``.

    Offline (``S2SLIDE_OFFLINE`` or ``CI``) or without credentials it answers at once; else
    it opens a TCP connection to the Earth Engine API within ``timeout`` seconds.

    Returns
    -------
    Availability
        ``(ok, reason)``; ``bool(result)`` is ``ok``.
    """
    if config.offline():
        return Availability(False, "offline: S2SLIDE_OFFLINE or CI is set; "
                                   + _grid.FALLBACK_HINT)
    try:
        import ee  # noqa: F401
    except ImportError:
        return Availability(False, "the earthengine-api package is not installed")
    if not _has_credentials():
        return Availability(False, f"no Earth Engine credentials on this machine: {AUTH_HINT}")
    why = _can_connect(host, timeout)
    if why:
        return Availability(False, f"cannot reach {host[0]} ({why}); {_grid.FALLBACK_HINT}")
    return Availability(True, "Earth Engine API reachable")


def project_id(project: str | None = None) -> str:
    """The Cloud project: argument, else ``EE_PROJECT``/``GOOGLE_CLOUD_PROJECT``, else a prompt."""
    value = project or os.environ.get("EE_PROJECT") or os.environ.get("GOOGLE_CLOUD_PROJECT")
    if not value:
        try:
            value = input("Google Cloud project id registered for Earth Engine: ").strip()
        except (EOFError, OSError):  # a batch run (nbval, CI, a script): no one to answer
            raise AuthenticationError(
                "no Cloud project id and no terminal to ask for one (a batch run): set "
                "EE_PROJECT before running (https://code.earthengine.google.com/register)") from None
    if not value:
        raise AuthenticationError("no Cloud project id: set EE_PROJECT or type it at the "
                                  "prompt (https://code.earthengine.google.com/register)")
    return value


def initialize(project: str | None = None, *, timeout: float = 2.0) -> str:
    """Initialise Earth Engine for ``project`` after checking :func:`available`.

    Returns
    -------
    str
        The project used.

    Raises
    ------
    NetworkUnavailableError
        Offline, unreachable or no credentials (ee.Initialize is not called).
    AuthenticationError
        Earth Engine refused the credentials or the project.
    """
    import ee

    if ee.data.is_initialized():
        return project or os.environ.get("EE_PROJECT", "")
    state = available(timeout)
    if not state:
        raise NetworkUnavailableError(f"Earth Engine is not available: {state.reason}")
    project = project_id(project)
    try:
        ee.Initialize(project=project)
    except Exception as err:  # ee raises EEException or google.auth errors
        raise AuthenticationError(
            f"Earth Engine refused to initialise for project {project!r} "
            f"({type(err).__name__}: {err}); {AUTH_HINT}") from err
    return project


def _require_initialized() -> Any:
    import ee

    if not ee.data.is_initialized():
        raise AuthenticationError("Earth Engine is not initialised: call "
                                  "s2slide.data.live.gee.initialize() first (after gee.available())")
    return ee


def ee_band(band: str) -> str:
    """Earth Engine's name of a Sentinel-2 band: ``"B02"`` -> ``"B2"``, ``"B8A"`` stays."""
    return band if band in ("B8A", "SCL") else f"B{int(band[1:])}"


def clear_image(image: Any, scl_mask: Collection[int] | None = None) -> Any:
    """``image`` (an ``ee.Image`` with its ``SCL`` band) with the pixels of ``scl_mask`` masked.

    The server-side twin of :func:`s2slide.data.live._grid.valid_from_scl`, for composites:
    map it over a collection before ``median()`` so that clouds, their shadows and snow
    (:data:`s2slide.data.bands.SCL_INVALID` by default) do not enter the composite. Without it
    a median of a few dates keeps a cloud that lies over most of them, and a bright cloud or snow
    patch after the event reads as vegetation lost.
    """
    classes = sorted(s2bands.scl_classes(scl_mask))
    return image.updateMask(image.select("SCL").remap(classes, [0] * len(classes), 1))


def pixel_grid(spec: SceneSpec) -> dict[str, Any]:
    """The ``grid`` of an ``ee.data.computePixels`` request for the scene grid."""
    return {"dimensions": {"width": spec.width, "height": spec.height},
            "affineTransform": {"scaleX": spec.resolution_m, "shearX": 0.0,
                                "translateX": spec.left, "shearY": 0.0,
                                "scaleY": -spec.resolution_m, "translateY": spec.top},
            "crsCode": f"EPSG:{spec.epsg}"}


def structured_to_stack(arr: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """A computePixels NUMPY_NDARRAY result (fields = bands) as an array (band, y, x)."""
    missing = [n for n in names if n not in (arr.dtype.names or ())]
    if missing:
        raise NoValidDataError(f"Earth Engine returned no {', '.join(missing)} band")
    return np.stack([np.asarray(arr[n]) for n in names])


def _pixels(image: Any, spec: SceneSpec, names: Sequence[str]) -> np.ndarray:
    ee = _require_initialized()
    try:
        arr = ee.data.computePixels({"expression": image.select(list(names)).unmask(0),
                                     "fileFormat": "NUMPY_NDARRAY", "grid": pixel_grid(spec)})
    except ee.EEException as err:
        raise NoValidDataError(f"Earth Engine could not compute the {spec.name} window: "
                               f"{err}") from err
    return structured_to_stack(arr, names)


def _region(spec: SceneSpec) -> Any:
    ee = _require_initialized()
    return ee.Geometry.Rectangle(list(spec.bbox_lonlat()), "EPSG:4326", False)


def _days(spec: SceneSpec, start: date, end: date) -> dict[date, tuple[list[str], float]]:
    """Solar days with images over the scene: day -> (image ids, mean cloudy-pixel %)."""
    ee = _require_initialized()
    col = (ee.ImageCollection(COLLECTION).filterBounds(_region(spec))
           .filterDate(start.isoformat(), (end + timedelta(days=1)).isoformat()))
    rows = col.reduceColumns(ee.Reducer.toList(3), [
        "system:time_start", "CLOUDY_PIXEL_PERCENTAGE", "system:index"]).get("list").getInfo()
    lon = float(np.mean(spec.bbox_lonlat()[::2]))
    days: dict[date, tuple[list[str], list[float]]] = {}
    for ms, cloud, idx in rows:
        when = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
        ids, clouds = days.setdefault(_grid.solar_day(when, lon), ([], []))
        ids.append(idx)
        clouds.append(float(cloud))
    return {d: (ids, float(np.mean(c))) for d, (ids, c) in days.items()}


def _day_image(spec: SceneSpec, ids: Sequence[str], bands: Sequence[str]) -> tuple[Any, str]:
    """One day's images (mosaicked if several) and its processing baseline."""
    ee = _require_initialized()
    images = [ee.Image(f"{COLLECTION}/{i}") for i in ids]
    baseline = images[0].get("PROCESSING_BASELINE").getInfo()
    if len(images) == 1:
        image = images[0]
    else:  # a mosaic forgets the native projection: give it back before resampling
        proj = images[0].select(ee_band(bands[0])).projection()
        image = ee.ImageCollection(images).mosaic().setDefaultProjection(proj)
    refl = image.select([ee_band(b) for b in bands]).resample("bilinear")
    return refl.addBands(image.select("SCL")), (str(baseline) if baseline else None)


def load_date(spec: SceneSpec, bands: Sequence[str], target: date, *, search_days: int,
              max_cloud: float, max_candidates: int, scl_mask: Collection[int] | None = None
              ) -> tuple[np.ndarray, np.ndarray, Acquisition]:
    """Reflectance (band, y, x), clear mask and provenance of the date nearest ``target``."""
    from s2slide.data import harmonize

    days = _days(spec, target - timedelta(days=search_days), target + timedelta(days=search_days))
    if not days:
        wide = _days(spec, target - timedelta(days=_grid.NEAREST_SEARCH_DAYS),
                     target + timedelta(days=_grid.NEAREST_SEARCH_DAYS))
        raise _grid.no_scene_error(where=spec.name, target=target, search_days=search_days,
                                   how=COLLECTION, nearby=[(d, c) for d, (_, c) in wide.items()])
    names = [ee_band(b) for b in bands] + ["SCL"]

    def read(day: date) -> tuple[np.ndarray, tuple[np.ndarray, str | None]]:
        image, baseline = _day_image(spec, days[day][0], bands)
        stack = _pixels(image, spec, names)
        return stack[-1], (stack[:-1], baseline)

    day, scl, (dn, baseline), frac = _grid.choose_day(
        days, target, cloud_of=lambda d: days[d][1], read=read, max_cloud=max_cloud,
        max_candidates=max_candidates, where=spec.name)
    acq = Acquisition(date=day.isoformat(), baseline=baseline, offset=0,
                      offset_note=f"{COLLECTION} is already harmonised (DN / 10000)",
                      ids=[f"{COLLECTION}/{i}" for i in days[day][0]], cloud_fraction=frac)
    refl = harmonize.dn_to_reflectance(dn, offset=0, nodata=0)
    return refl, _grid.valid_from_scl(scl, scl_mask=scl_mask), acq


def load_dem(spec: SceneSpec) -> tuple[np.ndarray, dict[str, Any]]:
    """Copernicus DEM GLO-30 from Earth Engine, bilinear, on the scene grid (m, float32)."""
    ee = _require_initialized()
    col = ee.ImageCollection(DEM_COLLECTION).filterBounds(_region(spec)).select("DEM")
    proj = col.first().projection()
    dem = col.mosaic().setDefaultProjection(proj).resample("bilinear")
    arr = ee.data.computePixels({"expression": dem, "fileFormat": "NUMPY_NDARRAY",
                                 "grid": pixel_grid(spec)})
    return (structured_to_stack(arr, ["DEM"])[0].astype(np.float32),
            {"collection": DEM_COLLECTION, "resampling": "bilinear",
             "attribution": _grid.DEM_ATTRIBUTION})


def load_gee(name: str | SceneSpec, *, bands: Sequence[str] | None = None,
             pre_date: str | None = None, post_date: str | None = None, max_cloud: float = 0.2,
             search_days: int = 10, max_candidates: int = 4, project: str | None = None,
             scl_mask: Collection[int] | None = None) -> Any:
    """Load a live scene from Earth Engine in the :mod:`s2slide.data` contract.

    Parameters
    ----------
    name, bands, pre_date, post_date, max_cloud, search_days
        As :func:`s2slide.data.live.load_live`.
    max_candidates : int
        Dates whose window is computed before CloudCoverError.
    project : str, optional
        Cloud project (default ``EE_PROJECT`` or a prompt).
    scl_mask : collection of int, optional
        SCL classes that make a pixel not ``valid``; default
        :data:`s2slide.data.bands.SCL_INVALID` (see there why dark area / shadow, 2, is kept).

    Examples
    --------
    >>> ds = load_gee("barhabise", project="my-ee-project")   # doctest: +SKIP
    """
    spec, bands, pre_day, post_day = _grid.resolve_request(name, bands, pre_date, post_date, max_cloud)
    project = initialize(project)
    opts = dict(search_days=search_days, max_cloud=max_cloud, max_candidates=max_candidates,
                scl_mask=s2bands.scl_classes(scl_mask))
    pre, valid_pre, pre_acq = load_date(spec, bands, pre_day, **opts)
    post, valid_post, post_acq = load_date(spec, bands, post_day, **opts)
    dem, dem_prov = load_dem(spec)
    prov = {"route": "gee", "catalog": f"Google Earth Engine {COLLECTION}", "project": project,
            "reader": "ee.data.computePixels on the scene grid (bilinear)",
            "harmonisation": "none needed: the collection is harmonised", "dem": dem_prov,
            "scl_mask": sorted(opts["scl_mask"])}
    return _grid.assemble(spec, bands=bands, pre=pre, post=post, valid=valid_pre & valid_post,
                          dem=dem, pre_acq=pre_acq, post_acq=post_acq,
                          label_source="Earth Engine", provenance=prov)


def interactive_map(name: str | SceneSpec, *, date: str | None = None, zoom: int = 12) -> Any:
    """A geemap map of the scene window, with the true-colour image nearest ``date``.

    Earth Engine must be initialised first (:func:`initialize`); the map is created with
    ``geemap.Map(ee_initialize=False)`` so that geemap never asks for credentials.

    Returns
    -------
    geemap.Map
        Display it as the last expression of a cell.
    """
    ee = _require_initialized()
    import geemap

    spec = _grid.resolve_scene(name)
    region = _region(spec)
    m = geemap.Map(ee_initialize=False)
    if date is not None:
        day = _grid.parse_day(date, date, "date")
        image = (ee.ImageCollection(COLLECTION).filterBounds(region)
                 .filterDate((day - timedelta(days=5)).isoformat(),
                             (day + timedelta(days=6)).isoformat())
                 .sort("CLOUDY_PIXEL_PERCENTAGE").first())
        m.addLayer(image, {"bands": ["B4", "B3", "B2"], "min": 0, "max": 3000},
                   f"Sentinel-2 L2A near {day} (true colour)")
    outline = ee.FeatureCollection([ee.Feature(region)]).style(color="yellow",
                                                               fillColor="00000000")
    m.addLayer(outline, {}, f"{spec.name} window")
    m.centerObject(region, zoom)
    return m
