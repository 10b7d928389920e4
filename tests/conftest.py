"""Shared fixtures: small rasters made here, no network, nothing written into the repository."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory, monkeypatch):
    """Every test runs offline, with its own cache and results folders.

    ``CI`` is cleared so that a test behaves the same on a laptop and on CI (which sets
    ``CI=true``); offline is still on through ``S2SLIDE_OFFLINE``.
    """
    monkeypatch.setenv("S2SLIDE_OFFLINE", "1")
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("NO_GCE_CHECK", "true")
    monkeypatch.setenv("S2SLIDE_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("S2SLIDE_RESULTS", str(tmp_path_factory.mktemp("results")))
    if "S2SLIDE_MIRROR" not in os.environ and SHARED_DATA.is_dir():
        monkeypatch.setenv("S2SLIDE_MIRROR", str(SHARED_DATA))


@pytest.fixture
def online(monkeypatch) -> None:
    """Let live routes be tried: clear ``S2SLIDE_OFFLINE`` (``CI``, the other offline switch,
    is cleared for every test by ``_isolated_env``)."""
    monkeypatch.delenv("S2SLIDE_OFFLINE", raising=False)


@pytest.fixture
def mirror() -> Path:
    """The real sample files (``../shared/data``); tests needing them skip when it is absent."""
    path = Path(os.environ.get("S2SLIDE_MIRROR", SHARED_DATA))
    if not path.is_dir():
        pytest.skip("the mirror of sample files (../shared/data) is not available")
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(42)


@pytest.fixture
def textured(rng) -> np.ndarray:
    """A 128 x 128 float32 image with texture at several scales (for alignment tests)."""
    from scipy import ndimage

    noise = rng.normal(size=(128, 128))
    img = sum(ndimage.gaussian_filter(noise, s) * s for s in (1, 3, 8))
    img = (img - img.min()) / (img.max() - img.min())
    return img.astype(np.float32)
