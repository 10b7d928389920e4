"""load_scene (tiers, cache, errors) and the mirror loaders, held to the data contract."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from s2slide import config, data
from s2slide.errors import (InvalidInputError, MissingBandError, NetworkUnavailableError,
                            SceneNotFoundError)

SMALL = {"shape": (40, 50)}


def _check_contract(ds, *, source: str):
    for when in ("pre", "post"):
        assert ds[when].dtype == np.float32 and ds[when].dims == ("band", "y", "x")
        finite = ds[when].values[np.isfinite(ds[when].values)]
        assert finite.size and 0.0 <= finite.min() and finite.max() <= 1.5
    assert ds["valid"].dtype == bool and ds["valid"].dims == ("y", "x")
    assert ds["slope"].dtype == np.float32 and ds["dem"].dtype == np.float32
    assert ds.rio.crs is not None and ds.attrs["source"] == source
    for key in ("scene", "label", "pre_date", "post_date", "pre_baseline", "post_baseline",
                "resolution_m", "provenance"):
        assert key in ds.attrs, key
    assert source in ds.attrs["label"] or source == "mirror"
    json.loads(ds.attrs["provenance"])


def test_auto_chooses_simulated_offline_and_says_so_in_one_line(capsys):
    ds = data.load_scene("luding", **SMALL)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    assert "simulated" in out[0] and "S2SLIDE_OFFLINE" in out[0] and "mirror has no" in out[0]
    _check_contract(ds, source="simulated")
    assert ds["truth"].dtype == np.uint8 and ds.sizes["y"] == 40 and ds.sizes["x"] == 50
    assert list(ds.attrs["misregistration_px"]) == [0.6, -0.4]


def test_full_luding_grid_matches_seed_000(capsys):
    ds = data.load_scene("luding", quiet=True)
    assert (ds.sizes["band"], ds.sizes["y"], ds.sizes["x"]) == (12, 300, 350)
    assert capsys.readouterr().out == ""


def test_cache_round_trip_is_faster_and_identical(capsys):
    t0 = time.perf_counter()
    first = data.load_scene("barhabise", seed=3, **SMALL)
    t1 = time.perf_counter()
    second = data.load_scene("barhabise", seed=3, **SMALL)
    t2 = time.perf_counter()
    assert "from the disk cache" in capsys.readouterr().out.splitlines()[-1]
    assert t2 - t1 < t1 - t0
    for var in first.data_vars:
        assert second[var].dtype == first[var].dtype
        np.testing.assert_array_equal(second[var].values, first[var].values)
    assert second.attrs == first.attrs
    assert second.rio.transform() == first.rio.transform() and second.rio.crs == first.rio.crs


def test_tampered_cache_is_rebuilt(capsys):
    data.load_scene("luding", seed=1, **SMALL)
    tif = next((config.cache_dir() / "scenes").glob("luding-simulated-*.tif"))
    with open(tif, "r+b") as fh:
        fh.seek(-8, 2)
        fh.write(b"\x00garbage")
    with pytest.warns(UserWarning, match="SHA-256"):
        ds = data.load_scene("luding", seed=1, **SMALL)
    assert "loaded in" in capsys.readouterr().out.splitlines()[-1]
    assert np.isfinite(ds["pre"].values).any()


def test_refresh_ignores_the_cache(capsys):
    data.load_scene("luding", seed=2, **SMALL)
    data.load_scene("luding", seed=2, refresh=True, **SMALL)
    assert "loaded in" in capsys.readouterr().out.splitlines()[-1]


def test_bands_selects_and_rejects_unknown():
    ds = data.load_scene("luding", bands=["B04", "B8A"], quiet=True, **SMALL)
    assert list(ds["band"].values) == ["B04", "B8A"]
    with pytest.raises(MissingBandError, match="B13"):
        data.load_scene("luding", bands=["B13"], quiet=True, **SMALL)


def test_bad_requests_raise_clear_errors():
    with pytest.raises(SceneNotFoundError, match="luding"):
        data.load_scene("atlantis")
    with pytest.raises(InvalidInputError, match="simulated"):
        data.load_scene("luding", source="satellite")
    with pytest.raises(NetworkUnavailableError, match="mirror.*simulated"):
        data.load_scene("luding", source="live")
    with pytest.raises(SceneNotFoundError, match="simulated"):
        data.load_scene("luding", source="mirror")
    with pytest.raises(InvalidInputError, match="option"):
        data.load_scene("luding", source="simulated", colour="red", quiet=True)


def test_iburi_contract_from_the_mirror(mirror):
    ds = data.load_iburi()
    assert list(ds["band"].values) == ["B02", "B03", "B04"]
    assert ds["pre"].shape == (3, 970, 1533) and ds["pre"].dtype == np.float32
    assert ds.rio.crs.to_epsg() == 4326 and "truth" not in ds
    assert 0.3 < np.isnan(ds["pre"].values[0]).mean() < 0.5  # swath edge
    assert not np.isnan(ds["post"].values).any()
    assert np.nanmax(ds["post"].values) < 1.0 and np.nanmin(ds["post"].values) > 0
    dsm = ds["dsm"].values
    assert ds["dsm"].shape == (970, 1533) and 0 < np.nanmin(dsm) and np.nanmax(dsm) < 300
    assert 0 <= np.nanmin(ds["slope"].values) and np.nanmax(ds["slope"].values) < 60
    assert ds["valid"].values.mean() == pytest.approx(np.isfinite(ds["pre"].values[0]).mean(), abs=0.01)
    assert "Copernicus Sentinel data 2018" in ds.attrs["attribution"]
    assert ds.attrs["label"] == "Iburi 2018, real Sentinel-2 (mirror)"


def test_iburi_through_load_scene_auto(capsys, mirror):
    ds = data.load_scene("iburi")
    assert "mirror" in capsys.readouterr().out
    _check_contract(ds, source="mirror")


@pytest.mark.parametrize(("n", "pixels", "polygons"), [(69, 134, 6), (70, 20, 9)])
def test_kaikoura_change_and_truth(mirror, n, pixels, polygons):
    ds = data.load_kaikoura(n)
    assert list(ds["band"].values) == list(data.KAIKOURA_CHANGE_BANDS)
    assert ds["change"].dtype == np.float32 and ds.rio.crs.to_epsg() == 32759
    assert ds["truth"].dtype == np.uint8 and int(ds["truth"].sum()) == pixels
    assert ds.attrs["n_label_polygons"] == polygons
    nan_frac = np.isnan(ds["change"].values).any(0).mean()
    assert (nan_frac == 0) if n == 69 else (0.04 < nan_frac < 0.08)
    assert ds["valid"].values.mean() == pytest.approx(1 - nan_frac)


@pytest.mark.parametrize("n", [69, 70])
def test_kaikoura_change_is_post_minus_pre_on_the_real_landslides(mirror, n):
    """The sign, checked on the real files against the independent GNS landslide points.

    The source's script writes NDVI and brightness change as pre minus post; read as post
    minus pre (the old loader), the pixels under the GNS points *gained* NDVI more often than
    the tile (tile 69: 23 % of points below -0.2 against 42 % of the tile) and the labelled
    scars got darker. Corrected, the points lose more than 0.2 NDVI far more often than the
    tile (69: 24 % against 6 %) and the labelled scars get brighter and redder.
    """
    ds = data.load_kaikoura(n)
    change, valid = ds["change"], ds["valid"].values
    pts = data.points_in(ds)
    at = valid[pts["row"].values, pts["col"].values]
    rows, cols = pts["row"].values[at], pts["col"].values[at]
    dndvi = change.sel(band="ndvi_change").values
    assert at.sum() > 150
    assert (dndvi[rows, cols] < -0.2).mean() > 3 * (dndvi[valid] < -0.2).mean()
    assert np.median(dndvi[rows, cols]) < np.median(dndvi[valid])
    scars = ds["truth"].values.astype(bool) & valid
    for band in ("brightness_change", "red_green_ratio_change"):
        values = change.sel(band=band).values
        assert np.median(values[scars]) > max(np.median(values[valid]), 0.0), band
    assert ds["band"].attrs["formula"][1].startswith("NDVI(pre) - NDVI(post)")
    assert "pre_processing_thesis_mh.js" in json.loads(ds.attrs["provenance"])["formula_source"]


def test_kaikoura_rejects_other_tiles():
    with pytest.raises(InvalidInputError, match="69 or 70"):
        data.load_kaikoura(71)


def test_kaikoura_points_and_clip(mirror):
    pts = data.load_kaikoura_points()
    assert len(pts) == 7355 and pts.crs.to_epsg() == 4326 and not pts.has_z.any()
    counts = [len(data.points_in(data.load_kaikoura(n), pts)) for n in (69, 70)]
    assert counts == [189, 216]  # shared/data/README.md


def test_inventories(mirror):
    wen = data.load_inventory("wenchuan-2009")
    assert len(wen) == 10335 and wen.crs.to_epsg() == 32648
    assert wen.area.sum() / 1e6 == pytest.approx(88, abs=1)
    mes = data.load_inventory("mesetas-2019")
    assert len(mes) == 838 and mes.crs.to_epsg() == 4326
    ras = data.load_inventory("rasuwa-2015")
    assert 12 <= len(ras) <= 98 and ras.crs.to_epsg() == 32645
    assert "MIT" in ras.attrs["licence"]
    with pytest.raises(SceneNotFoundError, match="rasuwa-2013"):
        data.load_inventory("rasuwa-2030")


def test_rasterize_inventory_on_a_grid(mirror):
    import geopandas as gpd
    from shapely.geometry import box

    ds = data.load_kaikoura(69)
    left, bottom, _, top = ds.rio.bounds()
    square = gpd.GeoDataFrame(geometry=[box(left, top - 100, left + 100, top)], crs=ds.rio.crs)
    mask = data.rasterize_inventory(square, like=ds)
    assert mask.dtype == np.uint8 and int(mask.sum()) == 100 and mask.values[:10, :10].all()
    with pytest.raises(InvalidInputError, match="CRS"):
        data.rasterize_inventory(gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1)]), like=ds)


def test_describe_bands():
    ds = data.load_scene("luding", quiet=True, **SMALL)
    stats = data.describe_bands(ds)
    assert len(stats) == 24 and (stats["valid_fraction"] <= 1).all()
    assert (stats["p02"] <= stats["p50"]).all() and (stats["p50"] <= stats["p98"]).all()


def test_live_route_is_probed_once_per_load(monkeypatch, online):
    """auto and live ask live.reachable once; live still refuses an unreachable route."""
    from s2slide.data import live, simulate

    probes = []

    def fake_reachable(route, **kw):
        probes.append(route)
        return route == "stac"

    monkeypatch.setattr(live, "reachable", fake_reachable)
    monkeypatch.setattr(live, "load_live", lambda name, *, route, **options:
                        simulate.scene(name, seed=0, shape=(40, 50)).assign_attrs(source="live"))
    for source in ("auto", "live"):
        probes.clear()
        data.load_scene("luding", source=source, refresh=True, quiet=True)
        assert probes == ["stac"], source
    probes.clear()
    with pytest.raises(NetworkUnavailableError, match=r"source='live' for 'luding' is not "
                       r"possible \(live route 'cdse' did not answer.*source='simulated'"):
        data.load_scene("luding", source="live", route="cdse", quiet=True)
    assert probes == ["cdse"]


def test_auto_prefers_live_when_reachable_and_caches_it(monkeypatch, capsys, online):
    """The live tier is faked (no network): auto picks it, passes bands on, caches the result."""
    from s2slide.data import live, simulate

    calls = []

    def fake_load_live(name, *, route, **options):
        calls.append((name, route, options))
        ds = simulate.scene(name, seed=0, shape=(40, 50)).sel(band=options["bands"])
        return ds.assign_attrs(source="live", label="Luding, live (fake)")

    monkeypatch.setattr(live, "reachable", lambda route, **kw: route == "stac")
    monkeypatch.setattr(live, "load_live", fake_load_live)
    first = data.load_scene("luding", bands=["B04", "B8A"])
    assert "live (live route 'stac' is reachable)" in capsys.readouterr().out
    second = data.load_scene("luding", bands=["B04", "B8A"])
    assert "from the disk cache" in capsys.readouterr().out
    assert len(calls) == 1 and calls[0][2]["bands"] == ["B04", "B8A"]
    assert second.attrs["source"] == "live" and second.attrs["provenance"] == first.attrs["provenance"]
    np.testing.assert_array_equal(second["post"].values, first["post"].values)
    data.load_scene("luding", route="cdse", quiet=True)  # not reachable: falls back
    assert len(calls) == 1


def test_load_scene_passes_scl_mask_to_the_simulated_tier():
    """The SCL choice is a parameter of load_scene: masking shadow (SCL 2) leaves fewer valid pixels."""
    from s2slide.data import bands

    default = data.load_scene("luding", source="simulated", quiet=True)
    strict = data.load_scene("luding", source="simulated", quiet=True,
                             scl_mask={*bands.SCL_INVALID, *bands.SCL_SHADOW})
    assert default["valid"].values.all() and 0.5 < strict["valid"].values.mean() < 0.97
    assert json.loads(strict.attrs["provenance"])["parameters"]["scl_mask"] == [0, 1, 2, 3, 8, 9, 10, 11]
    with pytest.raises(InvalidInputError, match="SCL codes"):
        data.load_scene("luding", source="simulated", quiet=True, scl_mask="shadow")
