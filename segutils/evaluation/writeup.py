"""The write-up's U-Net (its code is unpublished: :data:`WRITEUP_UNET` is the course's guess, after zhixuhao/unet's
``model.py``), timed untrained beside the course's narrower one. Taught in ``notebooks/06_comparison.ipynb``."""

import keras
import numpy as np

from ..models.build import output_channels
from ..models.unet import build_unet
from ..speed import benchmark, median_ms
from .table import run_row

#: ``build_unet`` arguments of the write-up's U-Net.
WRITEUP_UNET = dict(filters=64, depth=4, batchnorm=False, dropout=0.5, upsampling="upsample_conv")
#: Name of its rows in the comparison table (``"<name> @<size> px"``).
WRITEUP_NAME = "unet-64 write-up"


def build_writeup_unet(input_shape, num_classes: int) -> keras.Model:
    """The write-up's U-Net (:data:`WRITEUP_UNET`) with the course's head for ``num_classes`` classes."""
    return build_unet(input_shape, output_channels(num_classes), **WRITEUP_UNET)


def train_step_seconds(model: keras.Model, num_classes: int, batch_size: int, profile, repeats: int = 3) -> float:
    """Median seconds of a training step of ``model``, compiled as the profile trains, on a random batch."""
    from ..training.setup import compile_model

    compile_model(model, num_classes, profile=profile)
    rng = np.random.default_rng(0)
    x = rng.random((batch_size, *model.input_shape[1:]), dtype=np.float32)
    y = rng.integers(0, num_classes, (batch_size, *model.input_shape[1:3], 1)).astype(np.uint8)
    warmup = 0 if profile.run_eagerly else 1
    return median_ms(lambda: model.train_on_batch(x, y), repeats, warmup) / 1000


def writeup_rows(sizes, channels: int, num_classes: int, batch_size: int, profile, repeats: int = 3) -> list[dict]:
    """Table rows ``"unet-64 write-up @<size> px"`` per side in ``sizes``: :func:`train_step_seconds` under the
    profile's precision policy and ``benchmark``'s columns. Taught in ``notebooks/06_comparison.ipynb``."""
    policy = keras.mixed_precision.global_policy().name
    rows = []
    try:
        keras.mixed_precision.set_global_policy("mixed_float16" if profile.mixed_precision else "float32")
        for size in sizes:
            model = build_writeup_unet((size, size, channels), num_classes)
            speed = benchmark(model, batch_size=batch_size, repeats=repeats, warmup=1)
            step = train_step_seconds(model, num_classes, batch_size, profile, repeats)
            rows.append(run_row(f"{WRITEUP_NAME} @{size} px", speed=speed) | {"step_s": step})
    finally:
        keras.mixed_precision.set_global_policy(policy)
    return rows
