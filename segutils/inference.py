"""Prediction on images of any size: the U-Net paper's overlap-tile strategy, with flips.

Ronneberger et al. (2015, arXiv:1505.04597, Fig. 2) predict a large image tile by tile and
mirror the image at its borders so that every tile sees context on all sides. Here the
convolutions are 'same' padded, so each tile's output has the tile's size; neighbouring tiles
overlap by ``overlap`` pixels and are blended with a window that falls from 1 to 0 across the
overlap as ``sin^2`` on one tile and ``cos^2`` on the next, so the weights of two tiles add
up to exactly 1 and no seam is left. Tiles are cut from the image lazily (mirrored indices, no
padded copy) and predicted ``batch_size`` at a time: besides the input image, the only full-size
arrays are the float32 probability sum and the weight sum. The pipeline's preparation
(uint8 -> /255, float in [0, 1] kept) and the head rule (one channel: ``p > threshold``, K:
argmax) are ``segutils.evaluation``'s ``prepare_image`` and ``head_rule``, as in ``predict_masks``;
logits are turned into probabilities before blending. Taught in ``notebooks/07_inference.ipynb``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from . import _compat
from .evaluation import from_logits, head_rule, prepare_image, to_probabilities

#: The model's total down-sampling: tile sides and steps are multiples of it, so every tile's
#: pooling grid lines up with the whole image's (LinkNet-ResNet34 halves 5 times).
MULTIPLE = 32
#: The flips averaged by ``tta=True``: image axes flipped in each variant.
FLIPS = ((), (0,), (1,), (0, 1))


@dataclass(frozen=True)
class TileGrid:
    """Where the tiles of an ``height x width`` image sit.

    Attributes:
        height, width: the image's size.
        tile: ``(tile_h, tile_w)``: the tile size (smaller than asked for a small image).
        overlap: pixels shared by neighbouring tiles (the blend ramp's length).
        margin: mirrored context added above and left of the image (a multiple of ``MULTIPLE``).
        rows, cols: the tiles' top and left edges in image coordinates (the first is ``-margin``).
    """

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
        for top in self.rows:
            for left in self.cols:
                yield top, left


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def tile_grid(height: int, width: int, tile: int = 256, overlap: int = 64, multiple: int = MULTIPLE) -> TileGrid:
    """Lay tiles of ``tile`` pixels, overlapping by ``overlap``, over an ``height x width`` image.

    The image is extended by a mirrored margin of ``overlap / 2`` (rounded up to ``multiple``)
    on each side; tiles step by ``tile - overlap`` from ``-margin`` until the far margin is
    covered. An image that fits (with its margins) in less than one tile gets a single tile,
    shrunk to the next multiple of ``multiple``.

    Raises:
        ValueError: ``tile`` or ``overlap`` not a multiple of ``multiple``, or ``overlap >= tile``.

    Taught in ``notebooks/07_inference.ipynb``.
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

    Where two tiles overlap, one ramps down as ``cos^2`` while the other ramps up as ``sin^2``,
    so their weights sum to 1. Every weight is > 0, so the image's borders (which only one
    tile covers) are still defined after dividing by the weight sum.

    Taught in ``notebooks/07_inference.ipynb``.
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

    Walks the layers in order: a ``k x k`` conv or pool adds ``(k - 1) * jump`` pixels
    (``jump``: input pixels between neighbouring features); strides multiply ``jump``, an
    up-sampling divides it; merges take the widest input. An output pixel nearer to the border
    than half this is touched by the convolutions' zero padding.

    Taught in ``notebooks/07_inference.ipynb``.
    """
    from keras import layers

    field: dict[str, tuple[float, float]] = {}
    for layer in model.layers:
        inputs = layer.input if isinstance(layer.input, list) else [layer.input]
        names = [_compat.producing_layer_name(t) for t in inputs]
        known = [field[name] for name in names if name in field]
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


def _flip_predict(model, batch: np.ndarray, flips, logits: bool) -> np.ndarray:
    """Mean probabilities of ``batch`` over the flips (each undone on the prediction)."""
    total = None
    for axes in flips:
        axes = tuple(a + 1 for a in axes)
        x = np.flip(batch, axes) if axes else batch
        p = to_probabilities(model.predict_on_batch(x), logits)
        p = np.flip(p, axes) if axes else p
        total = p if total is None else total + p
    return total / len(flips)


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


def tiled_probabilities(
    model,
    image,
    tile: int | None = None,
    overlap: int = 64,
    batch_size: int = 4,
    tta: bool = False,
    progress: bool | None = None,
    multiple: int = MULTIPLE,
) -> np.ndarray:
    """Blended per-pixel probabilities ``(H, W, C)`` float32 of one image of any size.

    Args and preparation as in :func:`predict_tiled`; C is the model's output channels
    (1 for a binary head: the probability of class 1).

    Taught in ``notebooks/07_inference.ipynb``.
    """
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3:
        raise ValueError(
            f"predict_tiled takes one image (H, W) or (H, W, C), got shape {np.shape(image)}; "
            "for a batch, call it once per image."
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    channels, logits = model.input_shape[-1], from_logits(model)
    grid = tile_grid(array.shape[0], array.shape[1], _static_tile(model, tile), overlap, multiple)
    window = blend_window(grid.tile, grid.overlap)
    total, weight = None, np.zeros(array.shape[:2], dtype=np.float32)
    flips = FLIPS if tta else ((),)
    from tqdm.auto import tqdm

    show = len(grid) >= 16 if progress is None else progress
    bar = tqdm(total=len(grid), unit="tile", desc="tiles", disable=not show)
    origins = grid.origins()  # a generator: tiles are cut batch by batch, never all at once
    while batch := list(itertools.islice(origins, batch_size)):
        tiles = np.stack([prepare_image(_cut(array, top, left, grid.tile), channels) for top, left in batch])
        probs = _flip_predict(model, tiles, flips, logits)
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


def predict_tiled(
    model,
    image,
    tile: int | None = None,
    overlap: int = 64,
    batch_size: int = 4,
    tta: bool = False,
    threshold: float = 0.5,
    progress: bool | None = None,
    multiple: int = MULTIPLE,
) -> np.ndarray:
    """Class mask ``(H, W)`` of one image of any size, predicted by overlapping, blended tiles.

    Args:
        model: a segmentation model taking ``(B, h, w, C)`` float32 in ``[0, 1]``
            (``input_shape=(None, None, C)`` for any tile size).
        image: ``(H, W)`` or ``(H, W, C)``; uint8 (divided by 255) or float in ``[0, 1]``; each
            tile is prepared by :func:`segutils.evaluation.prepare_image` (1 <-> 3 channels converted).
        tile: tile side in pixels, a multiple of ``multiple`` (default 256, or the model's
            fixed input size).
        overlap: pixels shared by neighbouring tiles, a multiple of ``multiple``; half of it
            (rounded up to ``multiple``) is the mirrored context around the image.
        batch_size: tiles predicted at once: with the accumulators, the whole memory cost.
        tta: average the probabilities over the four flips (none, vertical, horizontal,
            both): four times the cost.
        threshold: the binary head's threshold (one output channel).
        progress: show a tqdm bar; ``None`` shows it from 16 tiles on.
        multiple: the model's total down-sampling (32 covers U-Net depth <= 5 and LinkNet).

    Returns:
        The class of each pixel, by the head rule of :func:`segutils.evaluation.predict_masks`.

    On an image that fits in one tile, the probabilities equal whole-image prediction's
    (within float32 rounding, 1e-5) at pixels farther from the border than the model's
    receptive-field radius; nearer, the tile sees mirrored context where the whole image's
    'same' convolutions see zero padding, so they differ there.

    Taught in ``notebooks/07_inference.ipynb``.
    """
    probs = tiled_probabilities(model, image, tile, overlap, batch_size, tta, progress, multiple)
    return head_rule(probs, threshold)
