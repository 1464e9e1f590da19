"""Is the input pipeline fast enough? Its images/s alone, and the input wait of real training.

``python -m segutils.course.bench pipeline [--data DIR] [--size 128] [--batch 4]`` reads the
membrane PNGs (``DIR/image/N.png`` and ``DIR/label/N.png``) through the pipeline's steps
without a cache (so every image is decoded again) and reports images/s; then the CPU time per
batch of the cached pipeline, the work a training step shares its cores with.

``--fit unet,linknet`` then trains each model with ``segutils.training.fit`` on membrane
(fetched first if missing, so ``SEGUTILS_MIRROR`` applies) at the cpu profile's sizes, with the
default augmentation, for ``--epochs`` x ``--steps``, ``--rounds`` times, and prints the run
record's ``timings.batch_wait_share`` (the steps' time waiting for their batches, target under 5%)
and the step against a fit on one batch in memory (shown, noisy on a shared machine) per round.
LinkNet's encoder is random here (not pretrained): the step costs the same. Taught in
``notebooks/01_data.ipynb``.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

from segutils.course.parameters import models_error, whole

REPO = Path(__file__).resolve().parents[3]
SHARED = REPO.parent / "shared" / "data" / "membrane" / "train"
WAIT_TARGET = 0.05


def default_data() -> Path | None:
    """The membrane training folder: the course data dir first, then ``../shared/data``."""
    from segutils.data.registry import data_root

    candidates = [data_root() / "membrane" / "train", SHARED]
    return next((c for c in candidates if (c / "image").is_dir() and (c / "label").is_dir()), None)


def pipeline_throughput(folder: Path, size: int, batch: int, batches: int, elastic: bool) -> float:
    """Images/s of PNG decode + resize + augment + batch (the steps, no cache), after 2 warm-up batches."""
    from segutils.data import pipeline as steps
    from segutils.data.augment import AugmentConfig

    images = sorted((folder / "image").glob("*.png"), key=lambda p: (len(p.stem), p.stem))
    masks = [folder / "label" / p.name for p in images]
    if not images:
        raise SystemExit(f"no PNG images in {folder / 'image'}")
    binary, rgb = steps.MaskFormat(encoding="binary_0_255"), steps.ImageFormat(channels=3)
    ds = steps.resize(steps.read((images, masks), binary, rgb), size, rgb).repeat()
    ds = steps.batches(steps.augment_pairs(ds, AugmentConfig(elastic=elastic), seed=0), batch, binary)
    iterator = iter(ds)
    for _ in range(2):
        next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        x, _ = next(iterator)
    _ = x.numpy()
    return batches * batch / (time.perf_counter() - start)


def cached_cpu_ms(folder: Path, size: int, batch: int, batches: int, elastic: bool) -> float:
    """CPU milliseconds (all threads) per batch of the cached pipeline, the work left for every training step."""
    from segutils.data import pipeline as steps
    from segutils.data.augment import AugmentConfig

    images = sorted((folder / "image").glob("*.png"))
    binary = steps.MaskFormat(encoding="binary_0_255")
    ds = steps.make_dataset((images, [folder / "label" / p.name for p in images]), size, batch, training=True,
                            augment=AugmentConfig(elastic=elastic), repeat=True, masks=binary)
    iterator = iter(ds)
    for _ in range(len(images) // batch + 2):  # the first pass fills the cache
        next(iterator)
    start = time.process_time()
    for _ in range(batches):
        next(iterator)
    return (time.process_time() - start) * 1000 / batches


def _fit(model, train_ds, val_ds, name: str, profile, epochs: int, steps: int, run_dir: str) -> dict:
    """``training.fit`` for ``epochs`` x ``steps``, without live curves or early stopping."""
    from segutils import training

    protocol = training.Protocol.from_profile(profile, epochs=epochs, steps_per_epoch=steps, patience=None)
    return training.fit(model, train_ds, val_ds, name, protocol=protocol, run_dir=run_dir, quiet=True)


def fit_wait(name: str, size: int, batch: int, epochs: int, steps: int, seed: int) -> dict:
    """The batch wait (and step seconds) that ``training.fit``'s run record reports for one model, and vs memory."""
    import keras

    from segutils import config, training
    from segutils.course.downloads import fetch_missing
    from segutils.data import load, make_dataset
    from segutils.models import build_model

    profile = dataclasses.replace(config.get("cpu"), img_size=size, batch_size=batch, encoder_weights=None)
    fetch_missing("membrane")
    train, val = load("membrane", "train"), load("membrane", "val")
    train_ds = make_dataset(train, size, batch, training=True, seed=seed, repeat=True)
    val_ds = make_dataset(val, size, batch)
    in_memory = train_ds.take(1).cache().repeat()  # one batch, no pipeline work: the same step, never waiting
    found = {}
    for kind, ds in (("pipeline", train_ds), ("memory", in_memory)):
        keras.backend.clear_session()
        keras.utils.set_random_seed(seed)
        model = build_model(name, (size, size, train.info.channels), train.info.num_classes, profile=profile)
        training.compile_model(model, train.info.num_classes, profile=profile)
        with tempfile.TemporaryDirectory() as tmp:
            found[kind] = _fit(model, ds, val_ds, name, profile, epochs, steps, tmp)["timings"]
    step, memory = found["pipeline"]["median_step_s"], found["memory"]["median_step_s"]
    return dict(wait=found["pipeline"]["batch_wait_share"], step_s=step, paired=max(0.0, 1 - memory / step))


