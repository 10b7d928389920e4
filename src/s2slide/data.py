"""One call for every chapter's data: :func:`load_scene` (chapter 1).

CONTRACT (every chapter relies on it; tests hold each tier to it)
-----------------------------------------------------------------
``load_scene(name, source="auto", **options) -> xarray.Dataset``, georeferenced with rioxarray
(``ds.rio.crs``, ``ds.rio.transform()``), with

- ``pre``, ``post``: float32, dims ``(band, y, x)``, surface reflectance 0-1 *after*
  processing-baseline harmonisation, NaN where nodata; coordinate ``band`` holds Sentinel-2
  names (``"B02"``, ``"B8A"``, ...; see :mod:`s2slide.bands`).
- ``dem`` (m, float32, ``(y, x)``), ``slope`` (degrees, float32), ``valid`` (bool: clear,
  non-nodata on both dates), and where known ``truth`` (uint8 0/1: new landslides).
- ``attrs``: ``source`` ("live" / "mirror" / "simulated"), ``scene``, ``label`` (a short
  human title naming the source, e.g. "Luding, simulated (s2slide.simulate, seed 0)"),
  ``pre_date``, ``post_date`` (ISO), ``pre_baseline``, ``post_baseline`` (e.g. "03.01"),
  ``resolution_m``, ``provenance`` (a JSON string: where every array came from, licences,
  attribution). Simulated scenes add ``seed`` and ``misregistration_px`` ([dx, dy] of the
  post image relative to the pre image, in pixels).

Scenes: ``luding`` (20 m, bands B02 B03 B04 B8A B11 live; all 12 L2A bands simulated),
``barhabise`` (10 m).
"""
