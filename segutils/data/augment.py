"""Joint image + mask augmentation in TensorFlow ops, stateless from a ``seed`` ``[2]``.

Geometric changes move image and mask alike (the mask always nearest); photometric ones touch the image only.
Taught in ``notebooks/01_data.ipynb``."""

import math
from dataclasses import dataclass

import tensorflow as tf


@dataclass(frozen=True)
class AugmentConfig:
    """Which augmentations to apply and how strongly (``crop_scale`` 1.0 and zero strengths turn them off)."""

    crop_scale: float = 0.8
    flip_horizontal: bool = True
    flip_vertical: bool = True
    rotate90: bool = True
    brightness: float = 0.1
    contrast: float = 0.2
    gamma: float = 0.2
    elastic: bool = False
    elastic_grid: int = 3
    elastic_sigma: float = 10.0

    def __post_init__(self):
        if not 0.0 < self.crop_scale <= 1.0:
            raise ValueError(f"crop_scale must be in (0, 1], got {self.crop_scale}")
        if min(self.brightness, self.contrast, self.gamma, self.elastic_sigma) < 0:
            raise ValueError("brightness, contrast, gamma and elastic_sigma must be >= 0")
        if self.elastic_grid < 2:
            raise ValueError(f"elastic_grid must be >= 2, got {self.elastic_grid}")


#: Geometry only, no photometric change: handy to check alignment.
GEOMETRY_ONLY = AugmentConfig(brightness=0.0, contrast=0.0, gamma=0.0)
#: Nothing at all; switch single augmentations on with ``dataclasses.replace(IDENTITY, ...)``.
IDENTITY = AugmentConfig(crop_scale=1.0, flip_horizontal=False, flip_vertical=False, rotate90=False, brightness=0.0,
                         contrast=0.0, gamma=0.0)


def _uniform(seed, minval=0.0, maxval=1.0, shape=()):
    return tf.random.stateless_uniform(shape, seed=seed, minval=minval, maxval=maxval)


def _mirror(coords, size):
    """Reflect coordinates outside ``[0, size - 1]`` back inside, as a mirror at the border."""
    last = tf.cast(size - 1, tf.float32)
    coords = last - tf.abs(last - tf.abs(coords))
    return tf.clip_by_value(coords, 0.0, last)  # displacements larger than the image


def _bilinear(image, ys, xs):
    """Sample ``image`` [H, W, C] at float pixel coordinates ``ys, xs`` [H, W] (mirrored borders)."""
    shape = tf.shape(image)
    height, width = shape[0], shape[1]
    flat = tf.reshape(image, [-1, shape[2]])
    ys, xs = _mirror(ys, height), _mirror(xs, width)
    y0, x0 = tf.floor(ys), tf.floor(xs)
    wy, wx = (ys - y0)[..., None], (xs - x0)[..., None]
    y0, x0 = tf.cast(y0, tf.int32), tf.cast(x0, tf.int32)
    y1, x1 = tf.minimum(y0 + 1, height - 1), tf.minimum(x0 + 1, width - 1)

    def at(yi, xi):
        return tf.gather(flat, yi * width + xi)

    top = at(y0, x0) * (1 - wx) + at(y0, x1) * wx
    bottom = at(y1, x0) * (1 - wx) + at(y1, x1) * wx
    return top * (1 - wy) + bottom * wy


def _nearest(mask, ys, xs):
    """Sample ``mask`` [H, W, C] at the pixel nearest to ``ys, xs`` (mirrored borders)."""
    shape = tf.shape(mask)
    yi = tf.cast(tf.floor(_mirror(ys, shape[0]) + 0.5), tf.int32)
    xi = tf.cast(tf.floor(_mirror(xs, shape[1]) + 0.5), tf.int32)
    return tf.gather(tf.reshape(mask, [-1, shape[2]]), yi * shape[1] + xi)


def crop_window(seed, size, min_scale: float = 0.8):
    """A random window ``(offset, crop)`` inside ``size``, its sides a random fraction in ``[min_scale, 1]``."""
    scale_seed, offset_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    scale = _uniform(scale_seed, min_scale, 1.0)
    crop = tf.maximum(tf.cast(tf.round(tf.cast(size, tf.float32) * scale), tf.int32), 1)
    room = tf.cast(size - crop + 1, tf.float32)  # possible offsets per axis
    offset = tf.minimum(tf.cast(_uniform(offset_seed, shape=(2,)) * room, tf.int32), size - crop)
    return offset, crop


