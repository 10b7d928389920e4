"""Chapter 6's comparisons over several random seeds, with more training than its fast mode.

A script, not a test (with the defaults, 11 to 25 minutes per random seed on 2 CPU cores, measured on
the course machine, quiet and shared)::

    python benchmarks/unet_transfer_study.py                       # 5 seeds, 40 epochs
    python benchmarks/unet_transfer_study.py --seeds 0 --epochs 3  # a quick look (not recorded)

For each random seed it builds the chapter's **simulated** source (Landslide4Sense-format patches
of the Luding landscape, and seed 004's bitemporal patches of the same landscape), trains four
U-Nets of the chapter's fast-mode width with the same loss (weighted cross-entropy, the course's
weight), optimiser and number of epochs:

- ``course``: red, green, blue, NIR, slope, DEM with the official normalisation, augmented;
- ``course, no augmentation``: the same without flips and rotations (seed 001's comparison);
- ``seed 001 inputs``: red, green, blue, NDVI, slope, elevation, each patch scaled on its own;
- ``bitemporal``: seed 004's pre- and post-event bands with elevation, slope, sin/cos aspect;

and applies each to the simulated Barhabise target, and to the same valley with one or all of
seed 001's named differences undone (``simulate.TARGET_DIFFERENCES``), scored on the chapter's
scored area (rows 144 and below). It records the best validation F1 (pixel F1, and seed 001's
batch-averaged F1), the epoch it was reached, the transfer precision, recall and F1, and the
mean Wasserstein distance of the course inputs between source and each target.

With ``--out`` (default ``src/s2slide/records/studies``) it writes ``unet_transfer_study.json``,
which chapter 6 reads and quotes; ``--no-save`` only prints.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import time
from pathlib import Path

import numpy as np

from s2slide import metrics, tiling
from s2slide.data import l4s, simulate
from s2slide.models import inputs, unet

SCORED = slice(144, None)          # chapter 6: rows 0-127 are its fine-tuning strip
SOURCE_LANDSCAPES = ("luding",)
MODELS = ("course", "course, no augmentation", "seed 001 inputs", "bitemporal")
OUT = Path(__file__).resolve().parents[1] / "src" / "s2slide" / "records" / "studies"


def _source(seed: int, n: int) -> dict:
    """The training inputs of every model, from the chapter's simulated source."""
    images, masks, label = l4s.load_patches(n, source="simulated", seed=seed,
                                            landscapes=SOURCE_LANDSCAPES)
    pairs = simulate.bitemporal_patches(n, seed=seed, landscapes=SOURCE_LANDSCAPES)
    return {"course": (images, masks),
            "seed 001 inputs": (inputs.seed001_from_normalised(images), masks),
            "bitemporal": (inputs.bitemporal_inputs(pairs.pre, pairs.post, pairs.dem, pairs.slope,
                                                    pairs.aspect), pairs.masks), "label": label}


def _train(kind: str, x: np.ndarray, y: np.ndarray, *, seed: int, epochs: int,
           patience: int | None, base_filters: int, folder: Path) -> tuple:
    """Train one model as the chapter does; return it, its history and its validation indices."""
    import keras

    keras.utils.set_random_seed(seed)
    aspect = (-2, -1) if kind == "bitemporal" else None
    train, val, train_idx, val_idx = inputs.make_datasets(x, y, batch_size=16, seed=seed,
                                                          augment="no augmentation" not in kind,
                                                          aspect=aspect)
    if kind == "bitemporal":
        model = unet.build_bitemporal_unet(4, base_filters=base_filters, seed=seed)
    elif kind == "seed 001 inputs":   # scaled per patch to -1..1 by seed 001's own rule
        model = unet.build_unet(x.shape[-1], base_filters=base_filters, seed=seed)
    else:                             # as the chapter: standardised with the training moments
        mean, std = l4s.normalised_moments(reference=x[train_idx])
        model = unet.build_unet(x.shape[-1], base_filters=base_filters, seed=seed,
                                input_mean=mean, input_std=std)
    unet.compile_unet(model, loss="weighted_bce", pos_weight=inputs.positive_weight(y[train_idx]))
    t0 = time.perf_counter()
    hist = unet.train_unet(model, train, val, epochs=epochs, patience=patience, verbose=0,
                           checkpoint=folder / f"{kind.replace(' ', '_').replace(',', '')}"
                                                  ".weights.h5")
    return model, hist, train_idx, val_idx, time.perf_counter() - t0


def _targets(seed: int) -> dict:
    """The Barhabise target, the same valley with each difference undone, and with all undone."""
    out = {"Barhabise": simulate.scene("barhabise", seed=seed)}
    for name in simulate.TARGET_DIFFERENCES:
        preset = simulate.preset_without("barhabise", name)
        out[f"without {name}"] = simulate.scene(preset, seed=seed)
    out["without all five"] = simulate.scene(simulate.preset_without("barhabise"), seed=seed)
    return out


def _scene_input(kind: str, scene, reference: np.ndarray) -> np.ndarray:
    """The scene as ``kind``'s input; the course's is moment-matched to ``reference`` (its
    training images), as in the chapter."""
    if kind.startswith("course"):
        return l4s.scene_channels(scene, valid=scene["valid"].values, reference=reference)
    if kind == "seed 001 inputs":
        return l4s.scene_file_units(scene)
    return inputs.bitemporal_scene(scene)


