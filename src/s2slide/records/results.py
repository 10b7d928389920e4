"""Results files: every chapter writes its key numbers to ``<results_dir>/NN_slug.json``.

Later pages (the execution statistics, chapter 7) and checks aggregate them. A chapter
never *needs* another chapter's results file: readers skip what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass

import json
import platform
import sys
import warnings
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from s2slide import config, files
from s2slide.errors import InvalidInputError
from s2slide.records.carbon import DEFAULT_COUNTRY, Tracker

MAIN_PACKAGES = (
    "s2slide", "numpy", "xarray", "rasterio", "scikit-learn", "opencv-python-headless",
    "tensorflow-cpu", "tensorflow", "keras", "dask", "distributed", "codecarbon", "jupyter-book",
)


def package_versions(names: tuple[str, ...] = MAIN_PACKAGES) -> dict[str, str]:
    """Installed versions of the course's main packages (missing ones are left out)."""
    found: dict[str, str] = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def _jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays and paths so that ``json`` can write them."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and value != value:  # NaN is not valid JSON
        return None
    return value


def write_results(chapter: str, record: dict[str, Any], folder: Path | None = None) -> Path:
    """Write ``record`` to ``<folder>/<chapter>.json`` atomically and return the path.

    Raises :class:`~s2slide.errors.InvalidInputError` naming the entry JSON cannot hold (nothing
    is written then); a crash mid-write leaves the previous file as it was.
    """
    folder = folder or config.results_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return files.write_text(folder / f"{chapter}.json", _dumps(record))


def _dumps(record: dict[str, Any]) -> str:
    """``record`` as JSON text; InvalidInputError naming the first entry JSON cannot encode."""
    if not isinstance(record, dict):
        raise InvalidInputError(f"a results record is a dict of numbers and text, not a "
                                f"{type(record).__name__}.")
    try:
        return json.dumps(_jsonable(record), indent=2, sort_keys=True)
    except (TypeError, ValueError) as err:
        bad = next((k for k, v in record.items() if not _encodes(v)), "?")
        raise InvalidInputError(f"results entry {bad!r} cannot be written to JSON ({err}): record "
                                "numbers, text, lists or dicts of them (e.g. float(x), str(x)).") from err


def _encodes(value: Any) -> bool:
    try:
        json.dumps(_jsonable(value))
    except (TypeError, ValueError):
        return False
    return True


