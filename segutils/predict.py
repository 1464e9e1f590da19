"""Prediction, one way: whole images (:func:`predict_masks`) or overlapping tiles of any size (:func:`predict_tiled`).

Images are prepared as the training pipeline prepares them (uint8 -> ``x / 255``); outputs become
classes by :func:`segutils.functional.head_rule`, the metrics' rule (one channel: ``p > threshold``;
K: argmax). Tiles follow the U-Net paper's overlap-tile strategy (Ronneberger et al. 2015, Fig. 2):
mirrored margins, neighbours blended by ``sin^2`` / ``cos^2`` weights that add up to 1, so no seam.
Taught in ``notebooks/06_comparison.ipynb`` and ``notebooks/07_inference.ipynb``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass

import keras
import numpy as np

from . import _compat
from .data.sources import MULTIPLE
from .functional import head_rule

#: ``tf.image.rgb_to_grayscale``'s weights, as the pipeline converts RGB to one channel.
GRAY_WEIGHTS = np.array([0.2989, 0.5870, 0.1140], dtype=np.float32)
#: The flips averaged by ``tta=True``: image axes flipped in each variant.
FLIPS = ((), (0,), (1,), (0, 1))


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def _check_finite(image: np.ndarray) -> None:
    if image.dtype.kind == "f" and not np.isfinite(image).all():
        raise ValueError(f"the image holds {np.isnan(image).sum()} NaN and {np.isinf(image).sum()} infinite "
                         "values: a model cannot classify them; fix or drop the image (np.isfinite(image))")


def prepare_image(image: np.ndarray, channels: int | None) -> np.ndarray:
    """One image as float32 ``HxWxC`` in [0, 1] with ``channels`` channels (the pipeline's ``x / 255``); ValueError
    for NaN, floats outside [0, 1], integers other than uint8, channels other than 1 <-> 3."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.dtype == np.uint8:
        x = image.astype(np.float32) / 255.0
    elif np.issubdtype(image.dtype, np.floating):
        _check_finite(image)
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


def _check_head(model) -> None:
    """Refuse a model that is not one ``(B, H, W, C)`` -> ``(B, H, W, K)`` map, in one line."""
    outputs, name = getattr(model, "outputs", None), getattr(model, "name", type(model).__name__)
    if outputs is None:  # a subclassed model or a wrapper: its outputs are known only once called
        return
    if len(outputs) != 1:
        raise ValueError(f"model {name!r} has {len(outputs)} outputs: prediction takes a segmentation model "
                         "with one output (B, H, W, classes); build one from the output you want, "
                         "keras.Model(model.input, model.outputs[0])")
    if len(model.input_shape) != 4 or len(outputs[0].shape) != 4:
        raise ValueError(f"model {name!r} maps {model.input_shape} to {tuple(outputs[0].shape)}: prediction "
                         "takes a segmentation model from images (B, H, W, C) to class maps (B, H, W, classes)")


def ends_in_logits(model) -> bool:
    """True when the model ends in a linear activation (logits), False for a sigmoid or softmax.

    Reads the output layer (named ``output``, else the last), looking through ``Activation("linear")``
    layers such as LinkNet's float32 cast after its sigmoid. ValueError when that layer has no
    activation (a ``Lambda``, say): then pass ``from_logits=`` rather than let it guess.
    """
    _check_head(model)
    layers = list(model.layers)
    names = [layer.name for layer in layers]
    index = names.index("output") if "output" in names else len(layers) - 1
    def activation(layer) -> str:
        return getattr(getattr(layer, "activation", None), "__name__", "")

    while index > 0 and isinstance(layers[index], keras.layers.Activation) and activation(layers[index]) == "linear":
        index -= 1
    if not hasattr(layers[index], "activation"):
        raise ValueError(f"cannot tell whether model {model.name!r} outputs logits or probabilities: its layer "
                         f"{layers[index].name!r} ({type(layers[index]).__name__}) has no activation; pass "
                         "from_logits=True (logits) or from_logits=False (sigmoid/softmax probabilities)")
    return activation(layers[index]) == "linear"


def to_probabilities(outputs, from_logits: bool) -> np.ndarray:
    """Model outputs ``(..., C)`` as float32 probabilities: sigmoid (C = 1) or softmax over C when ``from_logits``."""
    z = np.array(outputs, dtype=np.float32)  # a copy: not a view into a whole batch
    if not from_logits:
        return z
    if z.shape[-1] == 1:
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


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
        "tiles with segutils.predict.predict_tiled, or rebuild the model with input_shape=(None, None, C)"
    )


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


