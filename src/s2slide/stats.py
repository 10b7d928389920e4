"""Landslide size statistics: the frequency-area distribution and its fits (chapter 9, seed 003).

Seed 003 asks that landslide maps be judged with landslide-specific measures, among them
*size distributions*. The areas of the landslides of one event follow, in complete inventories,
a heavy-tailed distribution with a rollover at small sizes (Malamud et al. 2004):

    p(A; rho, a, s) = 1 / (a Gamma(rho)) * [a / (A - s)] ** (rho + 1) * exp(-a / (A - s))

an inverse-gamma density with shape ``rho``, scale ``a`` (km2) and location ``s`` (km2). Its
tail is a power law, p(A) ~ A ** -(rho + 1). Malamud et al. fitted rho = 1.40, a = 1.28e-3 km2,
s = -1.32e-4 km2 to three complete inventories (rollover near 400 m2, tail exponent 2.40).

``scipy.stats.invgamma(c, loc, scale)`` has the density
``(1/scale) * ((x - loc)/scale) ** (-c - 1) * exp(-scale/(x - loc)) / Gamma(c)``; writing
``x = A``, ``c = rho``, ``scale = a``, ``loc = s`` gives exactly Malamud's equation, so the
maximum-likelihood fit is scipy's (:func:`fit_inverse_gamma`), mapped ``rho = c``, ``a = scale``,
``s = loc`` (tests check the mapping against the equation written out, :func:`malamud_pdf`).

The tail exponent alone (:func:`power_law_exponent`) follows Clauset, Shalizi and Newman (2009,
SIAM Review 51): the continuous maximum-likelihood estimate above a threshold ``A_min``
(scipy's Pareto fit with the scale fixed at ``A_min``), with ``A_min`` chosen where the
Kolmogorov-Smirnov distance between the tail and the fitted power law is smallest (over a grid
of candidate thresholds, not every data value). The ``powerlaw`` package implements the same
method; it is not pinned by the course, so scipy does it here.

Fewer than :data:`MIN_LANDSLIDES` areas are refused (NoValidDataError): a fit to a handful of
landslides describes noise.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from scipy import special
from scipy import stats as sps

from s2slide.data.simulate import MALAMUD_A_KM2, MALAMUD_RHO, MALAMUD_S_KM2
from s2slide.errors import InvalidInputError, NoValidDataError

#: Fewest landslides a fit is made to.
MIN_LANDSLIDES = 50


class InverseGamma(NamedTuple):
    """Malamud et al.'s (2004) inverse-gamma density: ``rho``, ``a`` and ``s`` in km2."""

    rho: float
    a_km2: float
    s_km2: float
    n: int

    @property
    def rollover_km2(self) -> float:
        """Area of the density's maximum (its mode): ``a / (rho + 1) + s`` (km2)."""
        return self.a_km2 / (self.rho + 1.0) + self.s_km2

    @property
    def tail_exponent(self) -> float:
        """Exponent beta of the power-law tail p(A) ~ A ** -beta: ``rho + 1``."""
        return self.rho + 1.0

    def pdf(self, areas_km2: Any) -> np.ndarray:
        """Probability density (1/km2) at ``areas_km2``."""
        return sps.invgamma(self.rho, loc=self.s_km2, scale=self.a_km2).pdf(np.asarray(areas_km2))


#: Malamud et al. (2004): the fit to three complete event inventories.
MALAMUD = InverseGamma(MALAMUD_RHO, MALAMUD_A_KM2, MALAMUD_S_KM2, n=0)


class PowerLaw(NamedTuple):
    """A power-law tail p(A) ~ A ** -beta above ``xmin_km2``, fitted to ``n_tail`` areas."""

    beta: float
    xmin_km2: float
    n_tail: int
    stderr: float
    ks: float


def _areas(areas_km2: Any, *, min_count: int, what: str) -> np.ndarray:
    a = np.asarray(areas_km2, dtype=np.float64).ravel()
    if a.size and (~np.isfinite(a) | (a <= 0)).any():
        raise InvalidInputError(f"{what}: areas must be positive and finite (km2); drop empty "
                                "polygons first")
    if a.size < min_count:
        raise NoValidDataError(
            f"{what}: {a.size} landslide(s); at least {min_count} are needed for a size "
            "statistic, fewer describe noise. No landslide found may also mean the map missed "
            "them: check the threshold, the windows and the clouds, or map a larger area")
    return a


