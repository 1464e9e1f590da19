"""``python -m segutils.course.bench train``: what do the course's callbacks cost over a bare ``model.fit``?

For each compared model (built by ``build_model``, compiled by ``compile_model``), two copies train side by
side on the same ``tf.data`` pipeline, one epoch each in turn (who goes first alternates): one with
``Run.callbacks()`` (best weights and backup, CSV log, schedule, step timer, epoch clock) on a stamped
pipeline, as notebook 05 trains, the other with an epoch clock alone. Each pair of neighbouring epochs gives
one ratio; the median of the ``--epochs`` ratios is the cost (target <= 1.05; the first pair, which compiles,
is left out). Epochs paired in time cancel the machine's drift, which moves whole minutes by 10-20 % on a
shared machine; ``--control`` puts a bare model on both sides to show what is left of it. One ordinary
``training.fit`` of 5 epochs per model gives the share of the steps spent waiting for their batches (the
record's ``batch_wait_share``, target < 5 %), the step's slowdown against batches in memory (the record's
``input_wait_share``: shown, not a target) and the bytes ``fit`` wrote. Sizes default to the active
profile's (``--profile`` or ``SEGUTILS_PROFILE``). ``--strict`` exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from segutils.course.parameters import models_error, whole

from . import print_header

RATIO_TARGET, WAIT_TARGET = 1.05, 0.05
FIT_EPOCHS = 5  # the ordinary training.fit that measures the batch wait and the bytes written


def _data(args):
    from segutils.course.downloads import fetch_missing
    from segutils.data import load, make_dataset

    fetch_missing(args.dataset)  # a registered dataset not yet on disk; nothing for shapes or a folder
    kwargs = dict(subset=args.images, seed=0)
    train, val = load(args.dataset, "train", **kwargs), load(args.dataset, "val", **kwargs)
    train_ds = make_dataset(train, args.size, args.batch, training=True, seed=0, repeat=True)
    return train, train_ds, make_dataset(val, args.size, args.batch)


def _written_bytes() -> int | None:
    """Bytes this process has handed to ``write()`` so far (Linux ``/proc/self/io``), else None."""
    try:
        fields = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    except OSError:
        return None
    return int(fields["wchar"])


def _models(name, split, args, profile, count: int) -> list:
    import keras

    from segutils import training
    from segutils.models import build_model

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    channels = split.images[0].shape[-1] if split.images[0].ndim == 3 else 1
    models = [build_model(name, (args.size, args.size, channels), split.info.num_classes, profile=profile)
              for _ in range(count)]
    for model in models:
        training.compile_model(model, split.info.num_classes, profile=profile, run_eagerly=False)  # timed as graphs
    return models


def _one_fit(name, split, train_ds, val_ds, profile, args) -> tuple[dict, int | None]:
    """The record of one ordinary ``training.fit`` and the bytes it wrote."""
    from segutils import training

    (model,) = _models(name, split, args, profile, 1)
    with tempfile.TemporaryDirectory() as tmp:
        written = _written_bytes()
        protocol = training.Protocol.from_profile(profile, epochs=FIT_EPOCHS, steps_per_epoch=args.steps,
                                                  patience=None)
        record = training.fit(model, train_ds, val_ds, name=name, protocol=protocol, run_dir=tmp, quiet=True)
        return record, None if written is None else _written_bytes() - written


def paired_epochs(name, split, train_ds, val_ds, profile, args) -> dict[str, list[float]]:
    """Seconds of each epoch after the first of two copies of the model trained one epoch each in turn:
    ``"segutils"`` with ``Run.callbacks()`` (bare too with ``args.control``), ``"bare"`` with a clock alone."""
    from segutils import training

    ours, bare = _models(name, split, args, profile, 2)
    seconds = {"segutils": [], "bare": []}
    protocol = training.Protocol.from_profile(profile, epochs=args.epochs + 1, steps_per_epoch=args.steps,
                                              patience=None)
    with tempfile.TemporaryDirectory() as tmp, training.Run.open(ours, train_ds, val_ds, name, protocol, tmp,
                                                                 quiet=True, measure_input_wait=False) as run:
        for epoch in range(args.epochs + 1):
            turns = [("segutils", ours), ("bare", bare)]
            for kind, model in turns if epoch % 2 == 0 else turns[::-1]:
                clock, data, callbacks = training.EpochClock(), train_ds, []
                if kind == "segutils" and not args.control:
                    data, callbacks = run.stamped(train_ds), run.callbacks(stop_early=False)
                model.fit(data, validation_data=val_ds, initial_epoch=epoch, epochs=epoch + 1,
                          steps_per_epoch=args.steps, verbose=0, shuffle=False, callbacks=[*callbacks, clock])
                if epoch:  # the first epoch of each copy compiles its graphs
                    seconds[kind].append(clock.seconds[epoch])
    return seconds


def measure(name: str, args) -> dict:
    """The median ratio of paired epochs, each side's median seconds; one ordinary fit's waits and bytes."""
    from segutils import config

    profile = config.get(args.profile)
    split, train_ds, val_ds = _data(args)
    record, written = (None, None) if args.control else _one_fit(name, split, train_ds, val_ds, profile, args)
    seconds = paired_epochs(name, split, train_ds, val_ds, profile, args)
    ratios = [a / b for a, b in zip(seconds["segutils"], seconds["bare"], strict=True)]
    timings = record["timings"] if record else {}
    return dict(model=name, segutils_s=statistics.median(seconds["segutils"]),
                bare_s=statistics.median(seconds["bare"]), ratio=statistics.median(ratios),
                quartiles=statistics.quantiles(ratios, n=4)[::2],
                batch_wait_share=timings.get("batch_wait_share") or 0.0,
                input_wait_share=timings.get("input_wait_share") or 0.0,
                written_mb=None if written is None else written / 1e6)


def main(argv: list[str]) -> int:
    from segutils import config

    parser = argparse.ArgumentParser(prog="python -m segutils.course.bench train", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", help="profile for the sizes, widths and encoder weights (default: the active one)")
    parser.add_argument("--dataset", default="shapes", help="registry name or a folder (default: shapes)")
    parser.add_argument("--size", type=whole(), help="image side (default: the profile's)")
    parser.add_argument("--batch", type=whole(), help="batch size (default: the profile's)")
    parser.add_argument("--steps", type=whole(), help="steps per epoch (default: the profile's, else 20)")
    parser.add_argument("--images", type=whole(), default=16, help="images per split")
    parser.add_argument("--epochs", type=int, default=20, help="paired epochs measured per model (after the first)")
    parser.add_argument("--models", default="unet,linknet")
    parser.add_argument("--control", action="store_true",
                        help="a bare model.fit on both sides: the ratio this machine gives when nothing differs")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error(f"--epochs {args.epochs}: give at least 2 paired epochs (the default 20 resolves about 2 %)")
    models_error(parser, args.models)
    profile = config.get(args.profile) if args.profile else config.active()
    args.profile = profile.name
    args.size = args.size or profile.img_size
    args.batch = args.batch or profile.batch_size
    args.steps = args.steps or profile.steps_per_epoch or 20
    sides = "bare against bare (--control)" if args.control else "Run.callbacks() against bare"
    print(f"{args.dataset}, {args.size}x{args.size}, batch {args.batch}, {args.steps} steps x {args.epochs} paired "
          f"epochs, {sides}, profile {args.profile} (LinkNet's encoder as that profile says)")
    header = (f"{'model':<8} {'fit s/epoch':>12} {'bare s/epoch':>13} {'ratio':>6} {'quartiles':>10} "
              f"{'batch wait':>11} {'vs memory':>10} {'fit wrote':>10}")
    print_header(header, f"   targets: ratio <= {RATIO_TARGET}, batch wait < {WAIT_TARGET:.0%}")
    ok = True
    for name in args.models.split(","):
        row = measure(name, args)
        ok &= row["ratio"] <= RATIO_TARGET and row["batch_wait_share"] < WAIT_TARGET
        wrote = "-" if row["written_mb"] is None else f"{row['written_mb']:.1f} MB"
        print(f"{name:<8} {row['segutils_s']:>12.3f} {row['bare_s']:>13.3f} {row['ratio']:>6.3f} "
              f"{'-'.join(f'{q:.2f}' for q in row['quartiles']):>10} {row['batch_wait_share']:>10.1%} "
              f"{row['input_wait_share']:>10.1%} {wrote:>10}")
    if args.strict and not ok:
        print(f"missed a target (ratio <= {RATIO_TARGET}, batch wait < {WAIT_TARGET:.0%})")
        return 1
    return 0
