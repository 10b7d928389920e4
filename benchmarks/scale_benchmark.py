"""Time and peak memory of the scaled pipeline for a quarter, a half and a whole Sentinel-2 tile.

A script, not a test (it takes minutes)::

    python benchmarks/scale_benchmark.py                      # quarter, half, full; U-Net on
    python benchmarks/scale_benchmark.py --sizes quarter --no-unet
    S2SLIDE_DASK_SCHEDULER=tcp://host:8786 python benchmarks/scale_benchmark.py   # a remote cluster

For each size it runs, in one ``dask.compute``, the dNDVI mask, the K-means model applied chunk
by chunk and tiled U-Net inference on the **simulated** tile of :mod:`s2slide.scale`, and records
wall time, the peak summed memory of the Dask workers (``MemorySampler``) and of this process.
It writes ``scale_benchmark.json`` and ``scale_benchmark.md`` into ``--out``
(default ``_build/benchmarks``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import dask
import numpy as np

from s2slide import scale
from s2slide.records import carbon

SIZES = {"quarter": (scale.TILE_PX // 2, scale.TILE_PX // 2),
         "half": (scale.TILE_PX, scale.TILE_PX // 2),
         "full": (scale.TILE_PX, scale.TILE_PX)}


def _train(chunk: int, *, epochs: int, seed: int):
    """K-means on a sample of 4 chunks and the small U-Net on one chunk of the tile."""
    ds = scale.simulated_tile(size=scale.TILE_PX, chunk=chunk, seed=seed)
    feat = scale.features(ds)
    kmeans = scale.fit_kmeans(scale.sample_pixels(feat, n=20_000, n_chunks=8, seed=seed), seed=seed)
    window = dict(y=slice(0, chunk), x=slice(0, chunk))
    weights = scale.train_unet(feat.isel(**window).values, ds["truth"].isel(**window).values,
                               epochs=epochs, seed=seed)
    return kmeans, weights


def _measure(client, size, *, chunk, kmeans, weights, seed) -> dict:
    ds = scale.simulated_tile(size=size, chunk=chunk, seed=seed)
    lazy = scale.pipeline(ds, kmeans=kmeans, weights=weights)
    t0 = time.perf_counter()
    values, peak_gb = scale.cluster_memory_peak(client, lambda: dask.compute(lazy)[0])
    seconds = time.perf_counter() - t0
    mpx = size[0] * size[1] / 1e6
    row = {"rows": size[0], "cols": size[1], "megapixels": mpx, "chunks": int(np.prod(ds["truth"].data.numblocks)),
           "seconds": seconds, "seconds_per_megapixel": seconds / mpx, "workers_peak_gb": peak_gb,
           "client_peak_gb": carbon.peak_memory_mb() / 1024}
    row["total_peak_gb"] = row["workers_peak_gb"] + row["client_peak_gb"]
    for key, value in values.items():
        if key.endswith(("_pixels", "_true_positives")):
            row[key] = int(value)
    return row


def _markdown(rows: dict, meta: dict) -> str:
    lines = [f"Simulated Sentinel-2 tile, chunks {meta['chunk']} px, {meta['workers']}; "
             f"steps: {', '.join(meta['steps'])}.", "",
             "| size | pixels (M) | chunks | time (s) | s per Mpx | workers peak (GB) | client peak (GB) | total peak (GB) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in rows.items():
        lines.append(f"| {name} ({r['rows']:,} x {r['cols']:,}) | {r['megapixels']:.1f} | {r['chunks']} | "
                     f"{r['seconds']:.1f} | {r['seconds_per_megapixel']:.3f} | {r['workers_peak_gb']:.2f} | "
                     f"{r['client_peak_gb']:.2f} | {r['total_peak_gb']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="quarter,half,full", help="comma-separated: quarter, half, full")
    p.add_argument("--chunk", type=int, default=scale.CHUNK_PX)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--threads", type=int, default=2, help="per worker")
    p.add_argument("--memory-limit", default="3GiB", help="per worker")
    p.add_argument("--no-unet", action="store_true", help="skip the U-Net step")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("_build/benchmarks"))
    args = p.parse_args(argv)
    client = scale.start_client(n_workers=args.workers, threads_per_worker=args.threads,
                                memory_limit=args.memory_limit)
    print("dashboard:", client.dashboard_link)
    t0 = time.perf_counter()  # train in a short-lived process: its memory is freed afterwards
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        kmeans, weights = pool.submit(_train, args.chunk, epochs=args.epochs, seed=args.seed).result()
    train_s = time.perf_counter() - t0
    weights = None if args.no_unet else weights
    _measure(client, (args.chunk, args.chunk), chunk=args.chunk, kmeans=kmeans, weights=weights,
             seed=args.seed)  # warm-up: workers import TensorFlow and build the model once
    rows = {}
    for name in args.sizes.split(","):
        rows[name] = _measure(client, SIZES[name], chunk=args.chunk, kmeans=kmeans, weights=weights,
                              seed=args.seed)
        print(name, json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in rows[name].items()}))
    client.close()
    meta = {"chunk": args.chunk, "workers": f"{args.workers} worker(s) x {args.threads} threads, {args.memory_limit} each",
            "steps": ["dNDVI mask", "K-means (k=4) per chunk"] + ([] if args.no_unet else
                     [f"U-Net {scale.UNET_ARCH} with map_overlap"]),
            "train_s": train_s, "cpu_count": os.cpu_count(), "scheduler": os.environ.get(scale.ADDRESS_ENV, "local")}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scale_benchmark.json").write_text(json.dumps({"meta": meta, "sizes": rows}, indent=2))
    (args.out / "scale_benchmark.md").write_text(_markdown(rows, meta))
    print(_markdown(rows, meta))
    return rows


if __name__ == "__main__":
    main()