def malamud_pdf(areas_km2: Any, *, rho: float, a_km2: float, s_km2: float) -> np.ndarray:
    """Malamud et al.'s (2004) equation written out (1/km2); zero where ``A <= s``.

    ``p = [a / (A - s)] ** (rho + 1) * exp(-a / (A - s)) / (a * Gamma(rho))``.
    """
    area = np.asarray(areas_km2, dtype=np.float64)
    shifted = np.where(area > s_km2, area - s_km2, np.nan)
    ratio = a_km2 / shifted
    p = ratio ** (rho + 1.0) * np.exp(-ratio) / (a_km2 * special.gamma(rho))
    return np.nan_to_num(p, nan=0.0)


def fit_inverse_gamma(areas_km2: Any, *, min_count: int = MIN_LANDSLIDES) -> InverseGamma:
    """Maximum-likelihood inverse-gamma fit in Malamud's parameterisation.

    Parameters
    ----------
    areas_km2 : array-like of float
        Landslide areas in km2 (one per landslide).
    min_count : int
        Fewest areas accepted.

    Returns
    -------
    InverseGamma
        ``rho``, ``a_km2``, ``s_km2`` (scipy's ``c``, ``scale``, ``loc``), ``n``.

    Raises
    ------
    NoValidDataError
        Fewer than ``min_count`` areas.

    Notes
    -----
    ``scipy.stats.invgamma.fit`` (numerical MLE of shape, location and scale, started from
    Malamud's values scaled to the data's median). An inventory truncated by a minimum mapping
    unit lacks the small landslides the rollover is made of: its fitted ``s`` and ``a`` then
    describe the mapping as much as the landslides.
    """
    a = _areas(areas_km2, min_count=min_count, what="inverse-gamma fit")
    k = np.median(a) / sps.invgamma(MALAMUD_RHO, loc=MALAMUD_S_KM2, scale=MALAMUD_A_KM2).median()
    start_loc = min(MALAMUD_S_KM2 * k, 0.5 * a.min())
    c, loc, scale = sps.invgamma.fit(a, MALAMUD_RHO, loc=start_loc, scale=MALAMUD_A_KM2 * k)
    return InverseGamma(float(c), float(scale), float(loc), int(a.size))


def _ks_fit(tail: np.ndarray, xmin: float) -> tuple[float, float]:
    """(beta, KS distance) of a power law fitted to ``tail`` (all >= ``xmin``)."""
    b = sps.pareto.fit(tail, floc=0.0, fscale=xmin)[0]
    return b + 1.0, float(sps.kstest(tail, sps.pareto(b, scale=xmin).cdf).statistic)


def power_law_exponent(areas_km2: Any, *, xmin_km2: float | None = None,
                       min_tail: int = MIN_LANDSLIDES, candidates: int = 60) -> PowerLaw:
    """Exponent beta of the power-law tail p(A) ~ A ** -beta (Clauset et al. 2009).

    Parameters
    ----------
    areas_km2 : array-like of float
        Landslide areas (km2).
    xmin_km2 : float, optional
        Where the tail starts; default: the candidate (``candidates`` quantiles of the areas)
        with the smallest Kolmogorov-Smirnov distance.
    min_tail : int
        Fewest areas in the tail.

    Returns
    -------
    PowerLaw
        ``beta`` (= Pareto shape + 1), ``xmin_km2``, ``n_tail``, ``stderr`` =
        ``(beta - 1) / sqrt(n_tail)`` (Clauset et al., eq. 3.2) and the KS distance ``ks``.
    """
    a = np.sort(_areas(areas_km2, min_count=min_tail, what="power-law fit"))
    if xmin_km2 is not None:
        tail = a[a >= float(xmin_km2)]
        if tail.size < min_tail:
            raise NoValidDataError(f"only {tail.size} areas above xmin_km2={xmin_km2:g}; lower "
                                   f"it (at least {min_tail} needed)")
        grid = [float(xmin_km2)]
    else:
        top = 1.0 - min_tail / a.size
        grid = np.unique(np.quantile(a, np.linspace(0.0, top, candidates)))
    fits = [(x, *_ks_fit(a[a >= x], x)) for x in grid]
    x, beta, ks = min(fits, key=lambda f: f[2])
    n_tail = int((a >= x).sum())
    return PowerLaw(float(beta), float(x), n_tail, float((beta - 1.0) / np.sqrt(n_tail)), ks)


