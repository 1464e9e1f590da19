"""The ``tf.data`` input pipeline: from images and masks to batches a model trains on.

Steps, in order: (decode PNG files with ``tf.io``) -> resize (``area`` or ``bilinear``
for images; masks ALWAYS nearest neighbour, there is no option to change that) ->
optional padding to a multiple of 32 -> cache -> shuffle -> repeat -> normalise ->
augment (:mod:`segutils.data.augment`) -> one-hot -> batch -> prefetch.

Normalisation convention of the whole course: the pipeline outputs images as float32 in
``[0, 1]`` (``x / 255``) and does nothing else to them (no mean or standard deviation).
U-Net takes these values as they are; LinkNet applies its encoder's own preprocessing
inside the model. So normalisation happens exactly once, and a model trained on this
pipeline needs the same ``x / 255`` at prediction time.

Masks come out as int32 ``[B, H, W, 1]`` class indices, or with ``one_hot=True`` as
float32 ``[B, H, W, K]``; the one-hot vector of the ignore index (CamVid's 11,
``unlabelled``) is all zeros, so it adds nothing to a loss or metric summed over classes.

Sizes: U-Net and LinkNet halve the image 5 times, so both sides must be multiples of 32.
Any other size is rejected with the nearest valid sizes, or with ``pad_or_reject="pad"``
padded up to the next multiple of 32 (centred; images reflected, masks filled with the
ignore index, or 0 when the dataset has none). Taught in ``notebooks/01_data.ipynb``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from segutils.data.augment import AugmentConfig
from segutils.data.augment import augment as augment_pair

MULTIPLE = 32
RESIZE_METHODS = ("area", "bilinear")
MASK_ENCODINGS = ("index", "binary_0_255")


def check_size(img_size: int | tuple[int, int], pad_or_reject: str = "reject") -> tuple[int, int]:
    """``(height, width)`` the pipeline outputs for ``img_size``, or ValueError if it cannot.

    Raises:
        ValueError: a side is not a multiple of 32 and ``pad_or_reject="reject"``; the
            message names the size, the nearest valid sizes and the ``pad`` alternative.
    """
    h, w = (img_size, img_size) if np.isscalar(img_size) else (int(img_size[0]), int(img_size[1]))
    if pad_or_reject not in ("reject", "pad"):
        raise ValueError(f"pad_or_reject must be 'reject' or 'pad', got {pad_or_reject!r}")
    if h < 1 or w < 1:
        raise ValueError(f"img_size must be positive, got {h}x{w}")
    up = (-(-h // MULTIPLE) * MULTIPLE, -(-w // MULTIPLE) * MULTIPLE)
    if (h, w) == up or pad_or_reject == "pad":
        return up
    down = (h // MULTIPLE * MULTIPLE, w // MULTIPLE * MULTIPLE)
    nearest = f"{up[0]}x{up[1]}" if min(down) == 0 else f"{down[0]}x{down[1]} or {up[0]}x{up[1]}"
    raise ValueError(
        f"img_size {h}x{w} is not a multiple of {MULTIPLE} (U-Net and LinkNet halve it 5 times). "
        f"Nearest valid sizes: {nearest}. Or pass pad_or_reject='pad' to pad {h}x{w} up to "
        f"{up[0]}x{up[1]} (images reflected, masks filled with the ignore index or 0)."
    )


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


def _pad(image, mask, size, fill: int):
    """Pad ``image`` (reflect) and ``mask`` (``fill``) symmetrically up to ``size``."""
    shape = tf.shape(image)
    dh, dw = size[0] - shape[0], size[1] - shape[1]
    pads = [[dh // 2, dh - dh // 2], [dw // 2, dw - dw // 2], [0, 0]]
    return tf.pad(image, pads, mode="REFLECT"), tf.pad(mask, pads, constant_values=fill)


def _to_channels(image, channels: int | None):
    if channels is None or image.shape[-1] == channels:
        return image
    if channels == 3 and image.shape[-1] == 1:
        return tf.image.grayscale_to_rgb(image)
    if channels == 1 and image.shape[-1] == 3:
        return tf.cast(tf.round(tf.image.rgb_to_grayscale(tf.cast(image, tf.float32))), image.dtype)
    raise ValueError(f"cannot convert {image.shape[-1]} channels to {channels}")


def _is_paths(seq) -> bool:
    return len(seq) > 0 and isinstance(seq[0], (str, Path))


def _source(data, subset, mask_encoding):
    """``(dataset of (image uint8 [H,W,C], mask uint8 [H,W,1]), count, info, largest mask value)``.

    The largest mask value is ``None`` for PNG paths (known only once decoded).
    """
    info = getattr(data, "info", None)
    images, masks = (data.images, data.masks) if hasattr(data, "images") else data
    if len(images) != len(masks):
        raise ValueError(f"{len(images)} images but {len(masks)} masks")
    if subset is not None:
        images, masks = images[:subset], masks[:subset]
    if _is_paths(images):
        if mask_encoding not in MASK_ENCODINGS:
            raise ValueError(f"mask_encoding must be one of {MASK_ENCODINGS}, got {mask_encoding!r}")
        channels = tf.io.decode_png(tf.io.read_file(str(images[0]))).shape[-1]

        def decode(image_path, mask_path):
            image = tf.ensure_shape(tf.io.decode_png(tf.io.read_file(image_path)), [None, None, channels])
            mask = tf.io.decode_png(tf.io.read_file(mask_path), channels=1)
            if mask_encoding == "binary_0_255":
                mask = tf.cast(mask > 127, tf.uint8)
            return image, mask

        paths = tf.data.Dataset.from_tensor_slices(([str(p) for p in images], [str(p) for p in masks]))
        return paths.map(decode, num_parallel_calls=tf.data.AUTOTUNE), len(images), info, None

    images = [np.asarray(x)[..., None] if np.ndim(x) == 2 else np.asarray(x) for x in images]
    masks = [np.asarray(m).reshape(np.shape(m)[:2] + (1,)) for m in masks]
    if len({x.shape for x in images}) == 1 and len({m.shape for m in masks}) == 1:
        ds = tf.data.Dataset.from_tensor_slices((np.stack(images), np.stack(masks)))
    else:  # sizes differ: one element at a time, resized in the next step
        channels = images[0].shape[-1]
        ds = tf.data.Dataset.from_generator(
            lambda: zip(images, masks, strict=True),
            output_signature=(
                tf.TensorSpec([None, None, channels], tf.as_dtype(images[0].dtype)),
                tf.TensorSpec([None, None, 1], tf.as_dtype(masks[0].dtype)),
            ),
        )
    return ds, len(images), info, max((int(m.max()) for m in masks if m.size), default=0)


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
            (uint8 ``HxWxC`` or ``HxW``; masks ``HxW`` class indices; sizes may differ),
            or a pair of lists of PNG paths, decoded with ``tf.io.decode_png``.
        img_size: output side, or ``(height, width)``; multiples of 32 (see ``pad_or_reject``).
        batch_size: images per batch (the last batch may be smaller).
        training: shuffle by default, and augment with ``AugmentConfig()`` unless
            ``augment`` says otherwise.
        augment: an :class:`AugmentConfig`, ``False`` for none, ``None`` for the default
            (``AugmentConfig()`` when training, none otherwise).
        num_classes: classes K for ``one_hot``; defaults to ``data.info.num_classes``.
        one_hot: masks as float32 ``[B, H, W, K]`` instead of int32 ``[B, H, W, 1]``.
        resize_method: ``"area"`` or ``"bilinear"`` for images. Masks are always resized
            with nearest neighbour.
        pad_or_reject: what to do with a side that is not a multiple of 32.
        shuffle: shuffle the elements; defaults to ``training``.
        cache: keep decoded, resized uint8 elements in memory after the first pass.
        seed: seeds shuffling and augmentation; the same seed gives the same batches.
        subset: keep only the first ``subset`` elements.
        repeat: repeat forever (use with ``steps_per_epoch``).
        channels: convert images to 1 or 3 channels (e.g. 3 for LinkNet on membrane).
        ignore_index: class left out of one-hot and used to pad masks; defaults to
            ``data.info.ignore_index``.
        mask_encoding: for PNG paths only: ``"index"`` (value = class) or ``"binary_0_255"``.

    Returns:
        A dataset of ``(images float32 [B, H, W, C] in [0, 1], masks)``.

    Taught in notebooks/01_data.ipynb.
    """
    out_size = check_size(img_size, pad_or_reject)
    size = (img_size, img_size) if np.isscalar(img_size) else tuple(int(s) for s in img_size)
    _check_method(resize_method)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    ds, count, info, largest = _source(data, subset, mask_encoding)
    if count == 0:
        raise ValueError("no images to build a dataset from")
    num_classes = num_classes if num_classes is not None else getattr(info, "num_classes", None)
    if num_classes and largest is not None and largest >= num_classes:
        raise ValueError(
            f"a mask holds the value {largest}, but there are only {num_classes} classes "
            f"(0..{num_classes - 1}); masks must hold class indices (a 0/255 mask is 0/1 after `mask // 255`)"
        )
    ignore_index = ignore_index if ignore_index is not None else getattr(info, "ignore_index", None)
    if one_hot and not num_classes:
        raise ValueError("one_hot=True needs num_classes (or a Split whose info has it)")
    if augment is None:
        augment = AugmentConfig() if training else False
    shuffle = training if shuffle is None else shuffle

    def prepare(image, mask):
        image = _to_channels(image, channels)
        mask = resize_mask(mask, size)
        image = resize_image(image, size, resize_method)
        image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
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
    if augment:
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        ds = tf.data.Dataset.zip(ds, seeds).map(
            lambda pair, s: augment_pair(pair[0], pair[1], s, augment), num_parallel_calls=tf.data.AUTOTUNE
        )
    if one_hot:
        depth = num_classes
        ds = ds.map(lambda x, m: (x, to_one_hot(m, depth, ignore_index)), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


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
