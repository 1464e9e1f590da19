"""Prediction and evaluation of a trained segmentation model on held-out images.

``predict_masks`` is the course's one prediction function: images are prepared exactly as
``segutils.data.pipeline.make_dataset`` prepares them (uint8 -> ``x / 255``, float already in
[0, 1] kept), padded by reflection to a size the model accepts, predicted in batches, cropped
back, and turned into class indices by the head's rule (CONTRACTS.md: one channel -> class 1
where ``p > threshold``, or ``z > logit(threshold)`` for logits; K channels -> argmax).
Taught in ``notebooks/06_comparison.ipynb``.
"""

from __future__ import annotations

import math

import keras
import numpy as np

#: Size-agnostic models are fed sides that are multiples of this (LinkNet halves 5 times).
MULTIPLE = 32
#: ``tf.image.rgb_to_grayscale``'s weights, as the pipeline converts RGB to one channel.
GRAY_WEIGHTS = np.array([0.2989, 0.5870, 0.1140], dtype=np.float32)


def _as_list(images) -> tuple[list[np.ndarray], bool]:
    """``(list of HxW or HxWxC arrays, single)``; a 3-D array is one HxWxC image when its last axis is <= 4."""
    if isinstance(images, (list, tuple)):
        return [np.asarray(image) for image in images], False
    images = np.asarray(images)
    if images.ndim == 2 or (images.ndim == 3 and images.shape[-1] <= 4):
        return [images], True
    if images.ndim in (3, 4):
        return list(images), False
    raise ValueError(
        f"images must be HxW, HxWxC, a batch NxHxW(xC) or a list of them, got an array of shape {images.shape}"
    )


def prepare_image(image: np.ndarray, channels: int | None) -> np.ndarray:
    """One image as float32 ``HxWxC`` in [0, 1] with ``channels`` channels (the pipeline's ``x / 255``).

    Raises:
        ValueError: a float image outside [0, 1], an integer image that is not uint8, or
            channels that do not convert (only 1 <-> 3).
    """
    if image.ndim == 2:
        image = image[..., None]
    if image.dtype == np.uint8:
        x = image.astype(np.float32) / 255.0
    elif np.issubdtype(image.dtype, np.floating):
        if image.size and (image.min() < 0 or image.max() > 1):
            raise ValueError(
                f"float images must be in [0, 1] (already divided by 255), got {image.min():.3g}..{image.max():.3g}: "
                "pass the uint8 image instead, it is divided by 255 once here"
            )
        x = image.astype(np.float32)
    else:
        raise ValueError(f"images must be uint8 (0..255) or float in [0, 1], got dtype {image.dtype}")
    n = x.shape[-1]
    if channels is None or n == channels:
        return x
    if n == 1 and channels == 3:
        return np.repeat(x, 3, axis=-1)
    if n == 3 and channels == 1:
        return (x @ GRAY_WEIGHTS)[..., None]
    raise ValueError(
        f"the model takes {channels} channel(s) but an image has {n}: "
        + ("drop the alpha channel first (image[..., :3])" if n == 4 else "convert it to grayscale or RGB first")
    )


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def _activation(layer) -> str:
    return getattr(getattr(layer, "activation", None), "__name__", "")


def from_logits(model) -> bool:
    """True when the model ends in a linear activation (logits), False for a sigmoid or softmax.

    Starts at the output layer (named ``output``, else the last) and looks through identity
    ``Activation("linear")`` layers before it, such as the float32 cast LinkNet ends in after
    its sigmoid (without that, LinkNet's probabilities would be cut as logits: all class 1).
    """
    layers = list(model.layers)
    names = [layer.name for layer in layers]
    index = names.index("output") if "output" in names else len(layers) - 1
    while (index > 0 and isinstance(layers[index], keras.layers.Activation)
           and _activation(layers[index]) == "linear"):
        index -= 1
    return _activation(layers[index]) == "linear"


def head_rule(outputs, threshold: float = 0.5, logits: bool = False) -> np.ndarray:
    """Class indices (uint8 ``(..., H, W)``) from ``(..., H, W, C)`` model outputs.

    One channel: class 1 where ``p > threshold`` (``z > logit(threshold)`` for logits);
    K channels: argmax (the same on logits and on softmax probabilities).
    """
    outputs = np.asarray(outputs)
    if outputs.shape[-1] > 1:
        return outputs.argmax(axis=-1).astype(np.uint8)
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be strictly between 0 and 1, got {threshold}")
    cut = math.log(threshold / (1 - threshold)) if logits else threshold
    return (outputs[..., 0] > cut).astype(np.uint8)


def _target_size(model, height: int, width: int, resize: bool) -> tuple[tuple[int, int], str]:
    """``((H, W) fed to the model, "pad" | "resize")`` for an ``height x width`` image."""
    fixed_h, fixed_w = model.input_shape[1:3]
    if fixed_h is None or fixed_w is None:
        return (_round_up(height, MULTIPLE), _round_up(width, MULTIPLE)), "pad"
    if height <= fixed_h and width <= fixed_w:
        return (fixed_h, fixed_w), "pad"
    if resize:
        return (fixed_h, fixed_w), "resize"
    raise ValueError(
        f"an image of {height}x{width} is larger than the model's fixed input {fixed_h}x{fixed_w}: pass "
        "resize=True (the image is resized to the input, the mask back with nearest neighbour), predict it in "
        "tiles with segutils.inference.predict_tiled, or rebuild the model with input_shape=(None, None, C)"
    )


