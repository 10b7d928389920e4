"""Checks of the environment a chapter runs in (chapter 0).

Every network check is bounded by a short timeout, so offline machines answer at once.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass
from importlib import metadata

from s2slide import config
from s2slide.config import ENDPOINTS
from s2slide.data.net import reachable
from s2slide.errors import SettingError



@dataclass(frozen=True)
class Reachability:
    """Result of one reachability probe."""

    name: str
    url: str
    reachable: bool
    detail: str
    seconds: float


def in_colab() -> bool:
    """True inside a Google Colab runtime."""
    try:
        import google.colab  # noqa: F401
    except ImportError:
        return False
    return True


def check_endpoints(timeout: float = 2.0) -> list[Reachability]:
    """Probe every endpoint of :data:`ENDPOINTS`."""
    out = []
    for name, url in ENDPOINTS.items():
        t0 = time.perf_counter()
        ok, detail = reachable(url, timeout=timeout)
        out.append(Reachability(name, url, ok, detail, time.perf_counter() - t0))
    return out


def package_table(names: tuple[str, ...] | None = None) -> dict[str, str]:
    """Installed version of each package the course uses ('missing' when absent)."""
    names = names or (
        "s2slide", "numpy", "scipy", "xarray", "rasterio", "rioxarray", "geopandas",
        "scikit-learn", "opencv-python-headless", "tensorflow-cpu", "tensorflow", "keras",
        "h5py", "spectral", "pystac-client", "odc-stac", "earthengine-api", "geemap",
        "codecarbon", "pooch", "jupyter-book", "nbval",
    )
    table = {}
    for name in names:
        try:
            table[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            table[name] = "missing"
    return table


def hardware() -> dict[str, object]:
    """CPU count, memory, and the GPUs TensorFlow sees (imports TensorFlow: 5-15 s)."""
    info: dict[str, object] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
    }
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        info["memory_gb"] = round(pages * size / 1e9, 1)
    except (ValueError, OSError, AttributeError):
        info["memory_gb"] = None
    try:
        import tensorflow as tf

        info["tensorflow_gpus"] = [d.name for d in tf.config.list_physical_devices("GPU")]
    except ImportError:
        info["tensorflow_gpus"] = "TensorFlow not installed"
    return info


def _setting(read) -> str:
    """A setting as text, or the error a bad value raises (chapter 0 shows it instead of failing)."""
    try:
        value = read()
    except SettingError as err:
        return f"error: {err}"
    return "none (S2SLIDE_MIRROR not set)" if value is None else str(value)


def locations() -> dict[str, str]:
    """Where data is cached, where the mirror is, where results go."""
    return {
        "cache (downloads, live scenes)": _setting(config.cache_dir),
        "mirror of the sample files": _setting(config.mirror_dir),
        "results files": _setting(config.results_dir),
        "offline mode": _setting(config.offline),
        "in Colab": str(in_colab()),
    }
