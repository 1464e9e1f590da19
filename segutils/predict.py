"""Prediction of whole images, prepared as in training (uint8 -> ``x / 255``), classified by
:func:`segutils.functional.head_rule`; tiles: :mod:`segutils.tiling`. Taught in ``notebooks/07_inference.ipynb``."""

import keras
import numpy as np
import tensorflow as tf

from .checks import whole
from .data.sources import MULTIPLE, image_array
from .functional import head_rule


def round_up(value: int, multiple: int) -> int:
    """The smallest multiple of ``multiple`` that is >= ``value``."""
    return -(-value // multiple) * multiple


DIVERGED = ("Training diverged: load an earlier checkpoint (the run's best.keras) or train again with a lower "
            "learning rate.")


def check_outputs(outputs, model) -> np.ndarray:
    """``outputs`` as an array; ValueError when any is NaN or infinite (a model that overflowed)."""
    outputs = np.asarray(outputs)
    if not np.isfinite(outputs).all():
        raise ValueError(f"model {model.name!r} output {np.size(outputs) - np.isfinite(outputs).sum()} NaN or "
                         f"infinite values: its masks would mean nothing. {DIVERGED}")
    return outputs


def prepare_image(image: np.ndarray, channels: int | None) -> np.ndarray:
    """One image as float32 ``HxWxC`` in [0, 1] with ``channels`` channels (1 <-> 3 converted), by the pipeline's
    rule (:func:`segutils.data.sources.image_array`: uint8, uint16, whole numbers 0..255 or floats in [0, 1])."""
    image = np.asarray(image)
    scaled = image_array(image, "the image")  # 0..255; ValueError naming NaN, a range or a dtype, and the fix
    x = image.reshape(scaled.shape).astype(np.float32) if image.dtype.kind == "f" else scaled.astype(np.float32) / 255.0
    n = x.shape[-1]
    if channels is None or n == channels:
        return x
    if n == 1 and channels == 3:
        return np.repeat(x, 3, axis=-1)
    if n == 3 and channels == 1:
        return (x @ np.array([0.2989, 0.5870, 0.1140], np.float32))[..., None]  # tf.image.rgb_to_grayscale's
    fix = "drop the alpha channel first (image[..., :3])" if n == 4 else "convert it to grayscale or RGB first"
    raise ValueError(f"the model takes {channels} channel(s) but an image has {n}: {fix}")


def mask_hw(mask) -> np.ndarray:
    """A class mask as ``H x W`` (an ``H x W x 1`` mask loses its channel axis)."""
    mask = np.asarray(mask)
    return mask[..., 0] if mask.ndim == 3 and mask.shape[-1] == 1 else mask


def check_head(model) -> None:
    """Refuse a model that is not one ``(B, H, W, C)`` -> ``(B, H, W, K)`` map, or whose weights hold NaN or inf."""
    outputs, name = getattr(model, "outputs", None), getattr(model, "name", type(model).__name__)
    bad = [w.path for w in getattr(model, "weights", []) if not np.isfinite(keras.ops.convert_to_numpy(w)).all()]
    if bad:
        raise ValueError(f"model {name!r} has NaN or infinite weights in {len(bad)} variable(s), e.g. {bad[0]}: its "
                         f"predictions mean nothing. {DIVERGED}")
    if outputs is None:  # a subclassed model or a wrapper: its outputs are known only once called
        return
    if len(outputs) != 1:
        raise ValueError(f"model {name!r} has {len(outputs)} outputs: prediction takes a segmentation model "
                         "with one output (B, H, W, classes); build one from the output you want, "
                         "keras.Model(model.input, model.outputs[0])")
    if len(model.input_shape) != 4 or len(outputs[0].shape) != 4:
        raise ValueError(f"model {name!r} maps {model.input_shape} to {tuple(outputs[0].shape)}: prediction "
                         "takes a segmentation model from images (B, H, W, C) to class maps (B, H, W, classes)")


def ends_in_logits(model, from_logits: bool | None = None) -> bool:
    """``from_logits`` if given, else whether the output layer (``output``, else the last; linear casts skipped) is
    linear (logits); ValueError for a model that is not one map (:func:`check_head`) or has no activation there."""
    check_head(model)
    if from_logits is not None:
        return bool(from_logits)
    layers = list(model.layers)
    names = [layer.name for layer in layers]
    index = names.index("output") if "output" in names else len(layers) - 1
    while index > 0 and isinstance(layers[index], keras.layers.Activation) and _activation(layers[index]) == "linear":
        index -= 1
    if not hasattr(layers[index], "activation"):
        raise ValueError(f"cannot tell whether model {model.name!r} outputs logits or probabilities: its layer "
                         f"{layers[index].name!r} ({type(layers[index]).__name__}) has no activation; pass "
                         "from_logits=True (logits) or False (probabilities) to predict_masks; give evaluate its masks")
    return _activation(layers[index]) == "linear"


def _activation(layer) -> str:
    return getattr(getattr(layer, "activation", None), "__name__", "")


def to_probabilities(outputs, from_logits: bool) -> np.ndarray:
    """Model outputs ``(..., C)`` as float32 probabilities: sigmoid (C = 1) or softmax over C when ``from_logits``."""
    z = np.array(outputs, dtype=np.float32)  # a copy: not a view into a whole batch
    if not from_logits:
        return z
    return keras.ops.convert_to_numpy(keras.ops.sigmoid(z) if z.shape[-1] == 1 else keras.ops.softmax(z, axis=-1))


def _as_list(images) -> tuple[list[np.ndarray], bool]:
    """``(list of HxW or HxWxC arrays, single)``; a 3-D array is one HxWxC image when its last axis is <= 4."""
    if isinstance(images, (list, tuple)):
        return [np.asarray(image) for image in images], False
    images = np.asarray(images)
    if images.ndim == 2 or (images.ndim == 3 and images.shape[-1] <= 4):
        return [images], True
    if images.ndim in (3, 4):
        return list(images), False
    raise ValueError(f"images must be HxW, HxWxC, a batch NxHxW(xC) or a list of them, got an array of shape "
                     f"{images.shape}")


def _target_size(model, height: int, width: int, resize: bool) -> tuple[tuple[int, int], str]:
    """``((H, W) fed to the model, "pad" | "resize")`` for an ``height x width`` image."""
    fixed_h, fixed_w = model.input_shape[1:3]
    if fixed_h is None or fixed_w is None:
        return (round_up(height, MULTIPLE), round_up(width, MULTIPLE)), "pad"
    if height <= fixed_h and width <= fixed_w:
        return (fixed_h, fixed_w), "pad"
    if resize:
        return (fixed_h, fixed_w), "resize"
    raise ValueError(f"an image of {height}x{width} is larger than the model's fixed input {fixed_h}x{fixed_w}: pass "
                     "resize=True (the image is resized to the input, the mask back with nearest neighbour), predict "
                     "it in tiles with segutils.tiling.predict_tiled, or rebuild the model with "
                     "input_shape=(None, None, C)")


def _fit(x: np.ndarray, size: tuple[int, int], how: str, back: bool = False) -> np.ndarray:
    """``x`` reflect-padded (bottom, right) or resized to ``size``; ``back``: an output cut or resized back."""
    if how == "resize":
        return tf.image.resize(x, size, method="nearest" if back else "bilinear").numpy()
    if back:
        return x[: size[0], : size[1]]
    return np.pad(x, ((0, size[0] - x.shape[0]), (0, size[1] - x.shape[1]), (0, 0)), mode="reflect")


def _predict(model, images, batch_size: int, resize: bool, from_logits: bool | None, to):
    """Each image's model output (cropped back), turned by ``to(output, from_logits)``; stacked when one size."""
    whole(batch_size, "batch_size")
    from_logits = ends_in_logits(model, from_logits)
    items, single = _as_list(images)
    groups: dict[tuple, list[int]] = {}
    prepared = []
    for i, image in enumerate(items):
        x = prepare_image(image, model.input_shape[-1])
        size, how = _target_size(model, x.shape[0], x.shape[1], resize)
        prepared.append((x, how))
        groups.setdefault((size, how), []).append(i)
    results: list = [None] * len(items)
    for (size, how), indices in groups.items():
        for start in range(0, len(indices), batch_size):
            chunk = indices[start : start + batch_size]
            batch = np.stack([_fit(prepared[i][0], size, how) for i in chunk])
            for i, out in zip(chunk, check_outputs(model(batch, training=False), model), strict=True):
                results[i] = to(_fit(out, items[i].shape[:2], how, back=True), from_logits)
    if single:
        return results[0]
    return np.stack(results) if len({r.shape for r in results}) == 1 else results


def predict_masks(model, images, batch_size: int = 8, threshold: float = 0.5, resize: bool = False,
                  from_logits: bool | None = None) -> np.ndarray | list[np.ndarray]:
    """Class-index masks of ``images`` at their own size: uint8 ``(H, W)`` for one image, ``(N, H, W)`` for a batch
    of one size, else a list. ``images``: one uint8/float image (HxW or HxWxC, C <= 4), a batch ``(N, H, W[, C])``,
    or a list; each is reflect-padded to a multiple of 32 or to the model's fixed input, predicted ``batch_size`` at
    a time, cropped back and classified by :func:`head_rule`. An image larger than a fixed input raises unless
    ``resize=True`` (bilinear to the input, nearest back). ``from_logits=None``: :func:`ends_in_logits`.
    Taught in ``notebooks/06_comparison.ipynb``."""
    return _predict(model, images, batch_size, resize, from_logits,
                    lambda out, logits: head_rule(out, threshold, logits))


def predict_probabilities(model, images, batch_size: int = 8, resize: bool = False,
                          from_logits: bool | None = None) -> np.ndarray | list[np.ndarray]:
    """Float32 probabilities ``(H, W, C)`` (one channel: class 1's) whose ``head_rule`` is :func:`predict_masks`."""
    return _predict(model, images, batch_size, resize, from_logits, to_probabilities)
