"""One call for every chapter's data: :func:`load_scene` (chapter 1).

CONTRACT (every chapter relies on it; tests hold each tier to it)
-----------------------------------------------------------------
``load_scene(name, source="auto", **options) -> xarray.Dataset``, georeferenced with rioxarray
(``ds.rio.crs``, ``ds.rio.transform()``), with

- ``pre``, ``post``: float32, dims ``(band, y, x)``, surface reflectance 0-1 *after*
  processing-baseline harmonisation, NaN where nodata; coordinate ``band`` holds Sentinel-2
  names (``"B02"``, ``"B8A"``, ...; see :mod:`s2slide.data.bands`).
- ``dem`` (m, float32, ``(y, x)``), ``slope`` (degrees, float32), ``valid`` (bool: clear,
  non-nodata on both dates), and where known ``truth`` (uint8 0/1: new landslides).
- ``attrs``: ``source`` ("live" / "mirror" / "simulated"), ``scene``, ``label`` (a short
  human title naming the source, e.g. "Luding, simulated (s2slide.data.simulate, seed 0)"),
  ``pre_date``, ``post_date`` (ISO), ``pre_baseline``, ``post_baseline`` (e.g. "03.01"),
  ``resolution_m``, ``provenance`` (a JSON string: where every array came from, licences,
  attribution). Simulated scenes add ``seed`` and ``misregistration_px`` ([dx, dy] of the
  post image relative to the pre image, in pixels).

Scenes: ``luding`` (20 m, bands B02 B03 B04 B8A B11 live; all 12 L2A bands simulated),
``barhabise`` (10 m). The mirror adds ``iburi`` (real pixels, see :func:`load_iburi`).

Tiers of ``source="auto"``: *live* when :func:`s2slide.data.live.reachable` answers yes (never when
``S2SLIDE_OFFLINE`` or ``CI`` is set), else the *mirror* when it holds the scene, else
*simulated*. Live and simulated scenes are cached on disk (``<S2SLIDE_CACHE>/scenes``) as a
GeoTIFF with a JSON sidecar (attributes, provenance) and a SHA-256 sidecar.

Mirror loaders (real files of the registry, :mod:`s2slide.data.registry`), used by chapters 2-4:
:func:`load_iburi`, :func:`load_kaikoura`, :func:`load_kaikoura_points`, :func:`points_in`,
:func:`load_inventory`, :func:`rasterize_inventory`, :func:`with_inventory_truth` (a real
inventory as the truth of a live scene), :func:`scene_truth` (whatever truth a scene can have).
"""

from s2slide.data.mirror import (INVENTORIES, KAIKOURA_CHANGE_BANDS, load_iburi, load_inventory,
                                 load_kaikoura, load_kaikoura_points, points_in,
                                 rasterize_inventory, scene_truth, with_inventory_truth)
from s2slide.data.scene import SOURCES, describe_bands, live_status, load_scene, rgb, scene_names

__all__ = ["SOURCES", "INVENTORIES", "KAIKOURA_CHANGE_BANDS", "load_scene", "scene_names",
           "load_iburi", "load_kaikoura", "load_kaikoura_points", "points_in", "load_inventory",
           "rasterize_inventory", "with_inventory_truth", "scene_truth", "describe_bands",
           "live_status", "rgb"]
