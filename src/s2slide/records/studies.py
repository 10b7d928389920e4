"""Recorded studies: the results of benchmark scripts that a chapter quotes.

A chapter never types a measured number into its prose. Where a claim needs a study too long to
run inside the chapter (several random seeds, many epochs), a script under ``benchmarks/`` runs
it once and writes a JSON record into ``s2slide/records/studies/``, shipped with the package;
the chapter reads it with :func:`load_study` and prints from it. Each record carries its own
provenance under ``"meta"`` (script, settings, date, commit, machine).

Records: ``unet_transfer_study`` (chapter 6; ``benchmarks/unet_transfer_study.py``).
"""

from __future__ import annotations

import json
from importlib import resources

from s2slide.errors import InvalidInputError


def load_study(name: str) -> dict:
    """The record ``name`` (without ``.json``) as a dict with ``meta``, ``summary`` and ``runs``.

    Raises
    ------
    InvalidInputError
        No such record; the message names the records there are and the script to run.
    """
    folder = resources.files("s2slide.records") / "studies"
    path = folder / f"{name}.json"
    if not path.is_file():
        # a fresh checkout has no studies/ folder until a record is committed into it
        have = sorted(p.name[:-5] for p in folder.iterdir()
                      if p.name.endswith(".json")) if folder.is_dir() else []
        raise InvalidInputError(f"no recorded study {name!r} (recorded: "
                                f"{', '.join(have) or 'none'}); run benchmarks/{name}.py to "
                                "make it")
    return json.loads(path.read_text())
