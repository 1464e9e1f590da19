"""The ``tf.data`` input pipeline: from images and masks to batches a model trains on.

Steps, in order: (decode PNG files with ``tf.io``) -> resize (``area`` or ``bilinear``
for images; masks ALWAYS nearest neighbour, there is no option to change that) ->
optional padding to a multiple of 32 -> cache -> shuffle -> repeat -> normalise ->
augment (:mod:`segutils.data.augment`) -> one-hot -> batch -> prefetch.

Normalisation convention of the whole course: the pipeline outputs images as float32 in
``[0, 1]`` (``x / 255``) and does nothing else to them (no mean or standard deviation).
U-Net takes these values as they are; LinkNet applies its encoder's own preprocessing
inside the model. So normalisation happens exactly once, and a model trained on this
pipeline needs the same ``x / 255`` at prediction time. Arrays that are not ``uint8``
(16-bit, floats already in [0, 1]) are handled, and anything else refused, by
:mod:`segutils.data.sources` before anything is built, like masks outside the classes.

Masks come out as int32 ``[B, H, W, 1]`` class indices, or with ``one_hot=True`` as
float32 ``[B, H, W, K]``; the one-hot vector of the ignore index (CamVid's 11,
``unlabelled``, or a folder's declared void such as 255) is all zeros, so it adds nothing
to a loss or metric summed over classes.

Sizes: LinkNet-ResNet34 halves the image 5 times (U-Net at depth 4, 4 times), so to serve both
models both sides must be multiples of 32.
Any other size is rejected with the nearest valid sizes, or with ``pad_or_reject="pad"``
padded up to the next multiple of 32 (centred; images reflected, masks filled with the
ignore index, or 0 when the dataset has none). Reflection needs each side longer than the
padding added to it, so sides below 12 cannot be padded to 32: they are rejected up front,
with the advice to resize to 32 instead. Taught in ``notebooks/01_data.ipynb``.

PNG paths: images are decoded with ``tf.io.decode_png``; masks with the same decoder as
``segutils.data.load`` (:func:`segutils.data.files.read_mask` and ``to_classes``), so a
paletted PNG gives its palette indices, a 16-bit PNG its values, and a value outside the
classes an error that names the file and the fix (raised while iterating, as
``tf.errors.InvalidArgumentError`` carrying the message). JPEG masks are refused at once.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
import tensorflow as tf

from segutils.data.augment import AugmentConfig
from segutils.data.augment import augment as augment_pair
from segutils.data.sources import (  # noqa: F401 - check_size etc. are part of this module's API
    MASK_ENCODINGS,
    MIN_PAD_SIDE,
    MULTIPLE,
    check_size,
    parse_size,
    source,
    whole,
)

RESIZE_METHODS = ("area", "bilinear")
CHANNELS = (None, 1, 3)


def _check_method(method: str) -> None:
    if method not in RESIZE_METHODS:
        raise ValueError(f"resize_method is 'area' or 'bilinear', not {method!r} (masks always use nearest)")


def resize_image(image, size, method: str = "area"):
    """Resize an image ``[H, W, C]`` with ``area`` or ``bilinear``; returns float32 in the input's range."""
    _check_method(method)
    return tf.image.resize(tf.cast(image, tf.float32), size, method=method, antialias=method == "bilinear")


def resize_mask(mask, size):
    """Resize a mask ``[H, W, 1]`` with nearest neighbour: the only method that invents no class.

    Taught in notebooks/01_data.ipynb.
    """
    return tf.image.resize(mask, size, method="nearest")



