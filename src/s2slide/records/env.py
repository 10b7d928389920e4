"""Checks of the environment a chapter runs in (chapter 0).

Every network check is bounded by a short timeout, so offline machines answer at once.
"""

from __future__ import annotations

import json
import os
import platform
import re
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from s2slide import config
from s2slide.config import ENDPOINTS
from s2slide.data.net import reachable
from s2slide.errors import SettingError

#: The file, in the temporary folder, where the Colab setup cell (every chapter's first code cell)
#: records ``{distribution: version}`` of the runtime before it installs anything. It is written once
#: per runtime (a second run of the cell keeps the first record), so it is Colab's own image.
SETUP_SNAPSHOT = "s2slide-colab-before.json"


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
        "h5py", "dask", "distributed", "pystac-client", "odc-stac", "earthengine-api", "geemap",
        "codecarbon", "psutil", "pooch", "jupyter-book", "nbval",
    )
    table = {}
    for name in names:
        try:
            table[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            table[name] = "missing"
    return table


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The processor's model name as the operating system reports it ("" when it does not).

    On Linux this is the ``model name`` line of ``/proc/cpuinfo``: the string codecarbon looks up in
    its table of processor powers (chapter 7), e.g. ``"AMD EPYC"`` or ``"Intel(R) Xeon(R) CPU @
    2.20GHz"`` on cloud machines. Elsewhere :func:`platform.processor`. Read here rather than with
    py-cpuinfo (codecarbon's way), which took about 2 s on the course's build machines.
    """
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor()


def _gpu_names(devices: list) -> list[str]:
    """The model name of each TensorFlow GPU device, e.g. ``"Tesla T4"`` ("" where TF has none)."""
    import tensorflow as tf

    return [str(tf.config.experimental.get_device_details(d).get("device_name", "")) for d in devices]


def hardware() -> dict[str, object]:
    """Platform, CPU model and count, memory, and the GPUs TensorFlow sees (imports TensorFlow: slow)."""
    info: dict[str, object] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
    }
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        info["memory_gb"] = round(pages * size / 1e9, 1)
    except (ValueError, OSError, AttributeError):
        info["memory_gb"] = None
    try:
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        info["tensorflow_gpus"] = [d.name for d in gpus]
        info["gpu_names"] = _gpu_names(gpus)
    except ImportError:
        info["tensorflow_gpus"] = info["gpu_names"] = "TensorFlow not installed"
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


def _normalize(name: str) -> str:
    """A distribution name as PyPI compares them (PEP 503: lower case, runs of ``-_.`` -> ``-``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_freeze(text: str) -> dict[str, str]:
    """``{name: version}`` from the text of a ``pip freeze`` (such as Colab's published one).

    Parameters
    ----------
    text : str
        Lines ``name==version``; comments, blank lines and ``name @ url`` lines (a package
        installed from a file or repository, with no version in the line) are skipped.

    Returns
    -------
    dict of str to str
        Normalized names (PEP 503) to version strings.
    """
    out = {}
    for line in text.splitlines():
        name, sep, version = line.split("#")[0].strip().partition("==")
        if sep and name and version:
            out[_normalize(name)] = version.strip()
    return out


def installed_versions() -> dict[str, str]:
    """``{name: version}`` of every distribution the running interpreter sees (names normalized)."""
    return {_normalize(d.metadata["Name"]): d.version for d in metadata.distributions()
            if d.metadata["Name"]}


def changed_packages(before: Mapping[str, str], *,
                     now: Mapping[str, str] | None = None) -> dict[str, tuple[str, str]]:
    """The packages of ``before`` whose installed version is no longer the same.

    Parameters
    ----------
    before : mapping of str to str
        ``{name: version}`` as it was (a snapshot, or Colab's published ``pip freeze``).
    now : mapping of str to str, optional
        As it is now; by default what the running interpreter has installed.

    Returns
    -------
    dict of str to (str, str)
        ``{name: (version before, version now)}``, "removed" where a package is gone; packages
        added since are not changes to ``before`` and are not listed.
    """
    now = installed_versions() if now is None else {_normalize(k): v for k, v in now.items()}
    before = {_normalize(k): v for k, v in before.items()}
    return {name: (version, now.get(name, "removed")) for name, version in sorted(before.items())
            if now.get(name) != version}


def setup_snapshot() -> Path:
    """Where the Colab setup cell keeps the runtime's versions from before it installed anything."""
    return Path(tempfile.gettempdir()) / SETUP_SNAPSHOT


def setup_changes() -> str:
    """One sentence: which of Colab's own packages the setup cell changed (chapter 0 prints it).

    Compares the versions installed now with the snapshot the setup cell wrote before installing
    (:func:`setup_snapshot`); where there is none (not on Colab) it says so.
    """
    path = setup_snapshot()
    if not path.exists():
        return ("No record of a Colab setup (the first cell installs nothing outside Colab): "
                "nothing to compare.")
    before = json.loads(path.read_text())
    changed = changed_packages(before)
    if not changed:
        return f"The setup cell changed none of the {len(before)} packages this runtime started with."
    listed = ", ".join(f"{name} {old} -> {new}" for name, (old, new) in changed.items())
    return (f"The setup cell changed {len(changed)} of the {len(before)} packages this runtime started "
            f"with: {listed}. Restart the runtime (Runtime > Restart session) so that Python uses "
            "the installed versions, and report it to the course.")
