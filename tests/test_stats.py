"""Landslide size statistics: Malamud's inverse gamma and Clauset's power law, on known samples."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from s2slide import stats
from s2slide.errors import InvalidInputError, NoValidDataError

RHO, A, S = 1.40, 1.28e-3, -1.32e-4  # Malamud et al. (2004), km2


def _invgamma_sample(n: int, seed: int, rho=RHO, a=A, s=S) -> np.ndarray:
    x = sps.invgamma(rho, loc=s, scale=a).rvs(n, random_state=np.random.default_rng(seed))
    return x[x > 0]  # the density starts at s < 0: about 2e-4 of draws are not areas


def test_scipy_mapping_is_malamuds_equation():
    """rho = c, a = scale, s = loc: scipy's density equals the paper's equation written out."""
    areas = np.geomspace(5e-5, 1.0, 200)
    hand = stats.malamud_pdf(areas, rho=RHO, a_km2=A, s_km2=S)
    assert np.allclose(stats.MALAMUD.pdf(areas), hand, rtol=1e-10)
    assert stats.malamud_pdf(np.array([S, S - 1e-5]), rho=RHO, a_km2=A, s_km2=S).tolist() == [0, 0]


def test_malamud_rollover_and_tail():
    assert stats.MALAMUD.rollover_km2 * 1e6 == pytest.approx(401.3, abs=0.1)  # "near 400 m2"
    assert stats.MALAMUD.tail_exponent == pytest.approx(2.4)
    grid = np.geomspace(1e-5, 1e-2, 20001)
    assert grid[np.argmax(stats.MALAMUD.pdf(grid))] == pytest.approx(stats.MALAMUD.rollover_km2, rel=1e-3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_inverse_gamma_fit_recovers_known_parameters(seed):
    fit = stats.fit_inverse_gamma(_invgamma_sample(4000, seed))
    assert fit.rho == pytest.approx(RHO, rel=0.1)
    assert fit.a_km2 == pytest.approx(A, rel=0.15)
    assert fit.s_km2 == pytest.approx(S, abs=6e-5)
    assert fit.rollover_km2 == pytest.approx(stats.MALAMUD.rollover_km2, rel=0.15)


def test_inverse_gamma_fit_recovers_other_parameters():
    fit = stats.fit_inverse_gamma(_invgamma_sample(4000, 7, rho=2.0, a=5e-3, s=-5e-4))
    assert (fit.rho, fit.a_km2) == (pytest.approx(2.0, rel=0.12), pytest.approx(5e-3, rel=0.15))


@pytest.mark.parametrize("beta, seed", [(2.4, 0), (2.0, 1), (3.0, 2)])
def test_power_law_exponent_recovers_a_known_exponent(beta, seed):
    rng = np.random.default_rng(seed)
    tail = sps.pareto(beta - 1.0, scale=1e-3).rvs(3000, random_state=rng)
    body = rng.uniform(1e-4, 1e-3, 1500)  # below the tail: xmin must be found above it
    fit = stats.power_law_exponent(np.concatenate([tail, body]))
    assert fit.beta == pytest.approx(beta, abs=3 * fit.stderr + 0.02)
    assert fit.xmin_km2 == pytest.approx(1e-3, rel=0.3)
    assert fit.stderr == pytest.approx((fit.beta - 1) / np.sqrt(fit.n_tail))


def test_power_law_with_a_given_xmin():
    x = sps.pareto(1.4, scale=2e-3).rvs(2000, random_state=np.random.default_rng(3))
    fit = stats.power_law_exponent(x, xmin_km2=2e-3)
    assert fit.xmin_km2 == 2e-3 and fit.n_tail == 2000
    assert fit.beta == pytest.approx(1 + 2000 / np.log(x / 2e-3).sum())  # Clauset eq. 3.1
    with pytest.raises(NoValidDataError, match="lower it"):
        stats.power_law_exponent(x, xmin_km2=1.0)


def test_frequency_density_integrates_to_one():
    x = _invgamma_sample(5000, 4)
    df = stats.frequency_density(x, bins_per_decade=5)
    assert df["count"].sum() == x.size
    assert (df["density"] * (df["upper_km2"] - df["lower_km2"])).sum() == pytest.approx(1.0)


@pytest.mark.parametrize("n", [0, 1, 49])
def test_too_few_landslides_say_so_instead_of_fitting_noise(n):
    x = _invgamma_sample(200, 5)[:n]
    with pytest.raises(NoValidDataError, match="at least 50"):
        stats.fit_inverse_gamma(x)
    with pytest.raises(NoValidDataError, match="noise"):
        stats.power_law_exponent(x)
    row = stats.summary(x)
    assert row["landslides"] == n and "at least 50" in row["note"] and "rho" not in row


def test_bad_areas_are_refused():
    with pytest.raises(InvalidInputError, match="positive"):
        stats.fit_inverse_gamma(np.r_[_invgamma_sample(100, 6), -1.0])


def test_summary_flags_a_rollover_the_data_do_not_hold():
    """A pixel inventory: areas in whole 400 m2 pixels from 4 pixels up (no rollover there)."""
    x = _invgamma_sample(3000, 8)
    pixels = np.ceil(x / 4e-4) * 4e-4
    row = stats.summary(pixels, min_area_km2=1.6e-3)
    assert row["fitted"] == int((pixels >= 1.6e-3).sum()) and row["rollover_resolved"] is False
    assert stats.summary(x)["rollover_resolved"] is True
    table = stats.compare({"sample": x})
    assert list(table.index) == ["Malamud et al. 2004 (published)", "sample"]