def resize_split(split, side: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A split's images (``uint8``, ``area``) and masks (nearest) at ``side x side``, as the pipeline resizes them.

    What a trained model is scored on: the test split at the side it was trained at.
    Taught in ``notebooks/06_comparison.ipynb``.
    """
    images = [np.asarray(resize_image(im, (side, side))).round().astype(np.uint8) for im in split.images]
    masks = [np.asarray(resize_mask(m[..., None], (side, side)))[..., 0] for m in split.masks]
    return images, masks

def _pad(image, mask, size, fill: int):
    """Pad ``image`` (reflect) and ``mask`` (``fill``) symmetrically up to ``size``.

    :func:`check_size` has made sure each reflected pad is shorter than the image side.
    """
    shape = tf.shape(image)
    dh, dw = size[0] - shape[0], size[1] - shape[1]
    pads = [[dh // 2, dh - dh // 2], [dw // 2, dw - dw // 2], [0, 0]]
    return tf.pad(image, pads, mode="REFLECT"), tf.pad(mask, pads, constant_values=fill)


def _check_channels(n: int | None, channels: int | None) -> None:
    """ValueError, saying what to do, unless images with ``n`` channels convert to ``channels``."""
    if channels is None or n is None or n == channels or n in (1, 3):
        return
    if n in (2, 4):
        fix = (
            f"the images have an alpha channel: drop it first (images[..., :{n - 1}] for each image), "
            f"or pass channels=None to keep all {n}"
        )
    else:
        fix = f"images must be grayscale (1 channel) or RGB (3) to convert; pass channels=None to keep all {n}"
    raise ValueError(f"cannot convert {n} channels to {channels}: {fix}")


def _to_channels(image, channels: int | None):
    """``image`` with ``channels`` channels (1 <-> 3 only; :func:`_check_channels` ran before)."""
    _check_channels(image.shape[-1], channels)
    if channels is None or image.shape[-1] == channels:
        return image
    if channels == 3:
        return tf.image.grayscale_to_rgb(image)
    gray = tf.image.rgb_to_grayscale(tf.cast(image, tf.float32))
    return gray if image.dtype.is_floating else tf.cast(tf.round(gray), image.dtype)


def make_dataset(
    data,
    img_size: int | tuple[int, int],
    batch_size: int,
    training: bool = False,
    augment: AugmentConfig | bool | None = None,
    num_classes: int | None = None,
    one_hot: bool = False,
    resize_method: str = "area",
    pad_or_reject: str = "reject",
    shuffle: bool | None = None,
    cache: bool = True,
    seed: int = 0,
    subset: int | None = None,
    repeat: bool = False,
    channels: int | None = None,
    ignore_index: int | None = None,
    mask_encoding: str = "index",
) -> tf.data.Dataset:
    """Build the ``tf.data.Dataset`` of ``(image, mask)`` batches.

    Args:
        data: a ``Split`` from ``segutils.data.load`` (its ``info`` supplies ``num_classes``
            and ``ignore_index``), a pair ``(images, masks)`` of arrays or lists of arrays
            (``HxWxC`` or ``HxW``: uint8, uint16, or floats in [0, 1]; masks ``HxW`` class
            indices, checked against ``num_classes`` and ``ignore_index``; sizes may differ),
            or a pair of lists of PNG paths: images decoded with ``tf.io.decode_png`` to
            ``channels`` (default: those of the first image, alpha dropped, so a folder
            mixing grey and RGB PNGs gives one channel count; pass ``channels=3`` to keep
            colour), masks with ``segutils.data.files.read_mask`` and ``to_classes``.
        img_size: output side, or ``(height, width)``: whole numbers, multiples of 32 (see
            ``pad_or_reject``).
        batch_size: images per batch, a whole number >= 1 (the last batch may be smaller).
        training: shuffle by default, and augment with ``AugmentConfig()`` unless
            ``augment`` says otherwise.
        augment: an :class:`AugmentConfig`; ``True`` for ``AugmentConfig()``, ``False`` for
            none, ``None`` for the default (``AugmentConfig()`` when training, none otherwise).
        num_classes: classes K for ``one_hot``; defaults to ``data.info.num_classes``.
        one_hot: masks as float32 ``[B, H, W, K]`` instead of int32 ``[B, H, W, 1]``.
        resize_method: ``"area"`` or ``"bilinear"`` for images. Masks are always resized
            with nearest neighbour.
        pad_or_reject: what to do with a side that is not a multiple of 32: ``"reject"``
            (ValueError with the nearest valid sizes) or ``"pad"`` (reflect up to the next
            multiple; sides below 12 are too short to reflect and raise ValueError).
        shuffle: shuffle the elements; defaults to ``training``.
        cache: keep decoded, resized uint8 elements in memory after the first pass.
        seed: seeds shuffling and augmentation; the same seed gives the same batches.
        subset: keep only the first ``subset`` elements (a whole number >= 1, or None).
        repeat: repeat forever (use with ``steps_per_epoch``).
        channels: convert images to 1 or 3 channels (e.g. 3 for LinkNet on membrane).
        ignore_index: class left out of one-hot and used to pad masks; defaults to
            ``data.info.ignore_index``.
        mask_encoding: for PNG paths only: ``"index"`` (value = class, or palette index of
            a paletted PNG) or ``"binary_0_255"`` (exactly 0 and 255 -> 0 and 1; any other
            value is an error).

    Returns:
        A dataset of ``(images float32 [B, H, W, C] in [0, 1], masks)``.

    Taught in notebooks/01_data.ipynb.
    """
    out_size = check_size(img_size, pad_or_reject)
    size = parse_size(img_size)
    _check_method(resize_method)
    batch_size = whole(batch_size, "batch_size")
    if subset is not None and not (isinstance(subset, Integral) and not isinstance(subset, bool) and subset >= 1):
        raise ValueError(f"subset={subset!r} keeps no images: pass a whole number >= 1, or None for all of them")
    if channels not in CHANNELS:
        raise ValueError(f"channels must be 1 (grayscale), 3 (RGB) or None (keep them), got {channels!r}")
    augment = _augment_config(augment, training)
    info = getattr(data, "info", None)
    num_classes = num_classes if num_classes is not None else getattr(info, "num_classes", None)
    ignore_index = ignore_index if ignore_index is not None else getattr(info, "ignore_index", None)
    if one_hot and not num_classes:
        raise ValueError("one_hot=True needs num_classes (or a Split whose info has it)")
    ds, count = source(data, subset, mask_encoding, num_classes, ignore_index, channels)
    _check_channels(ds.element_spec[0].shape[-1], channels)  # here, not inside map's traced code
    shuffle = training if shuffle is None else shuffle
    floats = ds.element_spec[0].dtype.is_floating  # float or 16-bit images: kept as float32 in 0..255

    def prepare(image, mask):
        image = _to_channels(image, channels)
        mask = resize_mask(mask, size)
        image = resize_image(image, size, resize_method)
        image = tf.clip_by_value(image if floats else tf.round(image), 0, 255)
        image = image if floats else tf.cast(image, tf.uint8)
        if out_size != size:
            image, mask = _pad(image, mask, out_size, 0 if ignore_index is None else ignore_index)
        image = tf.ensure_shape(image, [*out_size, image.shape[-1]])
        return image, tf.ensure_shape(tf.cast(mask, tf.int32), [*out_size, 1])

    ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.map(lambda x, m: (tf.cast(x, tf.float32) / 255.0, m), num_parallel_calls=tf.data.AUTOTUNE)
    if augment is not None:
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        ds = tf.data.Dataset.zip(ds, seeds).map(
            lambda pair, s: augment_pair(pair[0], pair[1], s, augment), num_parallel_calls=tf.data.AUTOTUNE
        )
    if one_hot:
        depth = num_classes
        ds = ds.map(lambda x, m: (x, to_one_hot(m, depth, ignore_index)), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _augment_config(augment, training: bool) -> AugmentConfig | None:
    """``make_dataset``'s ``augment`` argument as a config, or ``None`` for no augmentation."""
    if isinstance(augment, AugmentConfig):
        return augment
    if augment is None:
        return AugmentConfig() if training else None
    if isinstance(augment, (bool, np.bool_)):
        return AugmentConfig() if augment else None
    raise TypeError(
        "augment must be an AugmentConfig, True (AugmentConfig()), False (no augmentation) or None "
        f"(AugmentConfig() when training), got {augment!r} ({type(augment).__name__})"
    )


def to_one_hot(mask, num_classes: int, ignore_index: int | None = None):
    """One-hot float32 ``[..., K]`` of an int mask ``[..., 1]``; the ignore index maps to all zeros."""
    mask = tf.cast(mask[..., 0], tf.int32)
    if ignore_index is not None:
        mask = tf.where(mask == ignore_index, -1, mask)  # tf.one_hot(-1) is all zeros
    return tf.one_hot(mask, num_classes, dtype=tf.float32)


def describe(dataset: tf.data.Dataset) -> dict:
    """Shapes, dtypes and value ranges of the first batch of ``dataset``.

    Taught in notebooks/01_data.ipynb.
    """
    images, masks = next(iter(dataset))
    images, masks = images.numpy(), masks.numpy()
    sparse = masks.shape[-1] == 1 and np.issubdtype(masks.dtype, np.integer)
    return {
        "image_shape": images.shape,
        "image_dtype": str(images.dtype),
        "image_range": (float(images.min()), float(images.max())),
        "mask_shape": masks.shape,
        "mask_dtype": str(masks.dtype),
        "mask_values": sorted(np.unique(masks).tolist()) if sparse else None,
        "one_hot_sums": sorted(np.unique(masks.sum(-1)).tolist()) if not sparse else None,
    }