def _transfer(kind: str, model, scene, reference: np.ndarray) -> dict:
    x = _scene_input(kind, scene, reference)
    step = inputs.seed001_inputs if kind == "seed 001 inputs" else (lambda b: b)
    prob = tiling.predict_tiled(x, lambda b: model.predict(step(b), verbose=0), tile=128,
                                overlap=32)
    truth, valid = scene["truth"].values[SCORED], scene["valid"].values[SCORED]
    s = metrics.scores(truth, (prob[SCORED] > 0.5).astype(np.uint8), valid=valid)
    return {k: float(s[k]) for k in ("precision", "recall", "f1")}


def _distance(source: np.ndarray, scene) -> float:
    """Mean over the six course channels of the Wasserstein distance, source to target."""
    from scipy import stats

    tgt = l4s.scene_channels(scene, valid=scene["valid"].values, reference=source)[SCORED]
    tgt = tgt[scene["valid"].values[SCORED]]
    src = source.reshape(-1, source.shape[-1])[::20]
    return float(np.mean([stats.wasserstein_distance(src[:, k], tgt[:, k])
                          for k in range(src.shape[-1])]))


def run_seed(seed: int, *, n: int, epochs: int, patience: int | None, base_filters: int,
             folder: Path) -> dict:
    src = _source(seed, n)
    targets = _targets(seed)
    out = {"distance": {name: _distance(src["course"][0], sc) for name, sc in targets.items()}}
    for kind in MODELS:
        x, y = src["bitemporal" if kind == "bitemporal" else
                   "seed 001 inputs" if kind == "seed 001 inputs" else "course"]
        model, hist, train_idx, val_idx, seconds = _train(
            kind, x, y, seed=seed, epochs=epochs, patience=patience, base_filters=base_filters,
            folder=folder)
        best = int(np.argmax(hist["val_f1"]))
        prob = model.predict(x[val_idx], verbose=0)
        out[kind] = {"val_f1": hist["val_f1"][best], "best_epoch": best + 1,
                     "epochs_trained": len(hist["val_f1"]), "val_f1_curve": hist["val_f1"],
                     "val_f1_last5": float(np.mean(hist["val_f1"][-5:])),
                     "val_f1_batch_mean": unet.batch_mean_f1(y[val_idx], prob, batch_size=16),
                     "seconds": seconds,
                     "transfer": {name: _transfer(kind, model, sc, x[train_idx])
                                  for name, sc in targets.items()}}
        print(seed, kind, json.dumps({k: v for k, v in out[kind].items() if k != "transfer"}),
              {k: round(v["f1"], 3) for k, v in out[kind]["transfer"].items()}, flush=True)
    return out


def summary(runs: dict) -> dict:
    """Mean and sample standard deviation over the seeds of every recorded number."""
    def collect(get):
        vals = np.array([get(r) for r in runs.values()], float)
        std = float(vals.std(ddof=1)) if len(vals) > 1 else 0.0
        return {"mean": float(vals.mean()), "std": std, "values": vals.tolist()}

    first = next(iter(runs.values()))
    out = {"distance": {t: collect(lambda r, t=t: r["distance"][t]) for t in first["distance"]}}
    for kind in MODELS:
        out[kind] = {k: collect(lambda r, k=k: r[kind][k])
                     for k in ("val_f1", "val_f1_batch_mean", "best_epoch", "epochs_trained",
                               "val_f1_last5")}
        out[kind]["transfer"] = {t: {m: collect(lambda r, t=t, m=m: r[kind]["transfer"][t][m])
                                     for m in ("precision", "recall", "f1")}
                                 for t in first[kind]["transfer"]}
    return out


def _meta(args, seconds: float) -> dict:
    import s2slide

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=False,
                                cwd=Path(s2slide.__file__).parent).stdout.strip()
    except OSError:
        commit = ""
    return {"script": "benchmarks/unet_transfer_study.py", "seeds": args.seeds,
            "patches": args.patches, "epochs": args.epochs, "patience": args.patience,
            "base_filters": args.base_filters,
            "batch": 16, "source": f"simulated, {' + '.join(SOURCE_LANDSCAPES)} landscape",
            "target": "simulated Barhabise (s2slide.data.simulate), rows 144 and below",
            "models": list(MODELS), "differences": list(simulate.TARGET_DIFFERENCES),
            "date": datetime.date.today().isoformat(), "git_commit": commit,
            "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores", "seconds": seconds,
            "code_note": args.code_note}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--patches", type=int, default=240)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--patience", type=int, default=None,
                   help="stop once the validation F1 has not improved for this many epochs "
                        "(default: train all epochs and keep the best one, as seed 001 does)")
    p.add_argument("--base-filters", type=int, default=8)
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--no-save", action="store_true")
    p.add_argument("--code-note", default="", help="where the code came from, if not a commit")
    args = p.parse_args(argv)
    folder = Path(os.environ.get("S2SLIDE_CACHE", "/tmp")) / "unet_transfer_study"
    t0 = time.perf_counter()
    runs = {str(s): run_seed(s, n=args.patches, epochs=args.epochs, patience=args.patience,
                             base_filters=args.base_filters, folder=folder) for s in args.seeds}
    record = {"meta": _meta(args, time.perf_counter() - t0), "summary": summary(runs), "runs": runs}
    if not args.no_save:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "unet_transfer_study.json").write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record["summary"], indent=1))
    return record


if __name__ == "__main__":
    main()
