"""Overlap-tile prediction (Ronneberger et al. 2015, Fig. 2) of one image of any size: a mirrored margin, tiles
blended by ``sin^2`` weights that add up to 1. Taught in ``notebooks/07_inference.ipynb``."""

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from keras import layers
from tqdm.auto import tqdm

from . import _compat
from .checks import whole
from .data.sources import MULTIPLE, image_array
from .functional import head_rule
from .predict import check_outputs, ends_in_logits, prepare_image, round_up, to_probabilities

#: The flips averaged by ``tta=True``: the axes of a batch of tiles (1: rows, 2: columns) flipped in each variant.
FLIPS = ((), (1,), (2,), (1, 2))


@dataclass(frozen=True)
class TileGrid:
    """The tiles of an image: their size, overlap, mirrored margin, and top (``rows``) and left (``cols``) edges in
    image coordinates, from ``-margin``."""

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


def tile_grid(height: int, width: int, tile: int = 256, overlap: int = 64) -> TileGrid:
    """The :class:`TileGrid` of ``tile``-pixel tiles overlapping by ``overlap`` over a margin of ``overlap / 2``
    (rounded up to a multiple of 32; a small image gets one smaller tile). An empty image, or a ``tile`` or ``overlap``
    that does not fit 32, raises ValueError naming what works. Taught in ``notebooks/07_inference.ipynb``."""
    if height < 1 or width < 1:
        raise ValueError(f"the image is empty: {height} x {width} pixels")
    if tile < MULTIPLE or tile % MULTIPLE:
        below, above = max(tile // MULTIPLE, 1) * MULTIPLE, round_up(max(tile, 1), MULTIPLE)
        raise ValueError(f"tile={tile} must be a positive multiple of {MULTIPLE} (the model's down-sampling), so that "
                         f"every tile's pooling grid lines up with the image's; use tile={below} or {above}.")
    if overlap < 0 or overlap % MULTIPLE or overlap >= tile:
        nearest = min(tile - MULTIPLE, round_up(max(overlap, 0), MULTIPLE))
        raise ValueError(f"overlap={overlap} must be a multiple of {MULTIPLE} from 0 to tile - {MULTIPLE} = "
                         f"{tile - MULTIPLE} (tile={tile}); {nearest} is the nearest that works.")
    margin = round_up(overlap // 2, MULTIPLE)
    sides = []
    for size in (height, width):
        side = min(tile, round_up(size + 2 * margin, MULTIPLE))
        step = side - overlap
        count = 1 if size + 2 * margin <= side else math.ceil((size + 2 * margin - side) / step) + 1
        sides.append((side, tuple(-margin + k * step for k in range(count))))
    (tile_h, rows), (tile_w, cols) = sides
    return TileGrid((tile_h, tile_w), overlap, margin, rows, cols)


def blend_window(tile: tuple[int, int], overlap: int) -> np.ndarray:
    """Float32 ``tile`` weights: 1 inside, ``sin^2`` ramps over ``overlap`` at the edges (overlapping ramps sum to
    1), > 0 everywhere. Taught in ``notebooks/07_inference.ipynb``."""

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
    """Side in pixels of the input window one output pixel depends on: a ``k x k`` conv or pool adds
    ``(k - 1) * jump`` (input pixels between features), strides multiply ``jump``, up-sampling divides it, merges
    take the widest input. Taught in ``notebooks/07_inference.ipynb``."""
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
    """Indices ``start .. start + length - 1`` reflected into ``[0, size)`` by ``np.pad(mode="reflect")``."""
    before, after = max(-start, 0), max(start + length - size, 0)
    return np.pad(np.arange(size), (before, after), mode="reflect")[start + before : start + before + length]


def _static_tile(model, tile: int | None) -> int:
    height, width = model.input_shape[1:3]
    if height is None and width is None:
        return 256 if tile is None else tile
    if height != width or (tile is not None and tile != height):
        raise ValueError(f"the model takes fixed {height} x {width} inputs, so tiles must be square and of that size; "
                         f"got tile={tile}. Build it with input_shape=(None, None, C) to tile at any size.")
    return height


def tiled_probabilities(model, image, tile: int | None = None, overlap: int = 64, batch_size: int = 4,
                        tta: bool = False, progress: bool | None = None, from_logits: bool | None = None) -> np.ndarray:
    """Blended float32 probabilities ``(H, W, C)`` of one image, arguments as in :func:`predict_tiled`; tiles are cut
    batch by batch (no padded copy). Taught in ``notebooks/07_inference.ipynb``."""
    array = np.asarray(image)
    array = array[..., None] if array.ndim == 2 else array
    if array.ndim != 3:
        raise ValueError(f"predict_tiled takes one image (H, W) or (H, W, C), got shape {np.shape(image)}; "
                         "for a batch, call it once per image.")
    whole(batch_size, "batch_size")
    image_array(array, "the image")  # its values checked before any tile is predicted
    channels, logits = model.input_shape[-1], ends_in_logits(model, from_logits)
    grid = tile_grid(array.shape[0], array.shape[1], _static_tile(model, tile), overlap)
    window = blend_window(grid.tile, grid.overlap)
    total, weight = None, np.zeros(array.shape[:2], dtype=np.float32)
    show = len(grid) >= 16 if progress is None else progress
    bar = tqdm(total=len(grid), unit="tile", desc="tiles", disable=not show)
    origins = grid.origins()  # an iterator: tiles are cut batch by batch, never all at once
    while batch := list(itertools.islice(origins, batch_size)):
        tiles = np.stack([prepare_image(_cut(array, top, left, grid.tile), channels) for top, left in batch])
        flips = FLIPS if tta else ((),)  # each flip undone on its prediction
        probs = sum(np.flip(to_probabilities(model.predict_on_batch(np.flip(tiles, axes)), logits), axes)
                    for axes in flips) / len(flips)
        check_outputs(probs, model)
        if total is None:
            total = np.zeros(array.shape[:2] + probs.shape[-1:], dtype=np.float32)
        for (top, left), p in zip(batch, probs, strict=True):  # the part of the tile inside the image
            y0, x0 = max(top, 0), max(left, 0)
            y1, x1 = min(top + p.shape[0], total.shape[0]), min(left + p.shape[1], total.shape[1])
            inside = np.s_[y0 - top : y1 - top, x0 - left : x1 - left]
            total[y0:y1, x0:x1] += p[inside] * window[inside][..., None]
            weight[y0:y1, x0:x1] += window[inside]
        bar.update(len(batch))
    bar.close()
    return total / weight[..., None]


def _cut(array: np.ndarray, top: int, left: int, tile: tuple[int, int]) -> np.ndarray:
    """The tile at ``(top, left)``, mirrored where it leaves the image (a copy of one tile only)."""
    return array[np.ix_(mirror_indices(top, tile[0], array.shape[0]), mirror_indices(left, tile[1], array.shape[1]))]


def predict_tiled(model, image, tile: int | None = None, overlap: int = 64, batch_size: int = 4, tta: bool = False,
                  threshold: float = 0.5, progress: bool | None = None, from_logits: bool | None = None) -> np.ndarray:
    """Class mask ``(H, W)`` of one image of any size, predicted by overlapping, blended tiles; farther from the
    border than half the :func:`receptive_field`, a tile's probabilities equal the whole image's.
    Taught in ``notebooks/07_inference.ipynb``.

    Args:
        image: ``(H, W)`` or ``(H, W, C)``, uint8 or float in ``[0, 1]``.
        tile: tile side, a multiple of 32, the models' down-sampling (default 256, or the model's fixed input).
        overlap: pixels neighbouring tiles share, a multiple of 32.
        batch_size: tiles predicted at once (with the sums, the whole memory cost).
        tta: average over the four flips (four times the cost).
        progress: a tqdm bar; ``None`` shows it from 16 tiles on.
        threshold, from_logits: as in :func:`segutils.predict.predict_masks`.
    """
    probs = tiled_probabilities(model, image, tile, overlap, batch_size, tta, progress, from_logits)
    return head_rule(probs, threshold)
