"""Energy and emissions of a piece of work, with codecarbon (chapter 7).

A thin wrapper around :class:`codecarbon.OfflineEmissionsTracker`: it needs no network (the
grid's carbon intensity comes from codecarbon's own table, for the country you name), writes
no ``emissions.csv`` (nor any other file) and keeps codecarbon's logs quiet. On machines
without RAPL (most cloud VMs and these course machines) codecarbon *estimates* CPU power from
the process's CPU load and a per-thread figure, and RAM power from an assumed number of memory
modules, so the numbers are estimates; chapter 7 discusses how good they are.
"""

from __future__ import annotations

import logging
import resource
import time
import warnings
from dataclasses import asdict, dataclass
from typing import Any

from s2slide import checks
from s2slide.errors import InvalidInputError, S2SlideError

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
    cpu_energy_kwh, ram_energy_kwh, gpu_energy_kwh : float
        The three parts of ``energy_kwh``, in kWh.
    cpu_power_w, ram_power_w, gpu_power_w : float
        The last power estimates codecarbon made, in W.
    cpu_model, gpu_model : str
        The hardware codecarbon detected ("" when none).
    """

    energy_kwh: float
    emissions_g: float
    duration_s: float
    peak_memory_mb: float
    overhead_s: float
    country_iso_code: str
    cpu_energy_kwh: float = 0.0
    ram_energy_kwh: float = 0.0
    gpu_energy_kwh: float = 0.0
    cpu_power_w: float = 0.0
    ram_power_w: float = 0.0
    gpu_power_w: float = 0.0
    cpu_model: str = ""
    gpu_model: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The footprint as a plain dict (what results files store)."""
        return asdict(self)

    @property
    def intensity_g_per_kwh(self) -> float:
        """Emissions per energy, g CO2e/kWh (the grid factor that was applied); NaN if no energy."""
        if not self.energy_kwh > 0:
            return float("nan")
        return implied_intensity(self.emissions_g, self.energy_kwh)


def check_grams(emissions_g: float) -> float:
    """``emissions_g`` as a float, or InvalidInputError unless it is a non-negative mass."""
    value = float(emissions_g)
    if not value >= 0:
        raise InvalidInputError(f"emissions_g={emissions_g}: give a non-negative mass in g CO2e.")
    return value


def implied_intensity(emissions_g: float, energy_kwh: float) -> float:
    """Grid carbon intensity in g CO2e/kWh implied by an emissions and an energy figure."""
    if not energy_kwh > 0:
        raise InvalidInputError(f"energy_kwh={energy_kwh}: the energy must be positive to "
                                "divide by it; was the tracker stopped after some work?")
    return check_grams(emissions_g) / float(energy_kwh)


