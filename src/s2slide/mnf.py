"""Minimum noise fraction (MNF): principal components ordered by signal-to-noise ratio.

PCA ranks linear combinations of the bands by *variance*; MNF (Green et al. 1988, the
"noise-adjusted principal components" of Lee et al. 1990) ranks them by *signal-to-noise
ratio*. It needs an estimate of the noise covariance; with one image the usual estimate
is the covariance of differences between neighbouring pixels, halved: neighbours share
almost all their signal but not their (independent) noise, so ``var(x_i - x_j) ~ 2 var(e)``.

MNF then solves the generalised eigenproblem ``C_x w = lambda C_n w`` (``C_x`` the data
covariance, ``C_n`` the noise covariance) with ``w' C_n w = 1``: each component
``y = w' (x - mean)`` has unit noise variance, so its variance ``lambda`` is 1 + its SNR.

This is the transform of Spectral Python (``spectral.calc_stats``, ``spectral.noise_from_diffs``,
``spectral.mnf``; Shahabi et al. 2021 used it). It is written here again (about 20 lines of
NumPy/SciPy) only because Spectral's noise estimate has no mask: here NaN or invalid pixels
are left out of both covariances. ``tests/test_mnf.py`` checks both agree on clean data.

Chapter 5 introduces it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from s2slide import checks
from s2slide.errors import InvalidInputError, NoValidDataError

#: Pixel offsets (rows, columns) of the neighbour used for the noise estimate.
DIRECTIONS: dict[str, tuple[int, int]] = {"lowerright": (1, 1), "lowerleft": (1, -1),
                                          "right": (0, 1), "lower": (1, 0)}


@dataclass(frozen=True)
class MNF:
    """A fitted MNF transform (arrays in float64).

    Attributes
    ----------
    mean : ndarray, shape (band,)
        Mean of the valid pixels.
    vectors : ndarray, shape (component, band)
        Row ``i`` is ``w_i``: component ``i`` is ``vectors[i] @ (x - mean)``; sorted by SNR.
    eigenvalues : ndarray, shape (component,)
        Variance of each component in units of its noise variance (1 + SNR), descending.
    data_cov, noise_cov : ndarray, shape (band, band)
        The covariances the transform was fitted on.
    n_pixels : int
        Number of valid pixels used.
    """

    mean: np.ndarray
    vectors: np.ndarray
    eigenvalues: np.ndarray
    data_cov: np.ndarray
    noise_cov: np.ndarray
    n_pixels: int

    @property
    def snr(self) -> np.ndarray:
        """Signal-to-noise ratio of each component, ``eigenvalue - 1``."""
        return self.eigenvalues - 1.0

    @property
    def variance_fraction(self) -> np.ndarray:
        """Each component's share of the summed eigenvalues (0-1), as Shahabi et al.'s Table 3."""
        return self.eigenvalues / self.eigenvalues.sum()

    def transform(self, image, *, n: int | None = None) -> np.ndarray:
        """Project ``image`` (band, y, x) on the first ``n`` components -> float32 (n, y, x).

        Pixels with a NaN in any band are NaN in every component.
        """
        cube = _as_cube(image)
        if cube.shape[0] != self.mean.size:
            raise InvalidInputError(f"image has {cube.shape[0]} bands, the MNF was fitted on "
                                    f"{self.mean.size}: pass the same bands in the same order.")
        n = self.mean.size if n is None else _check_n(n, self.mean.size)
        flat = cube.reshape(cube.shape[0], -1) - self.mean[:, None]
        out = self.vectors[:n] @ flat
        return out.reshape(n, *cube.shape[1:]).astype(np.float32)


def _as_cube(image) -> np.ndarray:
    checks.channels_first("image", image)
    cube = np.asarray(checks.array("image", image), dtype=np.float64)
    if cube.ndim != 3 or cube.shape[0] < 2:
        raise InvalidInputError(f"expected an image with dims (band, y, x) and >= 2 bands, got "
                                f"shape {cube.shape}; for an xarray Dataset pass ds['post'].")
    return cube


def _check_n(n: int, bands: int) -> int:
    if not 1 <= int(n) <= bands:
        raise InvalidInputError(f"n={n}: ask for 1 to {bands} components.")
    return int(n)


def _usable(cube: np.ndarray, valid) -> np.ndarray:
    """Boolean (y, x): pixels finite in every band and inside ``valid``."""
    ok = np.isfinite(cube).all(axis=0)
    if valid is not None:
        ok &= checks.mask("valid", valid, shape=ok.shape)
    return ok


def noise_covariance(image, *, valid=None, direction: str = "lowerright") -> np.ndarray:
    """Noise covariance from differences of neighbouring pixels (``cov(x_i - x_j) / 2``).

    Parameters
    ----------
    image : array-like, dims (band, y, x)
        Reflectance or any float values; NaN pixels are skipped.
    valid : bool array (y, x), optional
        Pixels to use; a pair is used only when both pixels are valid.
    direction : {"lowerright", "lowerleft", "right", "lower"}
        The neighbour, as in ``spectral.noise_from_diffs`` (same default).

    Returns
    -------
    ndarray, float64, shape (band, band)
    """
    if direction not in DIRECTIONS:
        raise InvalidInputError(f"direction={direction!r}: use one of {', '.join(DIRECTIONS)}.")
    cube = _as_cube(image)
    ok = _usable(cube, valid)
    dy, dx = DIRECTIONS[direction]
    rows, cols = ok.shape
    c0, c1 = (0, cols - dx) if dx >= 0 else (-dx, cols)
    a = (slice(0, rows - dy), slice(c0, c1))
    b = (slice(dy, rows), slice(c0 + dx, c1 + dx))
    pair = ok[a] & ok[b]
    if pair.sum() <= cube.shape[0]:
        raise NoValidDataError(f"only {int(pair.sum())} valid neighbouring pairs for "
                               f"{cube.shape[0]} bands: use a larger or less cloudy window.")
    diffs = (cube[:, a[0], a[1]] - cube[:, b[0], b[1]])[:, pair]
    return np.cov(diffs) / 2.0


def fit(image, *, valid=None, direction: str = "lowerright") -> MNF:
    """Fit an MNF transform to ``image`` (band, y, x), skipping NaN and invalid pixels.

    Parameters
    ----------
    image : array-like, dims (band, y, x)
        Reflectance (0-1) or any float values, at least 2 bands.
    valid : bool array (y, x), optional
        Pixels to use (clear, not nodata); pixels with a NaN are left out in any case.
    direction : {"lowerright", "lowerleft", "right", "lower"}
        Neighbour used for the noise estimate (:func:`noise_covariance`).

    Returns
    -------
    MNF
        Components sorted by decreasing SNR; ``transform(image, n=3)`` gives the first three.

    Raises
    ------
    NoValidDataError
        Fewer valid pixels than ten times the number of bands.
    InvalidInputError
        A band without noise (constant, or a copy of another): drop it and fit again.
    """
    cube = _as_cube(image)
    ok = _usable(cube, valid)
    if ok.sum() < 10 * cube.shape[0]:
        raise NoValidDataError(f"{int(ok.sum())} valid pixels for {cube.shape[0]} bands: MNF "
                               "needs at least 10 per band; use a larger or less cloudy window.")
    pixels = cube[:, ok]
    data_cov = np.cov(pixels)
    noise_cov = noise_covariance(cube, valid=ok, direction=direction)
    try:  # eigh solves C_x w = lambda C_n w with w' C_n w = 1, eigenvalues ascending
        values, vectors = scipy.linalg.eigh(data_cov, noise_cov)
    except np.linalg.LinAlgError as exc:
        raise InvalidInputError("the noise covariance is singular (a constant band or two "
                                "identical bands?): drop such bands and fit again.") from exc
    order = np.argsort(values)[::-1]
    return MNF(mean=pixels.mean(axis=1), vectors=vectors[:, order].T,
               eigenvalues=values[order], data_cov=data_cov, noise_cov=noise_cov,
               n_pixels=int(ok.sum()))


def components(image, *, n: int = 3, valid=None, direction: str = "lowerright"):
    """The first ``n`` MNF components of an xarray image as a DataArray (component, y, x).

    Fits on the valid pixels of ``image`` (an ``xarray.DataArray`` with dims (band, y, x),
    e.g. ``ds["post"]``) and keeps its ``y``/``x`` coordinates and CRS; the eigenvalues
    (1 + SNR) and variance fractions of the kept components are in ``attrs``. Use
    :func:`fit` for the whole transform.
    """
    checks.xarray_object("image", image, example="ds['post'], dims (band, y, x)")
    model = fit(image.values, valid=valid, direction=direction)
    n = _check_n(n, model.mean.size)
    out = image.isel(band=slice(0, n)).copy(data=model.transform(image.values, n=n))
    out = out.rename(band="component").rename("mnf").assign_coords(component=[f"MNF{i + 1}" for i in range(n)])
    out.attrs = {"long_name": "minimum noise fraction component", "units": "noise std",
                 "eigenvalues": model.eigenvalues[:n].tolist(),
                 "variance_fraction": model.variance_fraction[:n].tolist()}
    return out
