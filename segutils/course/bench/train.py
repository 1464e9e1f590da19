"""``python -m segutils.course.bench train``: what does ``segutils.training.fit`` cost over a bare ``model.fit``?

For each compared model (built by ``build_model``, compiled by ``compile_model``), trains the
same model on the same ``tf.data`` pipeline for a few epochs, alternately through
``segutils.training.fit`` (all callbacks: checkpoints, CSV, backup, timer, ...) and through a
bare ``model.fit`` with validation and only an epoch clock. Sizes default to the active
profile's (``--profile`` or ``SEGUTILS_PROFILE``). It reports the median seconds per epoch after
the first (compile) epoch, their ratio (target <= 1.05), the share of the steps spent waiting
for their batches (the record's ``batch_wait_share``, target < 5%), the step's slowdown against
batches in memory (``input_wait_share``: waiting plus the pipeline's share of the cores, noisy on
a shared machine; shown, not a target), each call's total seconds (``fit``'s includes its one-off end: the
final and best models, the input-wait probe) and the bytes ``fit`` wrote. ``--strict`` exits 1
when a target is missed.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from . import print_header

RATIO_TARGET, WAIT_TARGET = 1.05, 0.05


def _data(args):
    from segutils.course.downloads import fetch_missing
    from segutils.data import load, make_dataset

    fetch_missing(args.dataset)  # a registered dataset not yet on disk; nothing for shapes or a folder
    kwargs = dict(subset=args.images, seed=0)
    train, val = load(args.dataset, "train", **kwargs), load(args.dataset, "val", **kwargs)
    size = args.size
    train_ds = make_dataset(train, size, args.batch, training=True, seed=0, repeat=True)
    val_ds = make_dataset(val, size, args.batch)
    return train, train_ds, val_ds


def _written_bytes() -> int | None:
    """Bytes this process has handed to ``write()`` so far (Linux ``/proc/self/io``), else None."""
    try:
        fields = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    except OSError:
        return None
    return int(fields["wchar"])


def _bare(model, train_ds, val_ds, epochs, steps) -> tuple[list[float], float]:
    from segutils.training import EpochClock

    clock, start = EpochClock(), time.perf_counter()
    model.fit(train_ds, validation_data=val_ds, epochs=epochs, steps_per_epoch=steps, verbose=0, shuffle=False,
              callbacks=[clock])
    return [clock.seconds[e] for e in sorted(clock.seconds)], time.perf_counter() - start


def _fit(model, name, train_ds, val_ds, profile, args) -> tuple[dict, float, int | None]:
    from segutils import training

    with tempfile.TemporaryDirectory() as tmp:
        written, start = _written_bytes(), time.perf_counter()
        protocol = training.Protocol.from_profile(profile, epochs=args.epochs, steps_per_epoch=args.steps,
                                                  patience=None)
        record = training.fit(model, train_ds, val_ds, name=name, protocol=protocol, run_dir=tmp, quiet=True)
        total = time.perf_counter() - start
        written = None if written is None else _written_bytes() - written
    return record, total, written


def measure(name: str, args) -> dict:
    """Median epoch seconds through ``fit`` and bare ``model.fit`` for one model; totals, input wait, bytes."""
    import keras

    from segutils import config, training
    from segutils.models import build_model

    profile = config.get(args.profile)
    split, train_ds, val_ds = _data(args)
    channels = split.images[0].shape[-1] if split.images[0].ndim == 3 else 1
    num_classes = split.info.num_classes
    rounds = {"segutils": [], "bare": []}
    totals = {"segutils": [], "bare": []}
    waits, slowdowns, written = [], [], None
    for r in range(args.rounds):
        for kind in ("segutils", "bare") if r % 2 == 0 else ("bare", "segutils"):
            keras.backend.clear_session()
            keras.utils.set_random_seed(r)
            model = build_model(name, (args.size, args.size, channels), num_classes, profile=profile)
            training.compile_model(model, num_classes, profile=profile, run_eagerly=False)  # timed as graphs
            if kind == "bare":
                seconds, total = _bare(model, train_ds, val_ds, args.epochs, args.steps)
            else:
                record, total, written = _fit(model, name, train_ds, val_ds, profile, args)
                seconds = record["epoch_seconds"]
                waits.append(record["timings"]["batch_wait_share"])
                slowdowns.append(record["timings"]["input_wait_share"])
            rounds[kind].append(statistics.median(seconds[1:]))
            totals[kind].append(total)
    ours, bare = statistics.median(rounds["segutils"]), statistics.median(rounds["bare"])
    ratios = [a / b for a, b in zip(rounds["segutils"], rounds["bare"], strict=True)]
    return dict(model=name, segutils_s=ours, bare_s=bare, ratio=ours / bare, ratios=ratios,
                batch_wait_share=statistics.median(w or 0.0 for w in waits),
                input_wait_share=statistics.median(w or 0.0 for w in slowdowns),
                segutils_total_s=statistics.median(totals["segutils"]), bare_total_s=statistics.median(totals["bare"]),
                written_mb=None if written is None else written / 1e6)


def main(argv: list[str]) -> int:
    from segutils import config

    parser = argparse.ArgumentParser(prog="python -m segutils.course.bench train", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", help="profile for the sizes, widths and encoder weights (default: the active one)")
    parser.add_argument("--dataset", default="shapes", help="registry name or a folder (default: shapes)")
    parser.add_argument("--size", type=int, help="image side (default: the profile's)")
    parser.add_argument("--batch", type=int, help="batch size (default: the profile's)")
    parser.add_argument("--steps", type=int, help="steps per epoch (default: the profile's, else 20)")
    parser.add_argument("--images", type=int, default=16, help="images per split")
    parser.add_argument("--epochs", type=int, default=5, help="epochs per round; the first is left out")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per model")
    parser.add_argument("--models", default="unet,linknet")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    profile = config.get(args.profile) if args.profile else config.active()
    args.profile = profile.name
    args.size = args.size or profile.img_size
    args.batch = args.batch or profile.batch_size
    args.steps = args.steps or profile.steps_per_epoch or 20
    print(f"{args.dataset}, {args.size}x{args.size}, batch {args.batch}, {args.steps} steps x {args.epochs} "
          f"epochs x {args.rounds} rounds, profile {args.profile} (LinkNet's encoder as that profile says)")
    header = (f"{'model':<8} {'fit s/epoch':>12} {'bare s/epoch':>13} {'ratio':>6} {'per round':>14} "
              f"{'batch wait':>11} {'vs memory':>10} {'fit s':>7} {'bare s':>7} {'fit wrote':>10}")
    print_header(header, f"   targets: ratio <= {RATIO_TARGET}, batch wait < {WAIT_TARGET:.0%}")
    ok = True
    for name in args.models.split(","):
        row = measure(name, args)
        ok &= row["ratio"] <= RATIO_TARGET and row["batch_wait_share"] < WAIT_TARGET
        wrote = "-" if row["written_mb"] is None else f"{row['written_mb']:.1f} MB"
        print(f"{name:<8} {row['segutils_s']:>12.3f} {row['bare_s']:>13.3f} {row['ratio']:>6.3f} "
              f"{'/'.join(f'{r:.2f}' for r in row['ratios']):>14} {row['batch_wait_share']:>10.1%} "
              f"{row['input_wait_share']:>10.1%} "
              f"{row['segutils_total_s']:>7.1f} {row['bare_total_s']:>7.1f} {wrote:>10}")
    if args.strict and not ok:
        print(f"missed a target (ratio <= {RATIO_TARGET}, batch wait < {WAIT_TARGET:.0%})")
        return 1
    return 0
