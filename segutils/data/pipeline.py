"""The ``tf.data`` pipeline in six steps: :func:`read` -> :func:`resize` (masks always nearest) -> ``cache`` ->
:func:`shuffle` -> :func:`augment_pairs` -> :func:`batches`; :func:`make_dataset` chains them.

A bad mask value in a PNG is named while iterating (in a ``tf.errors.InvalidArgumentError``).
Taught in ``notebooks/01_data.ipynb``."""

from dataclasses import dataclass, replace

import numpy as np
import tensorflow as tf

from segutils import config
from segutils.checks import whole
from segutils.data.augment import AugmentConfig
from segutils.data.augment import augment as augment_pair
from segutils.data.sources import MASK_ENCODINGS, check_size, parse_size, source

#: Threads of the pipeline's own work: ``None`` is 1 on a CPU (the training step needs the cores), TensorFlow's
#: autotuning beside a GPU or TPU; ``0`` forces autotuning.
THREADS: int | None = None
PREFETCH = 2  # batches prepared ahead of the training step


def threads() -> int:
    """The pipeline's threads now: ``THREADS``, or its default for this machine (0: TensorFlow's tuning)."""
    return THREADS if THREADS is not None else (0 if config.accelerators() else 1)


def _options(threads: int) -> tf.data.Options:
    """With ``threads``: no autotuning (its own thread), a private pool, and every op in it on one core."""
    options = tf.data.Options()
    if threads:
        options.autotune.enabled = False
        options.threading.private_threadpool_size = threads
        options.threading.max_intra_op_parallelism = 1
    return options


def resize_image(image, size, method: str = "area"):
    """An image ``[H, W, C]`` resized with ``area`` or ``bilinear``: float32 in the input's range."""
    return tf.image.resize(tf.cast(image, tf.float32), size, method=method, antialias=method == "bilinear")


def resize_mask(mask, size):
    """Resize a mask ``[H, W, 1]`` with nearest neighbour: the only method that invents no class."""
    return tf.image.resize(mask, size, method="nearest")


def resize_split(split, side) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A split's images (``uint8``, ``area``) and masks (nearest) at ``side`` (or ``(height, width)``), as the pipeline
    resizes them: what a model is scored on. Taught in ``notebooks/06_comparison.ipynb``."""
    size = parse_size(side)
    images = [np.asarray(resize_image(im, size)).round().astype(np.uint8) for im in split.images]
    masks = [np.asarray(resize_mask(m[..., None], size))[..., 0] for m in split.masks]
    return images, masks


def _pad(image, mask, size, fill: int):
    """``image`` (reflected) and ``mask`` (``fill``) padded symmetrically up to ``size``."""
    shape = tf.shape(image)
    dh, dw = size[0] - shape[0], size[1] - shape[1]
    pads = [[dh // 2, dh - dh // 2], [dw // 2, dw - dw // 2], [0, 0]]
    return tf.pad(image, pads, mode="REFLECT"), tf.pad(mask, pads, constant_values=fill)


def _check_channels(n: int | None, channels: int | None) -> None:
    """ValueError unless images with ``n`` channels convert to ``channels``."""
    if channels is None or n is None or n == channels or n in (1, 3):
        return
    fix = (f"the images have an alpha channel: drop it first (images[..., :{n - 1}] for each image), or pass "
           f"channels=None to keep all {n}" if n in (2, 4) else
           f"images must be grayscale (1 channel) or RGB (3) to convert; pass channels=None to keep all {n}")
    raise ValueError(f"cannot convert {n} channels to {channels}: {fix}")


def _to_channels(image, channels: int | None):  # checked in read()
    if channels is None or image.shape[-1] == channels:
        return image
    if channels == 3:
        return tf.image.grayscale_to_rgb(image)
    gray = tf.image.rgb_to_grayscale(tf.cast(image, tf.float32))
    return gray if image.dtype.is_floating else tf.cast(tf.round(gray), image.dtype)


@dataclass(frozen=True)
class MaskFormat:
    """How masks are read (``encoding`` of PNG paths: ``"index"`` or ``"binary_0_255"``) and handed out
    (``one_hot``: float32 ``[B, H, W, K]``, the ignore index all zeros); ``None`` fields come from the split's info."""

    num_classes: int | None = None
    ignore_index: int | None = None
    encoding: str = "index"
    one_hot: bool = False

    def __post_init__(self):
        if self.encoding not in MASK_ENCODINGS:
            raise ValueError(f"mask encoding must be one of {MASK_ENCODINGS}, got {self.encoding!r}")

    @property
    def fill(self) -> int:
        """What padding writes into masks: the ignore index, else class 0."""
        return 0 if self.ignore_index is None else self.ignore_index


