"""Replay the recorded responses of the real catalogues on loopback servers (tests only).

The recordings in ``tests/fixtures/recorded`` (see its NOTICE) are served as they are, with only the
scheme and host of every address rewritten to a :class:`loopback.LoopbackServer`. What they do not
hold (items over the Luding window, image files, a DEM item, L2A OData records) is built here from
them or from the documented formats, and each builder says so.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import numpy as np
import rasterio
from rasterio.transform import from_origin  # noqa: F401  (re-exported for tests)
from rasterio.windows import Window

from loopback import LoopbackServer, Request

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "recorded"
EARTH_SEARCH = "https://earth-search.aws.element84.com"
ES_COGS = "https://sentinel-cogs.s3.us-west-2.amazonaws.com"
PLANETARY = "https://planetarycomputer.microsoft.com"
PC_BLOB = "https://sentinel2l2a01.blob.core.windows.net"
CDSE_HOSTS = ("https://catalogue.dataspace.copernicus.eu", "https://identity.dataspace.copernicus.eu",
              "https://download.dataspace.copernicus.eu")


def recorded(relpath: str) -> Any:
    """A recorded JSON response (parsed) from ``tests/fixtures/recorded``."""
    return json.loads((FIXTURES / relpath).read_text())


def rewrite(obj: Any, hosts: dict[str, str]) -> Any:
    """``obj`` with every string starting with one of ``hosts``' keys moved to its value."""
    if isinstance(obj, dict):
        return {k: rewrite(v, hosts) for k, v in obj.items()}
    if isinstance(obj, list):
        return [rewrite(v, hosts) for v in obj]
    if isinstance(obj, str):
        for old, new in hosts.items():
            if obj.startswith(old):
                return new + obj[len(old):]
    return obj


# ----------------------------------------------------------------------------- a STAC API
def search_handler(features: list[dict]) -> Callable[[Request], tuple]:
    """/search as a STAC API answers it: filtered on collections, bbox and datetime."""
    def handle(req: Request) -> tuple:
        if req.method == "POST":
            q = req.json()
        else:
            q = {k: v[0] for k, v in req.query.items()}
            for key in ("collections", "bbox"):
                if key in q:
                    q[key] = q[key].split(",")
        cols = set(q.get("collections") or [])
        bbox = [float(v) for v in q.get("bbox") or [-180, -90, 180, 90]]
        start = end = None
        if q.get("datetime"):
            a, b = q["datetime"].split("/")
            start, end = (datetime.fromisoformat(t.replace("Z", "+00:00")) for t in (a, b))
        hits = []
        for f in features:
            fb = f["bbox"]
            when = datetime.fromisoformat(f["properties"]["datetime"].replace("Z", "+00:00"))
            if cols and f["collection"] not in cols:
                continue
            if fb[0] > bbox[2] or fb[2] < bbox[0] or fb[1] > bbox[3] or fb[3] < bbox[1]:
                continue
            if start is not None and not start <= when <= end:
                continue
            hits.append(f)
        return 200, {"type": "FeatureCollection", "features": hits, "links": []}
    return handle


def serve_stac_api(srv: LoopbackServer, *, landing: dict, features: list[dict],
                   collections: list[dict] = ()) -> str:
    """Serve a recorded (host-rewritten) landing page, its conformance, collections and /search.

    Returns the API root (the landing page's ``self`` address).
    """
    root = next(link["href"] for link in landing["links"] if link["rel"] == "self")
    path = root.replace(srv.url(), "", 1).rstrip("/")
    srv.add_handler("GET", path or "/", lambda r: (200, landing))
    if path:
        srv.add_handler("GET", path + "/", lambda r: (200, landing))
    srv.add_handler("GET", path + "/conformance",
                    lambda r: (200, {"conformsTo": landing["conformsTo"]}))
    srv.add_handler("GET", path + "/collections",
                    lambda r: (200, {"collections": list(collections), "links": []}))
    for col in collections:
        srv.add_handler("GET", f"{path}/collections/{col['id']}", lambda r, c=col: (200, c))
    handler = search_handler(features)
    srv.add_handler("GET", path + "/search", handler)
    srv.add_handler("POST", path + "/search", handler)
    return root


