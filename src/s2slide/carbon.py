"""Energy and emissions of a piece of work, with codecarbon (chapter 7).

A thin wrapper around :class:`codecarbon.OfflineEmissionsTracker`: it needs no network,
writes no ``emissions.csv`` and keeps codecarbon's logs quiet. On machines without RAPL
(most cloud VMs and these course machines) codecarbon *estimates* CPU power from load and a
per-thread figure, so the numbers are estimates; chapter 7 discusses how good they are.
"""

from __future__ import annotations

import logging
import resource
import time
import warnings
from dataclasses import asdict, dataclass
from typing import Any

DEFAULT_COUNTRY = "GBR"  # seed 000 compares with the UK's 2022 conversion factors


@dataclass(frozen=True)
class Footprint:
    """What one tracked piece of work cost.

    Attributes
    ----------
    energy_kwh : float
        Energy in kWh (CPU + RAM + GPU as estimated by codecarbon).
    emissions_g : float
        Emissions in g CO2-equivalent for the grid of ``country_iso_code``.
    duration_s : float
        Wall-clock time in seconds.
    peak_memory_mb : float
        Peak resident memory of this process since it started, in MB.
    overhead_s : float
        Seconds spent starting and stopping the tracker itself.
    country_iso_code : str
        ISO 3166-1 alpha-3 code of the grid used for the carbon intensity.
    """

    energy_kwh: float
    emissions_g: float
    duration_s: float
    peak_memory_mb: float
    overhead_s: float
    country_iso_code: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def peak_memory_mb() -> float:
    """Peak resident set size of this process in MB (``ru_maxrss`` is in kB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Tracker:
    """Start/stop tracker for energy, emissions, time and peak memory.

    Examples
    --------
    >>> tracker = Tracker(country_iso_code="GBR").start()   # doctest: +SKIP
    >>> ...                                                # the work
    >>> tracker.stop().emissions_g                         # doctest: +SKIP
    """

    def __init__(self, *, country_iso_code: str = DEFAULT_COUNTRY, project_name: str = "s2slide"):
        self.country_iso_code = country_iso_code
        self.project_name = project_name
        self._tracker: Any = None
        self._t0 = 0.0
        self._overhead = 0.0

    def start(self) -> "Tracker":
        """Start measuring; returns ``self`` so that ``Tracker().start()`` reads well."""
        t = time.perf_counter()
        from codecarbon import OfflineEmissionsTracker  # import first: it configures its logger

        logging.getLogger("codecarbon").setLevel(logging.ERROR)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._tracker = OfflineEmissionsTracker(
                country_iso_code=self.country_iso_code,
                project_name=self.project_name,
                save_to_file=False,
                log_level="error",
                tracking_mode="process",
                measure_power_secs=5,
            )
            self._tracker.start()
        logging.getLogger("codecarbon").setLevel(logging.ERROR)
        self._t0 = time.perf_counter()
        self._overhead = self._t0 - t
        return self

    def stop(self) -> Footprint:
        """Stop measuring and return the :class:`Footprint`."""
        if self._tracker is None:
            from s2slide.errors import S2SlideError

            raise S2SlideError("Tracker.stop() called before start(); call start() first.")
        t = time.perf_counter()
        duration = t - self._t0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            emissions_kg = self._tracker.stop() or 0.0
        data = self._tracker.final_emissions_data
        energy = float(getattr(data, "energy_consumed", 0.0) or 0.0)
        self._overhead += time.perf_counter() - t
        self._tracker = None
        return Footprint(
            energy_kwh=max(energy, 0.0),
            emissions_g=max(float(emissions_kg) * 1000.0, 0.0),
            duration_s=duration,
            peak_memory_mb=peak_memory_mb(),
            overhead_s=self._overhead,
            country_iso_code=self.country_iso_code,
        )
