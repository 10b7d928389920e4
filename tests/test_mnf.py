"""s2slide.mnf: the signal subspace is recovered, and Spectral Python agrees on clean data."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy import ndimage

from s2slide import mnf
from s2slide.errors import InvalidInputError, NoValidDataError


def _scene(rng, *, bands=8, size=64):
    """Three smooth sources mixed into ``bands`` bands plus white noise (band, y, x).

    The noise is loud in two bands, so that the largest-*variance* directions are noise:
    PCA ranks them first, MNF (ranking by signal-to-noise) must not.
    """
    sources = np.stack([ndimage.gaussian_filter(rng.normal(size=(size, size)), 4) for _ in range(3)])
    sources /= sources.std(axis=(1, 2), keepdims=True)
    mixing = rng.normal(size=(bands, 3))
    noise_sd = np.full(bands, 0.05)
    noise_sd[:2] = 3.0
    signal = np.einsum("bk,kyx->byx", mixing, sources)
    noise = rng.normal(size=signal.shape) * noise_sd[:, None, None]
    return signal + noise, sources


def _r2(components: np.ndarray, sources: np.ndarray) -> float:
    """Smallest R^2 of a source regressed on the components (1 = inside their span)."""
    x = components.reshape(components.shape[0], -1).T
    x = np.column_stack([x, np.ones(len(x))])
    out = []
    for s in sources.reshape(sources.shape[0], -1):
        resid = s - x @ np.linalg.lstsq(x, s, rcond=None)[0]
        out.append(1 - resid.var() / s.var())
    return float(min(out))


def test_mnf_recovers_signal_subspace_where_pca_does_not(rng):
    image, sources = _scene(rng)
    model = mnf.fit(image)
    assert _r2(model.transform(image, n=3), sources) > 0.99
    assert model.snr[2] > 10 * model.snr[3]  # a clear gap after the 3 signal components
    flat = image.reshape(image.shape[0], -1)
    _, vecs = np.linalg.eigh(np.cov(flat))
    pca3 = (vecs[:, ::-1][:, :3].T @ (flat - flat.mean(1, keepdims=True))).reshape(3, *image.shape[1:])
    assert _r2(pca3, sources) < 0.9


def test_components_have_unit_noise_and_descending_eigenvalues(rng):
    image, _ = _scene(rng)
    model = mnf.fit(image)
    noise = model.vectors @ model.noise_cov @ model.vectors.T
    np.testing.assert_allclose(noise, np.eye(image.shape[0]), atol=1e-8)
    assert np.all(np.diff(model.eigenvalues) <= 0)
    np.testing.assert_allclose(model.variance_fraction.sum(), 1.0)


@pytest.mark.parametrize("direction", ["lowerright", "lowerleft", "right", "lower"])
def test_agrees_with_spectral_python(rng, direction):
    spectral = pytest.importorskip("spectral")
    image, _ = _scene(rng, size=40)
    cube = np.moveaxis(image, 0, -1)  # Spectral wants (rows, cols, bands)
    ref = spectral.mnf(spectral.calc_stats(cube), spectral.noise_from_diffs(cube, direction=direction))
    np.testing.assert_allclose(mnf.noise_covariance(image, direction=direction),
                               spectral.noise_from_diffs(cube, direction=direction).cov, rtol=1e-6)
    model = mnf.fit(image, direction=direction)
    np.testing.assert_allclose(model.eigenvalues, np.real(ref.napc.eigenvalues), rtol=1e-6)
    theirs = np.moveaxis(np.real(ref.reduce(cube, num=4)), -1, 0)
    ours = model.transform(image, n=4)
    for a, b in zip(ours, theirs):  # the same up to the sign of each component
        sign = np.sign(np.sum(a * b))
        np.testing.assert_allclose(a, sign * b, atol=1e-4 * np.abs(b).max())


def test_nan_and_invalid_pixels_are_skipped(rng):
    image, sources = _scene(rng)
    image[:, 10:14, 20:30] = np.nan
    valid = np.ones(image.shape[1:], bool)
    valid[40:, :8] = False
    model = mnf.fit(image, valid=valid)
    assert model.n_pixels == valid.size - 40 - 24 * 8
    out = model.transform(image, n=3)
    assert np.isnan(out[:, 10:14, 20:30]).all() and out.dtype == np.float32
    ok = np.isfinite(out).all(axis=0)
    assert _r2(out[:, ok][:, None, :], sources[:, ok][:, None, :]) > 0.99


def test_components_keep_coordinates_and_attrs(rng):
    image, _ = _scene(rng, size=32)
    da = xr.DataArray(image.astype(np.float32), dims=("band", "y", "x"),
                      coords={"band": [f"B{i}" for i in range(8)], "y": np.arange(32.0), "x": np.arange(32.0)})
    out = mnf.components(da, n=3)
    assert out.dims == ("component", "y", "x") and list(out.component.values) == ["MNF1", "MNF2", "MNF3"]
    assert len(out.attrs["eigenvalues"]) == 3 and out.attrs["eigenvalues"][0] > out.attrs["eigenvalues"][2]


def test_bad_input_raises_errors_that_say_what_to_do(rng):
    image, _ = _scene(rng, size=16)
    with pytest.raises(NoValidDataError, match="larger or less cloudy"):
        mnf.fit(image[:, :3, :3])
    with pytest.raises(NoValidDataError, match="at least 10 per band"):
        mnf.fit(image, valid=np.zeros(image.shape[1:], bool))
    with pytest.raises(InvalidInputError, match="dims \\(band, y, x\\)"):
        mnf.fit(image[0])
    twin = np.concatenate([image, image[:1]], axis=0)
    with pytest.raises(InvalidInputError, match="drop such bands"):
        mnf.fit(twin)
    model = mnf.fit(image)
    with pytest.raises(InvalidInputError, match="same bands"):
        model.transform(image[:5])
    with pytest.raises(InvalidInputError, match="ask for 1 to 8"):
        model.transform(image, n=0)
    with pytest.raises(InvalidInputError, match="direction"):
        mnf.noise_covariance(image, direction="up")
