"""The simulated Barhabise target differs from the Luding-landscape source as seed 001 says the
real one does (terraced fields on landslide slopes, bare and stubble parcels, valley haze, darker
rock, a low November sun, broadleaf forest), and each difference can be undone on its own."""

from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np
import pytest

from s2slide.data import simulate
from s2slide.errors import InvalidInputError

SHAPE = (192, 192)


@functools.lru_cache(maxsize=8)
def _scene(*undone: str):
    """The target (nothing undone), or the same valley with some differences undone."""
    preset = simulate.preset_without("barhabise", *undone) if undone else "barhabise"
    return simulate.scene(preset, seed=2, shape=SHAPE, extras=True)


def _band(ds, band, when="post"):
    return ds[when].sel(band=band).values


def _ndvi(ds, when="post"):
    nir, red = _band(ds, "B08", when), _band(ds, "B04", when)
    return (nir - red) / np.maximum(nir + red, 1e-6)


def _fields(ds):
    return ds.landcover.values == simulate.CLASSES["fields"]


def test_terraces_climb_landslide_slopes():
    target, flat = _scene(), _scene("terraced fields")
    slope = target.slope.values
    steep = [np.percentile(slope[_fields(ds)], 90) for ds in (target, flat)]
    assert steep[0] > 30 and steep[0] > steep[1] + 4          # terraces to ~35, fields ~26 deg
    assert _fields(target).sum() > _fields(flat).sum()
    assert np.median(slope[target.truth.values == 1]) > 25    # landslides on the same slopes


def test_bare_and_stubble_parcels_look_like_scars():
    """In November many terraced parcels are bare or in stubble, with a scar-like NDVI, and
    each parcel is one patch of one state, not pixel noise."""
    target, flat = _scene(), _scene("terraced fields")
    scar = np.median(_ndvi(target)[target.truth.values == 1])
    low = _fields(target) & (_ndvi(target) < scar + 0.15)
    share = low.sum() / _fields(target).sum()
    assert 0.2 < share < 0.8                          # field_states_post: 30 % bare, 40 % stubble
    flat_low = _fields(flat) & (_ndvi(flat) < scar + 0.15)
    assert flat_low.sum() / _fields(flat).sum() < 0.5 * share
    both = _fields(target)[:, 1:] & _fields(target)[:, :-1]
    assert (low[:, 1:] == low[:, :-1])[both].mean() > 0.75    # neighbours mostly agree


def test_haze_is_blue_and_thicker_in_the_valley():
    """Residual haze adds reflectance, blue-heavy, most on the valley floor (e-folding 1,500 m).

    Between scenes that differ only in haze, the difference is the haze field times its
    spectral weights (the other steps are the same draws), so band ratios and the height
    profile can be checked without knowing the field.
    """
    target, clear = _scene(), _scene("haze")
    uniform = simulate.scene(replace(simulate.PRESETS["barhabise"], haze_height_m=None),
                             seed=2, shape=SHAPE)
    added = {b: _band(target, b) - _band(clear, b) for b in ("B01", "B02", "B04", "B12")}
    hazy = added["B01"] > 0.005
    assert hazy.mean() > 0.5
    assert np.median(added["B02"][hazy] / added["B01"][hazy]) == pytest.approx(0.85, abs=0.05)
    assert np.median(added["B04"][hazy] / added["B01"][hazy]) == pytest.approx(0.42, abs=0.05)
    assert np.abs(added["B12"]).mean() < 0.05 * np.abs(added["B01"]).mean()
    # against the same haze without the height profile: thinner the higher the ground
    thinning = (_band(target, "B01") - _band(uniform, "B01"))[hazy] / added["B01"][hazy]
    height = target.dem.values[hazy]
    low, high = height < np.percentile(height, 20), height > np.percentile(height, 80)
    assert np.median(thinning[high]) < np.median(thinning[low]) - 0.2


def test_november_sun_casts_longer_shadows():
    target, summer = _scene(), _scene("November sun")
    zenith = simulate.sun_position(target.attrs["post_date"], lat_deg=27.79)[0]
    assert zenith > 45                                        # low November sun at 27.8 N
    dark = [(_band(ds, "B08") < 0.08).mean() for ds in (target, summer)]
    assert dark[0] > 2 * dark[1]


def test_schist_makes_fresh_scars_darker():
    target, granite = _scene(), _scene("schist and sandstone")
    truth = target.truth.values == 1
    ratio = np.median(_band(target, "B04")[truth]) / np.median(_band(granite, "B04")[truth])
    assert 0.8 < ratio < 0.9                                  # substrate_brightness 0.85


def test_broadleaf_forest_is_brighter_in_nir():
    target, conifer = _scene(), _scene("broadleaf forest")
    forest = target.landcover.values == simulate.CLASSES["forest"]
    assert np.median(_band(target, "B08")[forest]) > np.median(_band(conifer, "B08")[forest])


def test_each_difference_can_be_undone_alone():
    base = simulate.PRESETS["barhabise"]
    assert base.terraces and base.forest == "broadleaf" and base.haze_post > 0.02
    no_haze = simulate.preset_without("barhabise", "haze")
    assert no_haze.haze_post == 0.02 and no_haze.terraces and no_haze.name == "barhabise"
    plain = simulate.preset_without("barhabise")
    assert not plain.terraces and plain.forest == "forest" and plain.substrate_brightness == 1.0
    assert plain.sun_deg == ((32.5, 117.5), (32.5, 117.5))
    with pytest.raises(InvalidInputError, match="terraced fields"):
        simulate.preset_without("barhabise", "monsoon")


def test_the_same_valley_and_landslides_with_or_without_the_differences():
    target, plain = _scene(), _scene(*simulate.TARGET_DIFFERENCES)
    np.testing.assert_array_equal(target.dem.values, plain.dem.values)
    np.testing.assert_array_equal(target.truth.values, plain.truth.values)
    assert target.attrs["source"] == plain.attrs["source"] == "simulated"


def test_luding_is_untouched_by_the_target_fields():
    """The new preset fields' defaults leave Luding (and a preset passed by value) unchanged."""
    luding = simulate.PRESETS["luding"]
    assert not luding.terraces and luding.haze_height_m is None and luding.sun_deg is None
    a = simulate.scene("luding", seed=4, shape=(64, 64))
    b = simulate.scene(luding, seed=4, shape=(64, 64))
    np.testing.assert_array_equal(a.post.values, b.post.values)


def test_target_differences_are_read_from_the_preset_and_the_patches():
    """Chapter 6 prints this table instead of typing the simulator's settings: it must follow them."""
    rows = {r["difference"]: r for r in simulate.target_differences("barhabise")}
    assert list(rows) == list(simulate.TARGET_DIFFERENCES)
    preset = simulate.PRESETS["barhabise"]
    assert f"x {preset.substrate_brightness:g}" in rows["schist and sandstone"]["target"]
    assert f"{simulate.PATCH_HAZE:g}" in rows["haze"]["source patches"]
    assert f"{preset.haze_post / simulate.PATCH_HAZE:.1f}" in rows["haze"]["target"]
    lo, hi = simulate.PATCH_SUN_ZENITH_DEG
    assert f"{lo:g}-{hi:g}" in rows["November sun"]["source patches"]
    # a changed preset changes the table (the rows are not typed text)
    darker = replace(preset, substrate_brightness=0.7)
    simulate.PRESETS["barhabise"] = darker
    try:
        assert "x 0.7" in simulate.target_differences("barhabise")[2]["target"]
    finally:
        simulate.PRESETS["barhabise"] = preset
