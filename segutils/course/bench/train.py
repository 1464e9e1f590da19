"""``python -m segutils.course.bench train``: what does ``segutils.training.fit`` cost over a bare ``model.fit``?

For each compared model (built by ``build_model``, compiled by ``compile_model``), trains the
same model on the same ``tf.data`` pipeline for a few epochs, alternately through
``segutils.training.fit`` (all callbacks: checkpoint, CSV, backup, timer, ...) and through a
bare ``model.fit`` with validation and no callbacks. It reports the median seconds per epoch
after the first (compile) epoch, their ratio (target <= 1.05), and the share of each step spent
waiting for input (target < 5%).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

RATIO_TARGET, WAIT_TARGET = 1.05, 0.05


def _data(args):
    from segutils.data import load, make_dataset

    kwargs = dict(subset=args.images, seed=0)
    train, val = load(args.dataset, "train", **kwargs), load(args.dataset, "val", **kwargs)
    size = args.size
    train_ds = make_dataset(train, size, args.batch, training=True, seed=0, repeat=True)
    val_ds = make_dataset(val, size, args.batch)
    return train, train_ds, val_ds


def _bare_epoch_seconds(model, train_ds, val_ds, epochs, steps) -> list[float]:
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        model.fit(train_ds, validation_data=val_ds, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False)
        times.append(time.perf_counter() - start)
    return times


def measure(name: str, args) -> dict:
    """Median epoch seconds through ``fit`` and bare ``model.fit`` for one model; and the input wait."""
    import keras

    from segutils import config, training
    from segutils.models import build_model

    profile = config.get(args.profile)
    split, train_ds, val_ds = _data(args)
    channels = split.images[0].shape[-1] if split.images[0].ndim == 3 else 1
    num_classes = split.info.num_classes
    rounds = {"segutils": [], "bare": []}
    wait = None
    for r in range(args.rounds):
        for kind in ("segutils", "bare") if r % 2 == 0 else ("bare", "segutils"):
            keras.backend.clear_session()
            keras.utils.set_random_seed(r)
            model = build_model(name, (args.size, args.size, channels), num_classes, profile=profile)
            training.compile_model(model, num_classes, profile=profile, run_eagerly=False)  # timed as graphs
            if kind == "bare":
                seconds = _bare_epoch_seconds(model, train_ds, val_ds, args.epochs, args.steps)
            else:
                with tempfile.TemporaryDirectory() as tmp:
                    protocol = training.Protocol.from_profile(profile, epochs=args.epochs, steps_per_epoch=args.steps,
                                                              patience=None)
                    record = training.fit(model, train_ds, val_ds, name=name, protocol=protocol, run_dir=tmp,
                                          quiet=True)
                seconds = record["epoch_seconds"]
                wait = record["timings"]["input_wait_share"]
            rounds[kind].append(statistics.median(seconds[1:]))
    ours, bare = statistics.median(rounds["segutils"]), statistics.median(rounds["bare"])
    return dict(model=name, segutils_s=ours, bare_s=bare, ratio=ours / bare, input_wait_share=wait)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m segutils.course.bench train", description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="shapes", help="registry name or a folder (default: shapes)")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--images", type=int, default=16, help="images per split")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per round; the first is left out")
    parser.add_argument("--steps", type=int, default=8, help="steps per epoch")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per model")
    parser.add_argument("--profile", default="ci", help="profile for widths and encoder weights")
    parser.add_argument("--models", default="unet,linknet")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    print(f"{args.dataset}, {args.size}x{args.size}, batch {args.batch}, {args.steps} steps x {args.epochs} "
          f"epochs x {args.rounds} rounds, profile {args.profile} (LinkNet's encoder as that profile says)")
    header = f"{'model':<8} {'fit s/epoch':>12} {'bare s/epoch':>13} {'ratio':>6} {'input wait':>11}"
    print(header + f"   targets: ratio <= {RATIO_TARGET}, wait < {WAIT_TARGET:.0%}")
    print("-" * len(header))
    ok = True
    for name in args.models.split(","):
        row = measure(name, args)
        ok &= row["ratio"] <= RATIO_TARGET and (row["input_wait_share"] or 0) < WAIT_TARGET
        print(f"{name:<8} {row['segutils_s']:>12.3f} {row['bare_s']:>13.3f} {row['ratio']:>6.3f} "
              f"{row['input_wait_share']:>10.1%}")
    return 0 if ok or not args.strict else 1
