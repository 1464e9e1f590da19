"""Synthetic shapes, the offline dataset: circles, squares and triangles on textured backgrounds.

Taught in ``notebooks/01_data.ipynb``."""

import numpy as np

from .registry import CAMVID_COLOURS

#: Class names, indexed by mask value.
CLASS_NAMES = ("background", "circle", "square", "triangle")
NUM_CLASSES = len(CLASS_NAMES)
#: Most shapes drawn on one image (each image gets 1 to this many).
MAX_SHAPES = 4


def _smooth_noise(rng: np.random.Generator, n: int, height: int, width: int, cells: int = 5) -> np.ndarray:
    """Random values on a coarse ``cells x cells`` grid, bilinearly upsampled: shape (n, H, W, 3)."""
    coarse = rng.uniform(-1.0, 1.0, size=(n, cells, cells, 3)).astype(np.float32)

    def weights(length: int) -> np.ndarray:
        # Row i of the (length, cells) matrix: each grid node's linear-interpolation weight at output pixel i.
        pos = (np.arange(length) + 0.5) / length * (cells - 1)
        return np.stack([np.interp(pos, np.arange(cells), node) for node in np.eye(cells)], axis=1).astype(np.float32)

    return np.einsum("hy,nyxc,wx->nhwc", weights(height), coarse, weights(width), optimize=True)


def _background(rng: np.random.Generator, n: int, height: int, width: int) -> np.ndarray:
    """Muted textured backgrounds: a grey level, a tint, a linear gradient, smooth noise, grain."""
    f32 = np.float32
    base = rng.uniform(70, 150, size=(n, 1, 1, 1)) + rng.uniform(-15, 15, size=(n, 1, 1, 3))
    angle = rng.uniform(0, 2 * np.pi, size=(n, 1, 1, 1))
    yy = (np.arange(height, dtype=f32)[None, :, None, None] / max(height - 1, 1)) - 0.5
    xx = (np.arange(width, dtype=f32)[None, None, :, None] / max(width - 1, 1)) - 0.5
    amplitude = rng.uniform(10, 50, size=(n, 1, 1, 1))
    gradient = (amplitude * np.cos(angle)).astype(f32) * xx + (amplitude * np.sin(angle)).astype(f32) * yy
    texture = 25 * _smooth_noise(rng, n, height, width)
    grain = 4 * rng.standard_normal(size=(n, height, width, 1), dtype=f32)
    return base.astype(f32) + gradient + texture + grain