def peak_memory_mb() -> float:
    """Peak resident set size of this process in MB (``ru_maxrss`` is in kB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def grid_intensity(country_iso_code: str = DEFAULT_COUNTRY) -> float:
    """Carbon intensity of a country's electricity in g CO2e/kWh, from codecarbon's offline table.

    Parameters
    ----------
    country_iso_code : str
        ISO 3166-1 alpha-3 code, e.g. ``"GBR"``, ``"CHN"``, ``"USA"``.

    Raises
    ------
    InvalidInputError
        The code is not in codecarbon's table.
    """
    from codecarbon.input import DataSource

    code = str(country_iso_code).upper()
    mix = DataSource().get_global_energy_mix_data()
    if code not in mix:
        raise InvalidInputError(
            f"country_iso_code={country_iso_code!r} is not in codecarbon's grid table: use an "
            f"ISO 3166-1 alpha-3 code such as 'GBR', 'FRA', 'CHN' or 'USA'.")
    return float(mix[code]["carbon_intensity"])


def _final_data(tracker: Any) -> dict[str, Any]:
    data = getattr(tracker, "final_emissions_data", None)
    return asdict(data) if data is not None else {}


class Tracker:
    """Start/stop tracker for energy, emissions, time and peak memory.

    Also a context manager: after the ``with`` block, ``tracker.footprint`` holds the result.

    Examples
    --------
    >>> tracker = Tracker(country_iso_code="GBR").start()   # doctest: +SKIP
    >>> ...                                                # the work
    >>> tracker.stop().emissions_g                         # doctest: +SKIP
    >>> with Tracker() as t:                               # doctest: +SKIP
    ...     work()
    >>> t.footprint.energy_kwh                             # doctest: +SKIP
    """

    def __init__(self, *, country_iso_code: str = DEFAULT_COUNTRY, project_name: str = "s2slide",
                 measure_power_secs: float = 5.0):
        code = str(country_iso_code).upper()
        if len(code) != 3 or not code.isalpha():
            raise InvalidInputError(f"country_iso_code={country_iso_code!r}: give an ISO 3166-1 "
                                    "alpha-3 code such as 'GBR' (UK), 'FRA' or 'CHN'.")
        if checks.number("measure_power_secs", measure_power_secs) <= 0:
            raise InvalidInputError(f"measure_power_secs={measure_power_secs}: use a positive "
                                    "number of seconds (codecarbon's default is 15).")
        self.country_iso_code = code
        self.project_name = project_name
        self.measure_power_secs = measure_power_secs
        self.footprint: Footprint | None = None
        self._tracker: Any = None
        self._t0 = 0.0
        self._overhead = 0.0

    @property
    def overhead_s(self) -> float:
        """Seconds spent so far in starting (and stopping) codecarbon."""
        return self._overhead

    def start(self) -> "Tracker":
        """Start measuring; returns ``self`` so that ``Tracker().start()`` reads well."""
        t = time.perf_counter()
        from codecarbon import OfflineEmissionsTracker  # import first: it configures its logger

        logging.getLogger("codecarbon").setLevel(logging.ERROR)
        grid_intensity(self.country_iso_code)  # a clear error for an unknown country
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._tracker = OfflineEmissionsTracker(
                country_iso_code=self.country_iso_code, project_name=self.project_name,
                save_to_file=False, save_to_api=False, log_level="error",
                tracking_mode="process", measure_power_secs=self.measure_power_secs,
                allow_multiple_runs=True)
            self._tracker.start()
        logging.getLogger("codecarbon").setLevel(logging.ERROR)
        self.footprint = None
        self._t0 = time.perf_counter()
        self._overhead = self._t0 - t
        return self

    def stop(self) -> Footprint:
        """Stop measuring and return the :class:`Footprint` (also kept as ``self.footprint``)."""
        if self._tracker is None:
            raise S2SlideError("Tracker.stop() called before start(); call start() first.")
        t = time.perf_counter()
        duration = t - self._t0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            emissions_kg = self._tracker.stop() or 0.0
        data = _final_data(self._tracker)
        self._overhead += time.perf_counter() - t
        self._tracker = None
        part = {k: max(float(data.get(k) or 0.0), 0.0) for k in (
            "energy_consumed", "cpu_energy", "ram_energy", "gpu_energy",
            "cpu_power", "ram_power", "gpu_power")}
        self.footprint = Footprint(
            energy_kwh=part["energy_consumed"], emissions_g=max(float(emissions_kg) * 1000.0, 0.0),
            duration_s=duration, peak_memory_mb=peak_memory_mb(), overhead_s=self._overhead,
            country_iso_code=self.country_iso_code, cpu_energy_kwh=part["cpu_energy"],
            ram_energy_kwh=part["ram_energy"], gpu_energy_kwh=part["gpu_energy"],
            cpu_power_w=part["cpu_power"], ram_power_w=part["ram_power"],
            gpu_power_w=part["gpu_power"], cpu_model=str(data.get("cpu_model") or ""),
            gpu_model=str(data.get("gpu_model") or ""))
        return self.footprint

    def __enter__(self) -> "Tracker":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