@dataclass(frozen=True)
class ImageFormat:
    """How images are read: ``channels`` 1 or 3 to convert, ``None`` to keep; ``resize_method`` ``"area"`` or
    ``"bilinear"``; a side not a multiple of 32 refused (``pad_or_reject="reject"``) or padded up (``"pad"``)."""

    channels: int | None = None
    resize_method: str = "area"
    pad_or_reject: str = "reject"

    def __post_init__(self):
        if self.channels not in (None, 1, 3):
            raise ValueError(f"channels must be 1 (grayscale), 3 (RGB) or None (keep them), got {self.channels!r}")
        if self.resize_method not in ("area", "bilinear"):
            raise ValueError(f"resize_method is 'area' or 'bilinear', not {self.resize_method!r} (masks always use "
                             "nearest)")


def mask_format(data, masks: MaskFormat | None = None) -> MaskFormat:
    """``masks`` with ``num_classes`` and ``ignore_index`` filled in from ``data.info`` where not given."""
    masks, info = masks or MaskFormat(), getattr(data, "info", None)
    pick = {k: getattr(info, k, None) for k in ("num_classes", "ignore_index") if getattr(masks, k) is None}
    masks = replace(masks, **{k: v for k, v in pick.items() if v is not None})
    if masks.one_hot and not masks.num_classes:
        raise ValueError("one_hot=True needs num_classes (or a Split whose info has it)")
    return masks


def read(data, masks: MaskFormat, images: ImageFormat | None = None, subset: int | None = None) -> tf.data.Dataset:
    """Step 1: checked ``(image, mask [H, W, 1])`` pairs at their own sizes, images uint8 or float32 in 0..255."""
    images = images or ImageFormat()
    subset = whole(subset, "subset", none_ok=True, fix="how many images to keep, or None for all of them")
    ds, count = source(data, subset, masks.encoding, masks.num_classes, masks.ignore_index, images.channels)
    _check_channels(ds.element_spec[0].shape[-1], images.channels)  # here, not inside map's traced code
    return ds.apply(tf.data.experimental.assert_cardinality(count))


def resize(ds: tf.data.Dataset, img_size, images: ImageFormat | None = None, fill: int = 0) -> tf.data.Dataset:
    """Step 2: every pair at ``img_size`` (padded with ``fill`` in masks if asked)."""
    images = images or ImageFormat()
    out_size, size = check_size(img_size, images.pad_or_reject), parse_size(img_size)
    floats = ds.element_spec[0].dtype.is_floating  # float or 16-bit images: kept as float32 in 0..255

    def one(image, mask):
        image = resize_image(_to_channels(image, images.channels), size, images.resize_method)
        image = tf.clip_by_value(image if floats else tf.round(image), 0, 255)
        image, mask = image if floats else tf.cast(image, tf.uint8), resize_mask(mask, size)
        if out_size != size:
            image, mask = _pad(image, mask, out_size, fill)
        image = tf.ensure_shape(image, [*out_size, image.shape[-1]])
        return image, tf.ensure_shape(tf.cast(mask, tf.int32), [*out_size, 1])

    return ds.map(one, num_parallel_calls=threads() or tf.data.AUTOTUNE)


def shuffle(ds: tf.data.Dataset, seed: int = 0) -> tf.data.Dataset:
    """Step 4 (after ``cache``): a new order every epoch, the same orders for the same ``seed``."""
    return ds.shuffle(int(ds.cardinality()), seed=seed, reshuffle_each_iteration=True)