def _predict(model, images, batch_size: int, resize: bool, from_logits: bool | None, to):
    """Each image's model output (cropped back), turned by ``to(output, from_logits)``; stacked when one size."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    _check_head(model)
    from_logits = ends_in_logits(model) if from_logits is None else bool(from_logits)
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
            for i, out in zip(chunk, np.asarray(model(batch, training=False)), strict=True):
                results[i] = to(_unfit(out, items[i].shape[:2], how), from_logits)
    if single:
        return results[0]
    return np.stack(results) if len({r.shape for r in results}) == 1 else results


def predict_masks(model, images, batch_size: int = 8, threshold: float = 0.5, resize: bool = False,
                  from_logits: bool | None = None) -> np.ndarray | list[np.ndarray]:  # fmt: skip
    """Class-index masks of ``images``, each at its image's own size: uint8 ``(H, W)`` for one image,
    ``(N, H, W)`` for a batch of one size, else a list.

    Each image is prepared, padded by reflection (bottom, right) to a multiple of 32 or to the
    model's fixed input, predicted ``batch_size`` at a time, cropped back and classified by
    :func:`head_rule` (class 1 where ``p > threshold``). An image larger than a fixed input raises
    unless ``resize=True`` (bilinear to the input, nearest back).

    Args:
        images: one uint8/float image (HxW or HxWxC, C <= 4), a batch ``(N, H, W[, C])``, or a list.
        from_logits: whether the model outputs logits; ``None`` reads it from the output layer.
    """
    return _predict(model, images, batch_size, resize, from_logits,
                    lambda out, logits: head_rule(out, threshold, logits))  # fmt: skip


def predict_probabilities(model, images, batch_size: int = 8, resize: bool = False,
                          from_logits: bool | None = None) -> np.ndarray | list[np.ndarray]:  # fmt: skip
    """Class probabilities ``(H, W, C)`` float32 of ``images``, prepared, padded and cropped like :func:`predict_masks`.

    One channel holds the probability of class 1, K channels one per class (logits go through a
    sigmoid or softmax). ``head_rule(p, threshold)`` of the result is ``predict_masks`` (up to float
    rounding at the cut): compute it once and move the threshold without running the model again.
    """
    return _predict(model, images, batch_size, resize, from_logits, to_probabilities)


@dataclass(frozen=True)
class TileGrid:
    """Where the tiles of an ``height x width`` image sit: tile size ``(tile_h, tile_w)``, the
    ``overlap`` of neighbours, the mirrored ``margin`` above and left (a multiple of ``MULTIPLE``),
    and the tiles' top (``rows``) and left (``cols``) edges in image coordinates (the first is ``-margin``)."""

    height: int
    width: int
    tile: tuple[int, int]
    overlap: int
    margin: int
    rows: tuple[int, ...]
    cols: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.rows) * len(self.cols)

    def origins(self) -> Iterator[tuple[int, int]]:
        """The tiles' ``(top, left)`` corners, row by row."""
        return itertools.product(self.rows, self.cols)