def report_fit(models: list[str], args) -> bool:
    """Print the input wait of each round and model; True when every model's median is under the target."""
    ok = True
    for name in models:
        rows = [fit_wait(name, args.size, args.batch, args.epochs, args.steps, seed) for seed in range(args.rounds)]
        steps = ", ".join(f"{r['step_s']:.3f}" for r in rows)
        note = ", encoder not pretrained" if name != "unet" else ""
        for key, what in (("wait", "run record's batch_wait_share"), ("paired", "vs one batch in memory")):
            waits = [r[key] for r in rows]
            median = statistics.median(waits)
            ok &= median < WAIT_TARGET or key == "paired"  # in-memory steps swing by ±15% on a shared machine
            print(f"{name:<8} {what}: {', '.join(f'{w:.1%}' for w in waits)}; median {median:.1%}, spread "
                  f"{min(waits):.1%}..{max(waits):.1%} (steps {steps} s; target < {WAIT_TARGET:.0%}{note})")
    return ok


def _threads(text: str) -> str:
    """``--threads``: ``auto`` or a whole number >= 1."""
    if text != "auto" and not (text.isdigit() and int(text) >= 1):
        raise argparse.ArgumentTypeError(f"takes a whole number >= 1 or auto, got {text!r}")
    return text


def main(argv: list[str] | None = None) -> int:
    summary = __doc__.split("\n")[0]
    parser = argparse.ArgumentParser(prog="python -m segutils.course.bench pipeline", description=summary)
    parser.add_argument("--data", type=Path, help="membrane train folder with image/ and label/")
    parser.add_argument("--size", type=whole(), default=128, help="image side (default: 128, the cpu profile's)")
    parser.add_argument("--batch", type=whole(), default=4, help="batch size (default: 4, the cpu profile's)")
    parser.add_argument("--batches", type=whole(), default=50, help="pipeline batches to time (default: 50)")
    parser.add_argument("--elastic", action="store_true", help="add elastic deformation to the augmentation")
    parser.add_argument("--fit", default="", help="models to train for the input wait, e.g. unet,linknet")
    parser.add_argument("--epochs", type=whole(), default=3, help="--fit: epochs per round (default: 3)")
    parser.add_argument("--steps", type=whole(), default=20, help="--fit: steps per epoch (default: 20)")
    parser.add_argument("--rounds", type=whole(), default=3, help="--fit: rounds per model, seeds 0.. (default: 3)")
    parser.add_argument("--threads", default=None, type=_threads, help="pipeline.THREADS: a number, or auto "
                        "(TensorFlow tunes)")
    parser.add_argument("--strict", action="store_true", help="--fit: exit 1 when a median wait is 5%% or more")
    args = parser.parse_args(argv)
    if args.fit:
        models_error(parser, args.fit, "--fit")
    if args.threads is not None:
        from segutils.data import pipeline

        pipeline.THREADS = 0 if args.threads == "auto" else int(args.threads)
    folder = args.data or default_data()
    if folder is None:
        print(
            "No membrane data found: run `make data` (or `python -m segutils.course.data download membrane`), "
            "or pass --data DIR, the folder holding image/*.png and label/*.png (membrane's train/)",
            file=sys.stderr,
        )
        return 2
    from segutils.data import pipeline

    print(f"data: {folder}  size: {args.size}x{args.size}  batch: {args.batch}  elastic: {args.elastic}  "
          f"threads: {pipeline.threads() or 'auto'}")
    piped = pipeline_throughput(folder, args.size, args.batch, args.batches, args.elastic)
    print(f"pipeline (decode + augment + batch, no cache): {piped:8.1f} images/s  ({args.batches} batches)")
    cpu = cached_cpu_ms(folder, args.size, args.batch, args.batches, args.elastic)
    print(f"pipeline after its cache (shuffle + augment + batch): {cpu:.1f} ms of CPU per batch")
    if not args.fit:
        return 0
    ok = report_fit(args.fit.split(","), args)
    return 0 if ok or not args.strict else 1
