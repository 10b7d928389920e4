"""Processing-baseline harmonisation: the change between 2021 and 2022 is not biased by it."""

from __future__ import annotations

import numpy as np
import pytest

from s2slide.data import harmonize
from s2slide.errors import InvalidInputError


def test_offset_from_baseline_and_date():
    assert harmonize.boa_add_offset(baseline="03.01") == 0
    assert harmonize.boa_add_offset(baseline="04.00") == -1000
    assert harmonize.boa_add_offset(baseline="05.10") == -1000
    assert harmonize.boa_add_offset(acquired="2021-11-05") == 0
    assert harmonize.boa_add_offset(acquired="2022-11-20") == -1000
    with pytest.raises(InvalidInputError, match="NN.NN"):
        harmonize.boa_add_offset(baseline="four")


def test_unchanged_ground_shows_no_change_after_harmonisation(rng):
    truth = rng.uniform(0.02, 0.5, size=(5, 20, 20)).astype(np.float32)  # same surface both dates
    dn_2021 = np.round(truth * 10_000).astype(np.uint16)          # baseline 03.01
    dn_2022 = np.round(truth * 10_000 + 1000).astype(np.uint16)   # baseline 04.00
    pre = harmonize.dn_to_reflectance(dn_2021, offset=harmonize.boa_add_offset(baseline="03.01"))
    post = harmonize.dn_to_reflectance(dn_2022, offset=harmonize.boa_add_offset(baseline="04.00"))
    assert abs(float(np.mean(post - pre))) < 1e-4                   # harmonised: no bias
    naive = harmonize.dn_to_reflectance(dn_2022, offset=0)
    assert float(np.mean(naive - pre)) == pytest.approx(0.1, abs=1e-3)  # the bias it removes
    ndvi = lambda r: (r[3] - r[2]) / (r[3] + r[2])  # noqa: E731
    assert np.allclose(ndvi(post), ndvi(pre), atol=2e-3)
    assert not np.allclose(ndvi(naive), ndvi(pre), atol=2e-2)


def test_nodata_becomes_nan_and_pb04_shift():
    dn = np.array([0, 500, 1500], dtype=np.uint16)
    refl = harmonize.dn_to_reflectance(dn, offset=-1000)
    assert np.isnan(refl[0]) and refl[1] == 0.0 and refl[2] == pytest.approx(0.05)
    assert harmonize.harmonize_to_pb04(dn, baseline="03.01").tolist() == [0, 1500, 2500]


def test_offset_follows_the_baseline_not_the_date():
    """ESA's reprocessed Collection-1 products carry new baselines for old dates: a 2019
    acquisition of baseline 05.00 needs -1000. Whatever says the baseline (the baseline, the
    product name, the processing date) decides before the acquisition date, which decides only
    alone, and says so."""
    reprocessed = "S2A_MSIL2A_20190101T000001_N0500_R116_T58UFE_20230225T120000.SAFE"
    assert harmonize.boa_add_offset(baseline="05.00", acquired="2019-01-01") == -1000
    assert harmonize.boa_add_offset(product=reprocessed, acquired="2019-01-01") == -1000
    assert harmonize.boa_add_offset(processed="2023-02-25T12:00:00Z", acquired="2019-01-01") == -1000
    assert harmonize.boa_add_offset(baseline="03.01", product=reprocessed) == 0  # the baseline wins
    off, why = harmonize.offset_decision(acquired="2019-01-01")
    assert off == 0 and "acquisition date 2019-01-01 alone" in why
    assert harmonize.baseline_from_name("GS2B_20250731T130249_043879_N05.11") == "05.11"
    assert harmonize.baseline_from_name("S2A_29RKH_20200219_0_L2A") is None


def test_offset_arguments_are_checked_before_use():
    with pytest.raises(InvalidInputError, match="string such as '04.00'"):
        harmonize.boa_add_offset(baseline=4.0)
    with pytest.raises(InvalidInputError, match="ISO date"):
        harmonize.boa_add_offset(acquired="yesterday")
    with pytest.raises(InvalidInputError, match="processing baseline"):
        harmonize.boa_add_offset()
