"""Putting a measured footprint in context (chapter 7).

Everyday comparison factors, seed 000's published footprint, and tables of the chapters'
footprints read from their results files (:func:`s2slide.records.results.read_results`).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from s2slide.records import results
from s2slide.errors import InvalidInputError
from s2slide.records.carbon import check_grams

#: UK government GHG conversion factors 2022 (DESNZ/BEIS), as quoted by seed 000, g CO2e per km.
PETROL_CAR_G_PER_KM = 170.0
DOMESTIC_FLIGHT_G_PER_KM = 246.0
#: UK electricity generation, 2022 conversion factors, g CO2e per kWh (0.19338 kg/kWh).
UK_GRID_2022_G_PER_KWH = 193.38

#: Seed 000's codecarbon figures for one run of its notebook on Colab, and its development factor.
SEED_000: dict[str, float] = {"emissions_g": 5.8, "energy_kwh": 0.009029, "development_factor": 30.0}

_COLUMNS = {"source": "data source", "mode": "mode", "duration_s": "time (s)",
            "peak_memory_mb": "peak memory (MB)", "energy_kwh": "energy (kWh)",
            "emissions_g": "emissions (g CO2e)", "overhead_s": "tracker overhead (s)"}


def equivalents(emissions_g: float) -> dict[str, float]:
    """Distance in metres that emits ``emissions_g`` g CO2e by petrol car and by domestic flight.

    Uses the UK 2022 conversion factors quoted by seed 000 (170 and 246 g CO2e/km).
    """
    grams = check_grams(emissions_g)
    return {"petrol car (m)": grams / PETROL_CAR_G_PER_KM * 1000.0,
            "domestic flight (m)": grams / DOMESTIC_FLIGHT_G_PER_KM * 1000.0}


def development_estimate(emissions_g: float, *, factor: float = SEED_000["development_factor"]) -> float:
    """Seed 000's rule of thumb: developing costs ``factor`` (30) times one final run, in g CO2e."""
    if factor < 1:
        raise InvalidInputError(f"factor={factor}: development means at least one run (>= 1).")
    return check_grams(emissions_g) * float(factor)


def chapter_table(records: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """One row per chapter: source, mode, time, peak memory, energy, emissions, tracker overhead.

    Parameters
    ----------
    records : dict
        ``{chapter: results record}`` as returned by :func:`s2slide.records.results.read_results`.
        A chapter without a ``footprint`` (still running, or not tracked) gets empty numbers.
    """
    rows = {}
    for chapter, rec in records.items():
        fp = rec.get("footprint") or {}
        row: dict[str, Any] = {"source": results.sources_text(rec), "mode": rec.get("mode", "–")}
        row.update({k: fp.get(k) for k in ("duration_s", "peak_memory_mb", "energy_kwh",
                                           "emissions_g", "overhead_s")})
        rows[chapter] = row
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(_COLUMNS))
    return table.rename(columns=_COLUMNS).rename_axis("chapter")


def totals(table: pd.DataFrame) -> pd.Series:
    """Sums of time, energy and emissions of a :func:`chapter_table`, and how many chapters count."""
    numbers = table[["time (s)", "energy (kWh)", "emissions (g CO2e)"]].apply(
        pd.to_numeric, errors="coerce")
    out = numbers.sum(min_count=0)
    out["chapters measured"] = int(numbers["energy (kWh)"].notna().sum())
    return out