def frequency_density(areas_km2: Any, *, bins_per_decade: int = 5) -> Any:
    """Log-binned probability density of landslide areas (Malamud et al. 2004, eq. 1).

    ``p(A) = (1 / N) * dN / dA``: the count in each logarithmic bin divided by the bin's width
    (km2) and by the total count N, so that it integrates to 1 and inventories of different
    sizes compare. Empty bins are left out.

    Returns
    -------
    pandas.DataFrame
        ``area_km2`` (geometric bin centre), ``lower_km2``, ``upper_km2``, ``count``,
        ``density`` (1/km2).
    """
    import pandas as pd

    a = _areas(areas_km2, min_count=1, what="frequency density")
    lo, hi = np.floor(np.log10(a.min())), np.ceil(np.log10(a.max()))
    edges = 10.0 ** np.arange(lo, hi + 1e-9, 1.0 / bins_per_decade)
    counts, _ = np.histogram(a, bins=edges)
    df = pd.DataFrame({"area_km2": np.sqrt(edges[:-1] * edges[1:]), "lower_km2": edges[:-1],
                       "upper_km2": edges[1:], "count": counts,
                       "density": counts / (np.diff(edges) * a.size)})
    return df[df["count"] > 0].reset_index(drop=True)


def summary(areas_km2: Any, *, min_area_km2: float = 0.0,
            min_count: int = MIN_LANDSLIDES) -> dict[str, Any]:
    """Counts and both fits of one inventory, or a note saying why a fit was not made.

    Areas below ``min_area_km2`` (e.g. the minimum mapping unit of a pixel inventory) are left
    out of the fits. ``rollover_resolved`` is False when the fitted rollover is not at least
    twice the smallest area fitted: then the data hold no rollover (a pixel inventory's
    smallest landslides are one pixel or one mapping unit) and ``rho``, ``a``, ``s`` describe
    the mapping rather than the landslides; compare the tails (``beta_tail``) instead.
    """
    a = np.asarray(areas_km2, dtype=np.float64)
    out: dict[str, Any] = {"landslides": int(a.size), "total_km2": float(a.sum()),
                           "median_m2": float(np.median(a) * 1e6) if a.size else float("nan")}
    a = a[a >= min_area_km2]
    try:
        ig = fit_inverse_gamma(a, min_count=min_count)
        pl = power_law_exponent(a, min_tail=min_count)
    except NoValidDataError as err:
        return {**out, "note": str(err).split(". ")[0]}
    resolved = bool(ig.rollover_km2 >= 2.0 * a.min())
    note = "" if resolved else "no rollover in the data: compare the tails"
    return {**out, "fitted": int(a.size), "smallest_m2": float(a.min() * 1e6), "rho": ig.rho,
            "a_km2": ig.a_km2, "s_km2": ig.s_km2, "rollover_m2": ig.rollover_km2 * 1e6,
            "rollover_resolved": resolved, "beta_tail": pl.beta, "beta_stderr": pl.stderr,
            "xmin_m2": pl.xmin_km2 * 1e6, "n_tail": pl.n_tail, "note": note}


def compare(inventories: dict[str, Any], *, min_area_km2: dict[str, float] | None = None,
            min_count: int = MIN_LANDSLIDES) -> Any:
    """:func:`summary` of several inventories side by side, with Malamud et al.'s row first.

    ``min_area_km2`` maps an inventory's name to the smallest area its fits use.
    """
    import pandas as pd

    floors = min_area_km2 or {}
    rows = {"Malamud et al. 2004 (published)": {
        "rho": MALAMUD.rho, "a_km2": MALAMUD.a_km2, "s_km2": MALAMUD.s_km2,
        "rollover_m2": MALAMUD.rollover_km2 * 1e6, "rollover_resolved": True,
        "beta_tail": MALAMUD.tail_exponent, "note": "fit to three complete inventories"}}
    rows.update({name: summary(a, min_area_km2=floors.get(name, 0.0), min_count=min_count)
                 for name, a in inventories.items()})
    return pd.DataFrame(rows).T