def _predict(model, images, batch_size: int, resize: bool):
    """``(items, single, outputs)``: ``outputs`` yields ``(index, H x W x C model output)``, cropped back."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    items, single = _as_list(images)
    channels = model.input_shape[-1]
    groups: dict[tuple, list[int]] = {}
    prepared = []
    for i, image in enumerate(items):
        x = prepare_image(image, channels)
        size, how = _target_size(model, x.shape[0], x.shape[1], resize)
        prepared.append((x, how))
        groups.setdefault((size, how), []).append(i)

    def outputs():
        for (size, how), indices in groups.items():
            for start in range(0, len(indices), batch_size):
                chunk = indices[start : start + batch_size]
                batch = np.stack([_fit(prepared[i][0], size, how) for i in chunk])
                for i, out in zip(chunk, np.asarray(model(batch, training=False)), strict=True):
                    yield i, _unfit(out, items[i].shape[:2], how)

    return items, single, outputs()


def _collect(results: list[np.ndarray], single: bool):
    if single:
        return results[0]
    if len({r.shape for r in results}) == 1:
        return np.stack(results)
    return results


def predict_masks(
    model, images, batch_size: int = 8, threshold: float = 0.5, resize: bool = False, logits: bool | None = None
) -> np.ndarray | list[np.ndarray]:
    """Class-index masks of ``images`` predicted by ``model``, each at its image's own size.

    Images are prepared as the training pipeline prepares them (uint8 -> ``x / 255``; float
    must already be in [0, 1]; 1 <-> 3 channels converted to what the model takes), padded by
    reflection on the bottom and right to a multiple of 32 (size-agnostic model) or to the
    model's fixed input (smaller images), predicted ``batch_size`` at a time, cropped back, and
    classified by :func:`head_rule`. An image larger than a fixed input raises unless
    ``resize=True``, which resizes it bilinearly to the input and the output back with nearest.

    Args:
        model: a Keras segmentation model mapping ``(B, H, W, C)`` to ``(B, H, W, 1 or K)``.
        images: one uint8/float image (HxW or HxWxC with C <= 4), a batch ``(N, H, W[, C])``,
            or a list of images whose sizes may differ.
        batch_size: images per forward pass (same-size images are batched together).
        threshold: the binary head's probability cut.
        resize: allow resizing images larger than a fixed model input.
        logits: whether the model outputs logits; ``None`` reads it from the output layer.

    Returns:
        uint8 masks: ``(H, W)`` for one image, ``(N, H, W)`` for a batch of one size, else a list.

    Taught in ``notebooks/06_comparison.ipynb``.
    """
    logits = from_logits(model) if logits is None else logits
    items, single, outputs = _predict(model, images, batch_size, resize)
    masks: list = [None] * len(items)
    for i, out in outputs:
        masks[i] = head_rule(out, threshold, logits)
    return _collect(masks, single)


def predict_probabilities(
    model, images, batch_size: int = 8, resize: bool = False, logits: bool | None = None
) -> np.ndarray | list[np.ndarray]:
    """Class probabilities ``(H, W, C)`` of ``images``, prepared, padded and cropped as in :func:`predict_masks`.

    One channel holds the probability of class 1, K channels one per class; logits are turned
    into probabilities (sigmoid, softmax). ``head_rule(p, threshold)`` of the result is
    ``predict_masks`` (up to float rounding at the cut): compute this once and move the
    threshold without running the model again, as ``segutils.widgets``' explorer does. Returns
    float32 arrays, stacked like :func:`predict_masks`'s masks.

    Taught in ``notebooks/06_comparison.ipynb``.
    """
    logits = from_logits(model) if logits is None else logits
    items, single, outputs = _predict(model, images, batch_size, resize)
    probs: list = [None] * len(items)
    for i, out in outputs:
        probs[i] = to_probabilities(out, logits)
    return _collect(probs, single)


def to_probabilities(outputs, logits: bool) -> np.ndarray:
    """Model outputs ``(..., C)`` as float32 probabilities: sigmoid (C = 1) or softmax over C when ``logits``."""
    z = np.array(outputs, dtype=np.float32)  # a copy: not a view into a whole batch
    if not logits:
        return z
    if z.shape[-1] == 1:
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def _fit(x: np.ndarray, size: tuple[int, int], how: str) -> np.ndarray:
    if how == "resize":
        import tensorflow as tf

        return tf.image.resize(x, size, method="bilinear").numpy()
    return np.pad(x, ((0, size[0] - x.shape[0]), (0, size[1] - x.shape[1]), (0, 0)), mode="reflect")


def _unfit(out: np.ndarray, shape: tuple[int, int], how: str) -> np.ndarray:
    """A model output ``H x W x C`` cut (or, resized, nearest-sampled) back to the image's ``shape``."""
    if how == "resize":
        import tensorflow as tf

        return tf.image.resize(out, shape, method="nearest").numpy()
    return out[: shape[0], : shape[1]]