def read_results(folder: Path | None = None) -> dict[str, dict[str, Any]]:
    """Read every ``*.json`` results file in ``folder``, keyed by chapter (sorted).

    A file that is not a results record (not JSON, or JSON that is not an object, e.g. ``null``)
    is skipped with a warning naming it.
    """
    folder = folder or config.results_dir()
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(folder.glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            record = None
        if isinstance(record, dict):
            out[path.stem] = record
        else:
            warnings.warn(f"{path} is not a results file (not a JSON object); skipped: delete it, "
                          "or run its chapter again to rewrite it.", stacklevel=2)
    return out


class ChapterRun:
    """The bookkeeping of one chapter run: footprint, numbers, source, mode.

    Examples
    --------
    In the imports cell of a chapter::

        run = results.ChapterRun("02_alignment", mode=MODE).start()

    then ``run.record(source=..., ecc_error_px=...)`` as numbers are computed, and in the
    last cell ``run.finish()``, which writes ``_build/results/02_alignment.json``.
    """

    def __init__(self, chapter: str, *, mode: str = "n/a",
                 country_iso_code: str = DEFAULT_COUNTRY, track_carbon: bool = True):
        self.chapter = chapter
        self.values: dict[str, Any] = {"chapter": chapter, "mode": mode}
        self._tracker = Tracker(country_iso_code=country_iso_code) if track_carbon else None

    def start(self) -> "ChapterRun":
        """Start the footprint tracker and note the start time (``started_utc``); returns ``self``."""
        self.values["started_utc"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        if self._tracker is not None:
            self._tracker.start()
        return self

    def record(self, **values: Any) -> dict[str, Any]:
        """Add or update numbers of this run (nested dicts are merged one level deep)."""
        for key, value in values.items():
            old = self.values.get(key)
            if isinstance(old, dict) and isinstance(value, dict):
                old.update(value)
            else:
                self.values[key] = value
        return self.values

    def finish(self) -> "Finished":
        """Stop the tracker and write the results file.

        Returns a :class:`Finished` record (path-like: ``os.fspath`` gives the file) whose one-line
        display ends the chapter with its footprint rather than a bare ``PosixPath(...)``.
        """
        if self._tracker is not None:
            self.values["footprint"] = self._tracker.stop().as_dict()
        self.values["finished_utc"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.values["platform"] = {"python": sys.version.split()[0], "machine": platform.machine(),
                                   "offline": config.offline()}
        self.values["versions"] = package_versions()
        return Finished(write_results(self.chapter, self.values), self.values.get("footprint") or {})


@dataclass(frozen=True)
class Finished:
    """What :meth:`ChapterRun.finish` wrote: the results file and the run's footprint."""

    path: Path
    footprint: dict[str, Any]

    def __fspath__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        fp = self.footprint
        if not fp:
            return f"numbers of this run saved to {self.path}"
        return (f"this run: {fp.get('duration_s', 0):.1f} s, peak memory {fp.get('peak_memory_mb', 0):,.0f} MB, "
                f"{fp.get('energy_kwh', 0):.2g} kWh, {fp.get('emissions_g', 0):.2g} g CO2e "
                f"(codecarbon estimates); numbers saved to {self.path}")


def split_current(records: dict[str, dict[str, Any]], *, chapter: str, started_utc: str,
                  notebooks: Path | None = None) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Which other chapters' results belong to this run of ``chapter``, and why the rest do not.

    A book build runs the chapters in order, so a results file of a chapter that comes after
    ``chapter`` and finished before ``chapter`` started is left from an earlier run; a file older
    than its chapter's notebook (in ``notebooks``, when given) was written before the chapter
    last changed; a file without ``finished_utc`` is unfinished. Timestamps are ISO 8601 (UTC).

    Returns
    -------
    (dict, dict)
        The current records (as given), and ``{chapter: reason}`` for the others.
    """
    current, stale = {}, {}
    start = datetime.fromisoformat(started_utc)
    for name, rec in records.items():
        finished = rec.get("finished_utc")
        done = datetime.fromisoformat(finished) if finished else None
        source = notebooks / f"{name}.ipynb" if notebooks is not None else None
        if done is None:
            stale[name] = "unfinished: no finishing time in its results file"
        elif name > chapter and done < start:
            stale[name] = f"from an earlier run ({finished}): it runs after {chapter} in the book"
        elif source is not None and source.is_file() and source.stat().st_mtime > done.timestamp():
            stale[name] = f"older ({finished}) than its notebook, which changed since"
        else:
            current[name] = rec
    return current, stale


def sources_text(record: dict[str, Any]) -> str:
    """The data a chapter showed, for tables: ``sources`` (a chapter may show several) else ``source``."""
    value = record.get("sources") or record.get("source") or "–"
    return ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _plain(value: Any, decimals: int) -> str:
    """Seconds and megabytes in plain digits (``1,234``), never ``1.23e+03``."""
    return "–" if value is None else f"{float(value):,.{decimals}f}"


def statistics_markdown(records: dict[str, dict[str, Any]]) -> str:
    """Markdown table of time, memory, energy, emissions, source and mode per chapter."""
    lines = [
        "| chapter | data source | mode | time (s) | peak memory (MB) | energy (kWh) | emissions (g CO2e) |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    total_t = total_e = total_g = 0.0
    for chapter, rec in records.items():
        fp = rec.get("footprint") or {}
        sources = sources_text(rec)
        lines.append(
            f"| {chapter} | {sources} | {rec.get('mode', '–')} | {_plain(fp.get('duration_s'), 1)} | "
            f"{_plain(fp.get('peak_memory_mb'), 0)} | {_fmt(fp.get('energy_kwh'))} | "
            f"{_fmt(fp.get('emissions_g'))} |"
        )
        total_t += fp.get("duration_s") or 0.0
        total_e += fp.get("energy_kwh") or 0.0
        total_g += fp.get("emissions_g") or 0.0
    lines.append(f"| **total** | | | {_plain(total_t, 1)} | | {_fmt(total_e)} | {_fmt(total_g)} |")
    return "\n".join(lines) + "\n"


def render_statistics(out: Path, folder: Path | None = None) -> bool:
    """Write the execution-statistics fragment to ``out``; return True if its content changed.

    The file is only rewritten when its content changes, so an unchanged book is not rebuilt.
    """
    records = read_results(folder)
    if records:
        first = next(iter(records.values()))
        versions = ", ".join(f"{k} {v}" for k, v in sorted((first.get("versions") or {}).items()))
        text = (statistics_markdown(records)
                + f"\nMeasured when the book was last built; package versions: {versions}.\n")
    else:
        text = ("No chapter has written a results file yet: build the book with `make book` "
                "and this table fills in.\n")
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists() and out.read_text() == text:
        return False
    out.write_text(text)
    return True


if __name__ == "__main__":  # python -m s2slide.records.results OUT.md [RESULTS_DIR]
    target = Path(sys.argv[1])
    source = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    print("changed" if render_statistics(target, source) else "unchanged")
