"""``python -m segutils.course.bench models``: does segutils' wrapping cost training speed?

Times one training step (``train_on_batch``, Adam, binary cross-entropy, no XLA) of
``build_unet`` against a plain Keras U-Net of the same configuration written inline below,
and of ``build_linknet`` against ``segmentation_models.Linknet`` called directly. Each pair is
warmed up, then stepped in rounds (A B, B A, A B, ...); the table shows median milliseconds per
step and the median over rounds of the ratio ours / reference, which should be <= 1.05.
"""

from __future__ import annotations

import argparse
import statistics
import time

from segutils.course.parameters import whole

from . import print_header

THRESHOLD = 1.05


def plain_unet(size: int, filters: int, depth: int = 4, dropout: float = 0.5):
    """The same U-Net as ``build_unet((size, size, 1), 1, filters, depth)``, in plain Keras."""
    import keras
    from keras import layers

    inputs = keras.Input((size, size, 1))
    x, skips = inputs, []
    for k in range(depth):
        x = layers.Conv2D(filters * 2**k, 3, padding="same", activation="relu")(x)
        x = layers.Conv2D(filters * 2**k, 3, padding="same", activation="relu")(x)
        if k == depth - 1:
            x = layers.Dropout(dropout)(x)
        skips.append(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(filters * 2**depth, 3, padding="same", activation="relu")(x)
    x = layers.Conv2D(filters * 2**depth, 3, padding="same", activation="relu")(x)
    x = layers.Dropout(dropout)(x)
    for k in reversed(range(depth)):
        x = layers.Conv2DTranspose(filters * 2**k, 2, strides=2, padding="same")(x)
        x = layers.Concatenate()([skips[k], x])
        x = layers.Conv2D(filters * 2**k, 3, padding="same", activation="relu")(x)
        x = layers.Conv2D(filters * 2**k, 3, padding="same", activation="relu")(x)
    outputs = layers.Conv2D(1, 1, activation="sigmoid")(x)
    return keras.Model(inputs, outputs)


def step_times(models: list, batch: int, size: int, steps: int, warmup: int) -> tuple[list[float], float]:
    """Median seconds per training step of two models, and the median of their paired ratios.

    Each round steps both models back to back, alternating which goes first, so that load from
    other processes and thermal drift cancel in the per-round ratio ``t0 / t1``.
    """
    import numpy as np

    rng = np.random.default_rng(0)
    data = []
    for model in models:
        x = rng.random((batch, size, size, model.input.shape[-1]), dtype="float32")
        y = (rng.random((batch, size, size, 1)) > 0.5).astype("float32")
        model.compile(optimizer="adam", loss="binary_crossentropy", jit_compile=False)
        data.append((x, y))
    for model, (x, y) in zip(models, data, strict=True):
        for _ in range(warmup):
            model.train_on_batch(x, y)
    times = [[] for _ in models]
    for r in range(steps):
        for i in (0, 1) if r % 2 == 0 else (1, 0):
            (x, y), start = data[i], time.perf_counter()
            models[i].train_on_batch(x, y)
            times[i].append(time.perf_counter() - start)
    ratios = [a / b for a, b in zip(*times, strict=True)]
    return [statistics.median(t) for t in times], statistics.median(ratios)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m segutils.course.bench models", description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=whole(32), default=256, help="square image side (multiple of 32)")
    parser.add_argument("--batch", type=whole(), default=4)
    parser.add_argument("--steps", type=whole(), default=10, help="timed steps per model (median)")
    parser.add_argument("--warmup", type=whole(0), default=2, help="untimed steps per model first")
    parser.add_argument("--filters", type=whole(), default=64, help="U-Net level-1 filters")
    parser.add_argument("--strict", action="store_true", help=f"exit 1 if a ratio exceeds {THRESHOLD}")
    args = parser.parse_args(argv)

    import keras

    from segutils.models import build_linknet, build_unet
    from segutils.models.linknet import import_sm

    sm = import_sm()
    size, f = args.size, args.filters
    pairs = [
        (f"U-Net f={f}", lambda: build_unet((size, size, 1), 1, filters=f), lambda: plain_unet(size, f)),
        (
            "LinkNet-ResNet34",
            lambda: build_linknet((size, size, 3), 1, encoder_weights=None),
            lambda: sm.Linknet("resnet34", input_shape=(size, size, 3), classes=1, encoder_weights=None,
                               decoder_block_type="transpose"),
        ),
    ]
    print(f"training step, batch {args.batch}, {size}x{size}, CPU, median of {args.steps} after "
          f"{args.warmup} warm-up steps (keras {keras.__version__})")
    header = f"{'model':<18} {'params':>11} {'segutils ms':>12} {'reference ms':>13} {'ratio':>6}  <= {THRESHOLD}"
    print_header(header)
    all_ok = True
    for name, ours_fn, reference_fn in pairs:
        keras.backend.clear_session()
        ours, reference = ours_fn(), reference_fn()
        if ours.count_params() != reference.count_params():
            raise AssertionError(f"{name}: {ours.count_params()} != {reference.count_params()} parameters")
        (t_ours, t_ref), ratio = step_times([ours, reference], args.batch, size, args.steps, args.warmup)
        ok = ratio <= THRESHOLD
        all_ok &= ok
        print(f"{name:<18} {ours.count_params():>11,} {1000 * t_ours:>12.1f} {1000 * t_ref:>13.1f} "
              f"{ratio:>6.3f}  {'yes' if ok else 'NO'}")
    return 0 if all_ok or not args.strict else 1