def tile_grid(height: int, width: int, tile: int = 256, overlap: int = 64, multiple: int = MULTIPLE) -> TileGrid:
    """Lay tiles of ``tile`` pixels, overlapping by ``overlap``, over an ``height x width`` image.

    The image is extended by a mirrored margin of ``overlap / 2`` (rounded up to ``multiple``) on
    each side; tiles step by ``tile - overlap`` from ``-margin`` until the far margin is covered. An
    image that fits (with its margins) in less than one tile gets one tile, shrunk to a multiple.

    Raises:
        ValueError: ``tile`` or ``overlap`` not a multiple of ``multiple``, or ``overlap >= tile``.
    """
    if height < 1 or width < 1:
        raise ValueError(f"the image is empty: {height} x {width} pixels")
    if tile < multiple or tile % multiple:
        below, above = max(tile // multiple, 1) * multiple, _round_up(max(tile, 1), multiple)
        raise ValueError(
            f"tile={tile} must be a positive multiple of {multiple} (the model's down-sampling), "
            f"so that every tile's pooling grid lines up with the image's; use tile={below} or {above}."
        )
    if overlap < 0 or overlap % multiple or overlap >= tile:
        raise ValueError(
            f"overlap={overlap} must be a multiple of {multiple} from 0 to tile - {multiple} = {tile - multiple} "
            f"(tile={tile}); {min(tile - multiple, _round_up(max(overlap, 0), multiple))} is the nearest that works."
        )
    margin = _round_up(overlap // 2, multiple)
    sides = []
    for size in (height, width):
        side = min(tile, _round_up(size + 2 * margin, multiple))
        step = side - overlap
        count = 1 if size + 2 * margin <= side else math.ceil((size + 2 * margin - side) / step) + 1
        sides.append((side, tuple(-margin + k * step for k in range(count))))
    (tile_h, rows), (tile_w, cols) = sides
    return TileGrid(height, width, (tile_h, tile_w), overlap, margin, rows, cols)


def blend_window(tile: tuple[int, int], overlap: int) -> np.ndarray:
    """The ``tile_h x tile_w`` float32 blend weight: 1 inside, ``sin^2`` ramps over ``overlap`` at the edges.

    Where two tiles overlap, one ramps down as ``cos^2`` while the other ramps up as ``sin^2``, so
    their weights sum to 1. Every weight is > 0, so the borders (one tile only) stay defined.
    """

    def ramp(length: int) -> np.ndarray:
        weight = np.ones(length, dtype=np.float64)
        if overlap:
            up = np.sin(0.5 * np.pi * (np.arange(overlap) + 0.5) / overlap) ** 2
            n = min(overlap, length)
            weight[:n] = np.minimum(weight[:n], up[:n])
            weight[length - n :] = np.minimum(weight[length - n :], up[:n][::-1])
        return weight

    return np.outer(ramp(tile[0]), ramp(tile[1])).astype(np.float32)


def receptive_field(model) -> int:
    """Side in pixels of the largest input window one output pixel depends on.

    Walks the layers in order: a ``k x k`` conv or pool adds ``(k - 1) * jump`` pixels (``jump``:
    input pixels between neighbouring features); strides multiply ``jump``, an up-sampling divides
    it; merges take the widest input. An output pixel nearer to the border than half this is
    touched by the convolutions' zero padding.
    """
    from keras import layers

    field: dict[str, tuple[float, float]] = {}
    for layer in model.layers:
        inputs = layer.input if isinstance(layer.input, list) else [layer.input]
        known = [field[n] for n in (_compat.producing_layer_name(t) for t in inputs) if n in field]
        rf, jump = max(known) if known else (1.0, 1.0)
        if isinstance(layer, layers.Conv2DTranspose):
            stride = layer.strides[0]
            rf, jump = rf + (math.ceil(layer.kernel_size[0] / stride) - 1) * jump, jump / stride
        elif isinstance(layer, layers.Conv2D | layers.DepthwiseConv2D):
            rf += (layer.kernel_size[0] - 1) * layer.dilation_rate[0] * jump
            jump *= layer.strides[0]
        elif isinstance(layer, layers.MaxPooling2D | layers.AveragePooling2D):
            rf, jump = rf + (layer.pool_size[0] - 1) * jump, jump * layer.strides[0]
        elif isinstance(layer, layers.UpSampling2D):
            jump /= layer.size[0]
        field[layer.name] = (rf, jump)
    return int(field[model.layers[-1].name][0])


def mirror_indices(start: int, length: int, size: int) -> np.ndarray:
    """Indices ``start .. start + length - 1`` reflected into ``[0, size)`` like ``np.pad(mode="reflect")``."""
    index = np.arange(start, start + length)
    if size == 1:
        return np.zeros_like(index)
    period = 2 * (size - 1)
    index = np.abs(index) % period
    return np.where(index >= size, period - index, index)


def _static_tile(model, tile: int | None) -> int:
    height, width = model.input_shape[1:3]
    if height is None and width is None:
        return 256 if tile is None else tile
    if height != width or (tile is not None and tile != height):
        raise ValueError(
            f"the model takes fixed {height} x {width} inputs, so tiles must be square and of that size; "
            f"got tile={tile}. Build it with input_shape=(None, None, C) to tile at any size."
        )
    return height


def tiled_probabilities(model, image, tile: int | None = None, overlap: int = 64, batch_size: int = 4,
                        tta: bool = False, progress: bool | None = None, multiple: int = MULTIPLE,
                        from_logits: bool | None = None) -> np.ndarray:  # fmt: skip
    """Blended per-pixel probabilities ``(H, W, C)`` float32 of one image of any size, arguments as in
    :func:`predict_tiled`. Tiles are cut lazily (mirrored indices, no padded copy): besides the image,
    the only full-size arrays are the probability and weight sums."""
    array = np.asarray(image)
    array = array[..., None] if array.ndim == 2 else array
    if array.ndim != 3:
        raise ValueError(f"predict_tiled takes one image (H, W) or (H, W, C), got shape {np.shape(image)}; "
                         "for a batch, call it once per image.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    _check_finite(array)  # before any tile is predicted
    _check_head(model)
    channels, logits = model.input_shape[-1], ends_in_logits(model) if from_logits is None else bool(from_logits)
    grid = tile_grid(array.shape[0], array.shape[1], _static_tile(model, tile), overlap, multiple)
    window = blend_window(grid.tile, grid.overlap)
    total, weight = None, np.zeros(array.shape[:2], dtype=np.float32)
    from tqdm.auto import tqdm

    show = len(grid) >= 16 if progress is None else progress
    bar = tqdm(total=len(grid), unit="tile", desc="tiles", disable=not show)
    origins = grid.origins()  # an iterator: tiles are cut batch by batch, never all at once
    while batch := list(itertools.islice(origins, batch_size)):
        tiles = np.stack([prepare_image(_cut(array, top, left, grid.tile), channels) for top, left in batch])
        probs = 0.0
        for axes in FLIPS if tta else ((),):  # each flip undone on its prediction
            axes = tuple(a + 1 for a in axes)
            probs = probs + np.flip(to_probabilities(model.predict_on_batch(np.flip(tiles, axes)), logits), axes)
        probs = probs / (len(FLIPS) if tta else 1)
        if total is None:
            total = np.zeros(array.shape[:2] + probs.shape[-1:], dtype=np.float32)
        for (top, left), p in zip(batch, probs, strict=True):
            _accumulate(total, weight, p, window, top, left)
        bar.update(len(batch))
    bar.close()
    return total / weight[..., None]


def _cut(array: np.ndarray, top: int, left: int, tile: tuple[int, int]) -> np.ndarray:
    """The tile at ``(top, left)``, mirrored where it leaves the image (a copy of one tile only)."""
    rows = mirror_indices(top, tile[0], array.shape[0])
    cols = mirror_indices(left, tile[1], array.shape[1])
    return array[rows[:, None], cols[None, :]]


def _accumulate(total, weight, p, window, top: int, left: int) -> None:
    """Add the part of one tile's weighted probabilities that lies inside the image."""
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + p.shape[0], total.shape[0]), min(left + p.shape[1], total.shape[1])
    if y0 >= y1 or x0 >= x1:
        return
    w = window[y0 - top : y1 - top, x0 - left : x1 - left]
    total[y0:y1, x0:x1] += p[y0 - top : y1 - top, x0 - left : x1 - left] * w[..., None]
    weight[y0:y1, x0:x1] += w


def predict_tiled(model, image, tile: int | None = None, overlap: int = 64, batch_size: int = 4, tta: bool = False,
                  threshold: float = 0.5, progress: bool | None = None, multiple: int = MULTIPLE,
                  from_logits: bool | None = None) -> np.ndarray:  # fmt: skip
    """Class mask ``(H, W)`` of one image of any size, predicted by overlapping, blended tiles.

    Args:
        image: ``(H, W)`` or ``(H, W, C)``, uint8 or float in ``[0, 1]``, prepared tile by tile.
        tile: tile side, a multiple of ``multiple`` (default 256, or the model's fixed input).
        overlap: pixels neighbouring tiles share (a multiple of ``multiple``); half of it, rounded
            up to ``multiple``, is the mirrored context around the image.
        batch_size: tiles predicted at once: with the accumulators, the whole memory cost.
        tta: average the probabilities over the four flips (four times the cost).
        threshold: class 1 where ``p > threshold`` (one output channel).
        progress: a tqdm bar; ``None`` shows it from 16 tiles on.
        multiple: the model's total down-sampling (32 covers U-Net depth <= 5 and LinkNet).
        from_logits: whether the model outputs logits; ``None`` reads it from the output layer.

    Farther from the border than the receptive-field radius, one tile's probabilities equal the
    whole image's (within 1e-5); nearer, mirrored context replaces the convolutions' zero padding.
    """
    probs = tiled_probabilities(model, image, tile, overlap, batch_size, tta, progress, multiple, from_logits)
    return head_rule(probs, threshold)