def make_shapes(n: int, size: int | tuple[int, int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images ``uint8 (n, H, W, 3)`` of 1 to 4 shapes and masks ``(n, H, W)``: 0 background, 1 circle,
    2 square, 3 triangle; ``size`` a side or ``(height, width)``; the same for the same ``seed``."""
    height, width = (size, size) if np.isscalar(size) else (int(size[0]), int(size[1]))
    if n < 0 or height < 1 or width < 1:
        raise ValueError(f"make_shapes needs n >= 0 and a positive size, got n={n}, size={size!r}")
    rng = np.random.default_rng(seed)
    canvas = _background(rng, n, height, width)

    side = min(height, width)
    count = rng.integers(1, MAX_SHAPES + 1, size=n)
    classes = rng.integers(1, NUM_CLASSES, size=(n, MAX_SHAPES))
    classes[:, 0] = np.arange(n) % 3 + 1
    radius = rng.uniform(0.08, 0.2, size=(n, MAX_SHAPES)) * side
    cy = rng.uniform(radius, height - radius)
    cx = rng.uniform(radius, width - radius)
    # Saturated colours: each channel near 0 or near 255, never all alike.
    colours = np.where(rng.random((n, MAX_SHAPES, 3)) < 0.5, rng.uniform(0, 60, (n, MAX_SHAPES, 3)),
                       rng.uniform(190, 255, (n, MAX_SHAPES, 3)))
    grey = np.ptp(colours, axis=-1) < 100
    colours[..., 0] = np.where(grey, 255 - colours[..., 1], colours[..., 0])

    # top[i, y, x]: index of the last shape drawn over pixel (y, x) of image i, or -1.
    top = np.full((n, height, width), -1, dtype=np.int8)
    y = np.arange(height, dtype=np.float32)[None, :, None] + 0.5
    x = np.arange(width, dtype=np.float32)[None, None, :] + 0.5
    for k in range(MAX_SHAPES):
        r = radius[:, k, None, None].astype(np.float32)
        dy = y - cy[:, k, None, None].astype(np.float32)
        dx = x - cx[:, k, None, None].astype(np.float32)
        cls = classes[:, k, None, None]
        square_or_triangle = (cls == 2) & (np.abs(dx) <= r) | (cls == 3) & (np.abs(dx) <= (dy + r) / 2)
        inside = np.where(cls == 1, dy * dy + dx * dx <= r * r, (np.abs(dy) <= r) & square_or_triangle)
        inside &= (k < count)[:, None, None]
        top[inside] = k

    shade = colours + rng.normal(0, 6, size=(n, MAX_SHAPES, 3))
    rows = np.arange(n)[:, None, None]
    masks = np.where(top >= 0, classes[rows, top], 0).astype(np.uint8)
    canvas = np.where((top >= 0)[..., None], shade.astype(np.float32)[rows, top], canvas)

    canvas += 3 * rng.standard_normal(size=canvas.shape, dtype=np.float32)
    return np.clip(np.rint(canvas), 0, 255).astype(np.uint8), masks


def make_streets(n: int, size: tuple[int, int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` street scenes of ``size`` ``(height, width)`` with CamVid's 12 classes, each in its CamVid colour plus
    noise: uint8 images ``(n, H, W, 3)`` and masks ``(n, H, W)``, the same for a ``seed``; ``load("streets")``,
    the ``ci`` data of ``notebooks/08_street_scenes.ipynb``."""
    height, width = int(size[0]), int(size[1])
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
    masks = np.zeros((n, height, width), np.uint8)
    for i in range(n):
        horizon, ground, pole = rng.uniform(0.25, 0.4), rng.uniform(0.55, 0.65), rng.uniform(0, 0.95)
        roof = horizon + rng.uniform(-0.15, 0.1, 8)[np.minimum((x * 8).astype(int), 7)]
        m = masks[i]
        m[y >= roof] = 1
        m[(y >= roof) & (np.abs(x - rng.uniform(0, 1)) < 0.12)] = 5
        m[y >= ground] = 4
        m[(y >= ground) & (np.abs(x - 0.5) < 0.1 + (y - ground) * 0.9)] = 3
        boxes = [(7, ground - 0.06, ground, *sorted(rng.uniform(0, 1, 2))), (2, horizon, ground + 0.05, *[pole] * 2),
                 (8, ground + 0.05, ground + 0.2, rng.uniform(0.3, 0.5), rng.uniform(0.55, 0.7)),
                 (9, ground - 0.15, ground + 0.1, *[rng.uniform(0.05, 0.25)] * 2),
                 (10, ground, ground + 0.15, *[rng.uniform(0.6, 0.8)] * 2),
                 (11, rng.uniform(0.7, 0.9), 1.0, *[rng.uniform(0, 0.8)] * 2)]
        for cls, top, bottom, left, right in boxes:
            wide = {2: 0.02, 9: 0.04, 10: 0.08, 11: 0.2}.get(cls, 0.0)
            m[(y >= top) & (y < bottom) & (x >= left) & (x <= right + wide)] = cls
        m[(y >= horizon - 0.06) & (y < horizon) & (x >= pole - 0.02) & (x <= pole + 0.05)] = 6
    noise = 20 * _smooth_noise(rng, n, height, width) + 6 * rng.standard_normal((n, height, width, 1))
    return np.clip(np.array(CAMVID_COLOURS)[masks] + noise, 0, 255).astype(np.uint8), masks
