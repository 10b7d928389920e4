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
