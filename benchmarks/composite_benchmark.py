"""Time and peak memory of chapter 9's composites for a 20 x 20 km area, against one image pair.

A script, not a test (it takes a few minutes)::

    python benchmarks/composite_benchmark.py                 # 20 x 20 km at 20 m (1,000 x 1,000 px)
    python benchmarks/composite_benchmark.py --km 10 --pre-days 60

Offline, on **simulated** data: each case runs in a fresh process (so that its peak resident
memory is its own) and records wall time and peak memory (``ru_maxrss``):

- ``single pair``: chapter 1's load of one pre- and one post-event image (``simulate.scene``);
- ``stack``: every acquisition of the two windows (``simulate.scene_series``, six bands);
- ``median composites``: the stack, then :func:`s2slide.composite.composite_pair` (block by
  block with Dask, as the package always computes a median);
- ``greenest-pixel composites``: the same with ``method="greenest"``.

Generation time is the simulator's, not a download's: online the stack is read from a STAC
catalogue instead, and its time is the network's. It writes ``composite_benchmark.json`` and
``composite_benchmark.md`` into ``--out`` (default ``_build/benchmarks``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

BANDS = ["B02", "B03", "B04", "B08", "B8A", "B11"]


def _case(name: str, px: int, pre_days: int, post_days: int) -> dict:
    """Run one case in this (fresh) process; return its timings and peak memory."""
    from s2slide import composite
    from s2slide.data import simulate
    from s2slide.records import carbon

    row: dict = {"case": name, "pixels": px * px}
    t0 = time.perf_counter()
    if name == "single pair":
        ds = simulate.scene("luding", shape=(px, px))
        row.update(load_s=time.perf_counter() - t0, images=2, input_gb=(ds["pre"].nbytes + ds["post"].nbytes) / 1e9)
    else:
        stack = simulate.scene_series("luding", shape=(px, px), pre_days=pre_days, post_days=post_days, bands=BANDS)
        row.update(load_s=time.perf_counter() - t0, images=int(stack.sizes["time"]),
                   input_gb=stack["reflectance"].nbytes / 1e9)
        if name != "stack":
            t1 = time.perf_counter()
            scene = composite.composite_pair(stack, method="greenest" if name.startswith("greenest") else "median")
            row.update(composite_s=time.perf_counter() - t1,
                       output_gb=(scene["pre"].nbytes + scene["post"].nbytes) / 1e9)
    row["peak_memory_gb"] = carbon.peak_memory_mb() / 1024
    return row


def _markdown(rows: list[dict], meta: dict) -> str:
    head = ("| case | images | input (GB) | load or simulate (s) | composite (s) | peak memory (GB) |\n"
            "|---|---|---|---|---|---|")
    lines = [f"| {r['case']} | {r['images']} | {r['input_gb']:.2f} | {r['load_s']:.1f} | "
             f"{r.get('composite_s', float('nan')):.1f} | {r['peak_memory_gb']:.2f} |" for r in rows]
    return (f"Composites of a {meta['km']:g} x {meta['km']:g} km area ({meta['px']:,} x {meta['px']:,} px at 20 m), "
            f"{meta['pre_days']} days before and {meta['post_days']} after the event, simulated; "
            f"measured {meta['when']} on {meta['cpus']} CPUs.\n\n" + head + "\n" + "\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--km", type=float, default=20.0, help="side of the square area (km)")
    p.add_argument("--pre-days", type=int, default=90)
    p.add_argument("--post-days", type=int, default=60)
    p.add_argument("--out", type=Path, default=Path("_build/benchmarks"))
    args = p.parse_args(argv)
    px = int(round(args.km * 1000 / 20.0))
    rows = []
    ctx = multiprocessing.get_context("spawn")
    for name in ("single pair", "stack", "median composites", "greenest-pixel composites"):
        with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:  # a fresh process per case
            rows.append(pool.submit(_case, name, px, args.pre_days, args.post_days).result())
        print(rows[-1], flush=True)
    meta = {"km": args.km, "px": px, "pre_days": args.pre_days, "post_days": args.post_days,
            "cpus": multiprocessing.cpu_count(), "when": time.strftime("%Y-%m-%d")}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "composite_benchmark.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    (args.out / "composite_benchmark.md").write_text(_markdown(rows, meta))
    print(_markdown(rows, meta))
    return rows


if __name__ == "__main__":
    main()