# ----------------------------------------------------------------------------- image files
def write_tif(path: Path, arr: np.ndarray, transform: Any, crs: str, nodata: float | None, *,
              full_shape: tuple[int, int] | None = None, row: int = 0, col: int = 0,
              blocksize: int = 256) -> bytes:
    """A GeoTIFF: a COG of ``arr`` (tiles of ``blocksize``; overviews down to one tile), or
    (``full_shape``) a sparse tiled file on a whole tile's grid holding ``arr`` at (``row``,
    ``col``) and nothing elsewhere (reads as nodata), so that a file matches a real item's
    ``proj:shape`` without being 10980 x 10980 pixels on disk."""
    if full_shape is None:
        profile = dict(driver="COG", width=arr.shape[1], height=arr.shape[0], count=1,
                       dtype=arr.dtype, crs=crs, transform=transform, nodata=nodata,
                       blocksize=blocksize, overview_resampling="nearest")
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(arr, 1)
        return path.read_bytes()
    profile = dict(driver="GTiff", width=full_shape[1], height=full_shape[0], count=1,
                   dtype=arr.dtype, crs=crs, transform=transform, nodata=nodata, tiled=True,
                   blockxsize=256, blockysize=256, sparse_ok=True, compress="deflate")
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(arr, 1, window=Window(col, row, arr.shape[1], arr.shape[0]))
    return path.read_bytes()


def dem_item(srv: LoopbackServer, tmp: Path, bbox: tuple[float, float, float, float], *,
             href_path: str = "/dem/dem.tif", collection: str = "cop-dem-glo-30",
             asset: str = "data") -> dict:
    """A generated Copernicus-DEM-like item (no DEM response was recorded): a plane rising
    0.5 m per metre northwards (26.57 degrees) in EPSG:4326 at 1 arcsecond over ``bbox``."""
    w, s, e, n = bbox
    south = s
    res = 1 / 3600
    w, s, e, n = w - 0.02, s - 0.02, e + 0.02, n + 0.02
    h, wd = int((n - s) / res), int((e - w) / res)
    lat = n - res * (np.arange(h) + 0.5)
    z = (1000.0 + 0.5 * (lat - south) * 110_850.0)[:, None] * np.ones((1, wd))
    tf = from_origin(w, n, res, res)
    href = srv.add_bytes(href_path, write_tif(tmp / "dem.tif", z.astype(np.float32), tf,
                                              "EPSG:4326", None))
    ring = [[w, s], [e, s], [e, n], [w, n], [w, s]]
    return {"type": "Feature", "stac_version": "1.0.0", "id": "generated-dem",
            "collection": collection,
            "stac_extensions": ["https://stac-extensions.github.io/projection/v1.1.0/schema.json"],
            "geometry": {"type": "Polygon", "coordinates": [ring]}, "bbox": [w, s, e, n],
            "properties": {"datetime": "2021-04-22T00:00:00Z", "proj:epsg": 4326},
            "assets": {asset: {"href": href, "type": "image/tiff; application=geotiff; "
                               "profile=cloud-optimized", "roles": ["data"],
                               "proj:shape": [h, wd], "proj:transform": list(tf)[:6]}},
            "links": []}


def item_from_template(template: dict, *, item_id: str, when: str, epsg: int,
                       bbox: tuple[float, float, float, float], assets: dict[str, dict],
                       properties: dict[str, Any]) -> dict:
    """A STAC item built from a recorded real one: same structure and fields, with the id,
    footprint, grid, date and the given assets and properties replaced (the recordings hold no
    item over the test's window)."""
    item = copy.deepcopy(template)
    w, s, e, n = bbox
    item["id"] = item_id
    item["bbox"] = [w, s, e, n]
    item["geometry"] = {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
    item["properties"].update({"datetime": when, "proj:epsg": epsg}, **properties)
    for key, value in properties.items():
        if value is None:
            item["properties"].pop(key, None)
    item["assets"] = {k: {**copy.deepcopy(template["assets"].get(k, {})), **v}
                      for k, v in assets.items()}
    item["links"] = []
    return item