def random_crop(image, mask, seed, min_scale: float = 0.8):
    """A :func:`crop_window` resized back to the input size (the mask with nearest neighbour)."""
    size = tf.shape(image)[:2]
    offset, crop = crop_window(seed, size, min_scale)
    (y, x), (h, w) = tf.unstack(offset), tf.unstack(crop)
    image, mask = image[y : y + h, x : x + w], mask[y : y + h, x : x + w]
    return tf.image.resize(image, size, method="bilinear"), tf.image.resize(mask, size, method="nearest")


def elastic(image, mask, seed, grid: int = 3, sigma: float = 10.0, window=None):
    """Elastic deformation (the U-Net paper): a ``grid x grid`` Gaussian field of ``sigma`` pixels (at 512),
    bicubically smoothed; the image bilinear, the mask nearest; ``window`` crops in the same resampling."""
    shape = tf.shape(image)
    h, w = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
    coarse = tf.random.stateless_normal((1, grid, grid, 2), seed=seed) * sigma * tf.minimum(h, w) / 512.0
    field = tf.image.resize(coarse, shape[:2], method="bicubic")[0]
    ys, xs = tf.range(h), tf.range(w)
    if window is not None:  # output pixel i reads y0 + (i + 0.5) * crop / size - 0.5
        offset, crop = (tf.cast(t, tf.float32) for t in window)
        ys = offset[0] + (ys + 0.5) * crop[0] / h - 0.5
        xs = offset[1] + (xs + 0.5) * crop[1] / w - 0.5
    ys, xs = tf.meshgrid(ys, xs, indexing="ij")
    ys, xs = ys + field[..., 0], xs + field[..., 1]
    return _bilinear(image, ys, xs), _nearest(mask, ys, xs)


def flip_and_rotate(image, mask, seed, config: AugmentConfig):
    """Random horizontal/vertical flips and 90-degree rotations, exact for image and mask alike."""
    h_seed, v_seed, r_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    channels = tf.shape(image)[-1]
    both = tf.concat([image, tf.cast(mask, image.dtype)], axis=-1)  # one op moves both
    if config.flip_horizontal:
        both = tf.cond(_uniform(h_seed) < 0.5, lambda: tf.reverse(both, [1]), lambda: both)
    if config.flip_vertical:
        both = tf.cond(_uniform(v_seed) < 0.5, lambda: tf.reverse(both, [0]), lambda: both)
    if config.rotate90:
        k = tf.random.stateless_uniform((), seed=r_seed, minval=0, maxval=4, dtype=tf.int32)
        square = tf.equal(tf.shape(both)[0], tf.shape(both)[1])
        k = tf.where(square, k, 2 * (k % 2))  # a non-square image keeps its shape
        both = tf.image.rot90(both, k)
    return both[..., :channels], tf.cast(both[..., channels:], mask.dtype)


def photometric(image, seed, config: AugmentConfig):
    """Brightness, contrast and gamma on an image in ``[0, 1]``, clipped to ``[0, 1]``."""
    b_seed, c_seed, g_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    if config.brightness:
        image = image + _uniform(b_seed, -config.brightness, config.brightness)
    if config.contrast:
        mean = tf.reduce_mean(image)
        image = (image - mean) * _uniform(c_seed, 1 - config.contrast, 1 + config.contrast) + mean
    image = tf.clip_by_value(image, 0.0, 1.0)
    if config.gamma:
        limit = math.log1p(config.gamma)
        image = tf.pow(image, tf.exp(_uniform(g_seed, -limit, limit)))
    return image


def augment(image, mask, seed, config: AugmentConfig | None = None):
    """``config`` applied to one ``(image, mask)`` pair with a stateless ``seed``: geometry, then photometric."""
    config = config or AugmentConfig()
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    geo_seed, flip_seed, photo_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    image, mask = tf.convert_to_tensor(image, tf.float32), tf.convert_to_tensor(mask)
    static_image, static_mask = image.shape, mask.shape
    crop_seed, elastic_seed = tf.unstack(tf.random.experimental.stateless_split(geo_seed, 2))
    if config.elastic:  # crop and warp in one resampling
        window = crop_window(crop_seed, tf.shape(image)[:2], config.crop_scale) if config.crop_scale < 1.0 else None
        image, mask = elastic(image, mask, elastic_seed, config.elastic_grid, config.elastic_sigma, window)
    elif config.crop_scale < 1.0:
        image, mask = random_crop(image, mask, crop_seed, config.crop_scale)
    if config.flip_horizontal or config.flip_vertical or config.rotate90:
        image, mask = flip_and_rotate(image, mask, flip_seed, config)
    image = photometric(image, photo_seed, config)
    return tf.ensure_shape(image, static_image), tf.ensure_shape(mask, static_mask)
