"""How fast a model predicts (the course's one timing loop) and how much it computes (FLOPs = 2 x multiply-adds of
the convolutions and dense layers). Taught in ``notebooks/06_comparison.ipynb``."""

import statistics
import time
from collections.abc import Callable

import keras
import numpy as np

from .checks import whole


def time_calls(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> list[float]:
    """Wall-clock seconds of ``repeats`` calls of ``fn()`` after ``warmup`` untimed ones (tracing, allocation)."""
    whole(repeats, "repeats")
    whole(warmup, "warmup", minimum=0)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def median_ms(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    """Median milliseconds of :func:`time_calls`. Taught in ``notebooks/02_unet.ipynb``."""
    return 1000 * statistics.median(time_calls(fn, repeats=repeats, warmup=warmup))


def layer_flops(layer, batchnorm: bool = False) -> int:
    """FLOPs of one layer for one image: ``2 * kernel weights * output positions`` for ``Conv2D`` and ``Dense``
    (input positions for ``Conv2DTranspose``), depthwise and separable convolutions alike; with ``batchnorm``, 2 per
    ``BatchNormalization`` output; 0 for any other layer."""
    layers = keras.layers
    if isinstance(layer, layers.SeparableConv2D | layers.DepthwiseConv2D):
        kh, kw = layer.kernel_size
        c_in, multiplier = layer.input.shape[-1], layer.depth_multiplier
        pointwise = c_in * multiplier * layer.filters if isinstance(layer, layers.SeparableConv2D) else 0
        return 2 * int(np.prod(layer.output.shape[1:-1])) * (kh * kw * c_in * multiplier + pointwise)
    if isinstance(layer, layers.Conv2D | layers.Conv2DTranspose | layers.Dense):  # Dense (B, units): one position
        pixels = layer.input if isinstance(layer, layers.Conv2DTranspose) else layer.output
        return 2 * int(np.prod(pixels.shape[1:-1])) * int(np.prod(layer.kernel.shape))
    if batchnorm and isinstance(layer, layers.BatchNormalization):
        return 2 * int(np.prod(layer.output.shape[1:]))
    return 0


def count_flops(model, batchnorm: bool = False) -> int:
    """FLOPs per image of a functional ``model`` of fixed sides (nested models included); ValueError at any size."""
    if None in model.input_shape[1:3]:
        raise ValueError(f"the model takes any size {model.input_shape}: FLOPs grow with the pixels, so build it at "
                         "the size to count, e.g. build_unet((256, 256, 1), ...)")
    return sum(count_flops(layer, batchnorm) if isinstance(layer, keras.Model) else layer_flops(layer, batchnorm)
               for layer in model.layers)


def benchmark(model, batch_size: int = 8, repeats: int = 10, warmup: int = 2, seed: int = 0) -> dict:
    """Speed and size of ``model`` (fixed sides) on random images: ``latency_ms`` and ``latency_p90_ms`` at
    batch 1, ``images_per_s`` at ``batch_size`` (medians of ``repeats`` calls after ``warmup``), ``batch_size``,
    ``parameters``, ``flops`` per image and ``input_shape``. Taught in ``notebooks/06_comparison.ipynb``."""
    flops, input_shape = count_flops(model), tuple(model.input_shape[1:])  # raises at any size
    rng = np.random.default_rng(seed)
    one = rng.random((1, *input_shape), dtype=np.float32)
    batch = rng.random((batch_size, *input_shape), dtype=np.float32)
    latency = time_calls(lambda: model.predict_on_batch(one), repeats, warmup)
    throughput = time_calls(lambda: model.predict_on_batch(batch), max(1, repeats // 2), warmup)
    return dict(latency_ms=1000 * statistics.median(latency), latency_p90_ms=1000 * float(np.percentile(latency, 90)),
                images_per_s=batch_size / statistics.median(throughput), batch_size=batch_size,
                parameters=int(model.count_params()), flops=flops, input_shape=input_shape)