def augment_pairs(ds: tf.data.Dataset, augment: AugmentConfig | None, seed: int = 0) -> tf.data.Dataset:
    """Step 5: images to float32 ``x / 255``, then ``augment`` drawn afresh per pair."""
    calls = threads() or tf.data.AUTOTUNE
    if augment is None:
        return ds.map(lambda x, m: (tf.cast(x, tf.float32) / 255.0, m), num_parallel_calls=calls)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    pairs = tf.data.Dataset.zip(ds, seeds)
    return pairs.map(lambda xm, s: augment_pair(tf.cast(xm[0], tf.float32) / 255.0, xm[1], s, augment), calls)


def batches(ds: tf.data.Dataset, batch_size: int, masks: MaskFormat | None = None) -> tf.data.Dataset:
    """Step 6: prefetched batches of ``batch_size`` (masks one-hot if ``masks.one_hot``)."""
    masks, batch_size = masks or MaskFormat(), whole(batch_size, "batch_size")
    ds = ds.batch(batch_size)
    if masks.one_hot:  # once per batch, not per image
        ds = ds.map(lambda x, m: (x, to_one_hot(m, masks.num_classes, masks.ignore_index)))
    return ds.prefetch(PREFETCH if threads() else tf.data.AUTOTUNE).with_options(_options(threads()))


def make_dataset(data, img_size: int | tuple[int, int], batch_size: int, training: bool = False,
                 augment: AugmentConfig | bool | None = None, seed: int = 0, repeat: bool = False,
                 subset: int | None = None, masks: MaskFormat | None = None,
                 images: ImageFormat | None = None) -> tf.data.Dataset:
    """Batches ``(images, masks)`` of ``data``: a ``Split`` from ``load`` or ``(images, masks)`` lists of arrays
    (uint8, uint16 or floats in [0, 1]) or PNG paths, at ``img_size`` (a side or ``(height, width)``, multiples of
    32). Images are float32 ``x / 255``; masks int32 ``[B, H, W, 1]`` class indices, or one-hot (:class:`MaskFormat`).

    ``training`` shuffles and augments (``augment``: an :class:`AugmentConfig`, ``True``, ``False``, or ``None`` to
    follow ``training``); ``seed`` fixes both; ``repeat`` repeats forever; ``subset`` keeps the first elements.
    Taught in ``notebooks/01_data.ipynb``."""
    if augment is None or isinstance(augment, (bool, np.bool_)):
        augment = AugmentConfig() if (training if augment is None else augment) else None
    elif not isinstance(augment, AugmentConfig):
        raise TypeError("augment must be an AugmentConfig, True (AugmentConfig()), False (no augmentation) or None "
                        f"(AugmentConfig() when training), got {augment!r} ({type(augment).__name__})")
    masks = mask_format(data, masks)
    ds = resize(read(data, masks, images, subset), img_size, images, masks.fill).cache()
    ds = shuffle(ds, seed) if training else ds
    return batches(augment_pairs(ds.repeat() if repeat else ds, augment, seed), batch_size, masks)


def to_one_hot(mask, num_classes: int, ignore_index: int | None = None):
    """One-hot float32 ``[..., K]`` of an int mask ``[..., 1]``; the ignore index maps to all zeros."""
    mask = tf.cast(mask[..., 0], tf.int32)
    if ignore_index is not None:
        mask = tf.where(mask == ignore_index, -1, mask)  # tf.one_hot(-1) is all zeros
    return tf.one_hot(mask, num_classes, dtype=tf.float32)


def describe(dataset: tf.data.Dataset) -> dict:
    """Shapes, dtypes and value ranges of the first batch of ``dataset``. Taught in ``notebooks/01_data.ipynb``."""
    images, masks = (t.numpy() for t in next(iter(dataset)))
    sparse = masks.shape[-1] == 1 and np.issubdtype(masks.dtype, np.integer)
    return dict(image_shape=images.shape, image_dtype=str(images.dtype),
                image_range=(float(images.min()), float(images.max())), mask_shape=masks.shape,
                mask_dtype=str(masks.dtype), mask_values=sorted(np.unique(masks).tolist()) if sparse else None,
                one_hot_sums=sorted(np.unique(masks.sum(-1)).tolist()) if not sparse else None)
