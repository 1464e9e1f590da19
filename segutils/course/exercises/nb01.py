"""Checks for the exercises of ``notebooks/01_data.ipynb``: each returns None or a hint.

Taught in notebooks/01_data.ipynb.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from segutils.data.augment import IDENTITY, AugmentConfig


def check_invented(answer) -> str | None:
    """Exercise 1: the classes bilinear resizing (then rounding) invents in a mask of classes 1 and 3."""
    if not isinstance(answer, set | frozenset) or not all(isinstance(v, int | np.integer) for v in answer):
        return "Store a set of class indices (whole numbers), e.g. {5, 6}."
    if answer & {1, 3}:
        return "Classes 1 and 3 were in the mask before resizing: list only the classes that were not."
    if not answer:
        return "Bilinear resizing blends neighbouring pixels on every 1/3 boundary: what can a blend round to?"
    if answer != {2}:
        return "A blend of 1 and 3 lies between 1 and 3, and rounding keeps it there: which whole numbers remain?"
    return None


def check_eval_dataset(answer, split, img_size: int, num_classes: int) -> str | None:
    """Exercise 2: a pipeline over ``split`` for evaluation: in order, unaugmented, one-hot, batch size 2."""
    import tensorflow as tf

    if not isinstance(answer, tf.data.Dataset):
        return "Store the tf.data.Dataset that make_dataset returns."
    first, again = next(iter(answer)), next(iter(answer))
    if not isinstance(first, tuple) or len(first) != 2:
        return "Each element should be an (images, masks) pair, as make_dataset gives."
    images, masks = first
    if images.shape[0] != 2:
        return f"Batches hold {images.shape[0]} images; the exercise asks for batches of 2."
    if images.shape[1:3] != (img_size, img_size):
        return f"Images are {tuple(images.shape[1:3])}; evaluate at IMG_SIZE, the size the model trains at."
    if masks.shape[-1] != num_classes:
        return "Masks hold class indices; one-hot masks have one channel per class: masks=MaskFormat(one_hot=True)."
    if not np.array_equal(images, again[0]):
        return "Two passes gave different first batches: evaluation must neither shuffle nor augment."
    expected = tf.image.resize(split.images[0].astype(np.float32), (img_size, img_size), method="area")
    if not np.allclose(images[0], np.rint(expected) / 255, atol=1e-6):
        return "The first image is not the split's first image, resized: build it on the val split, unchanged."
    return None


def check_strong_elastic(answer) -> str | None:
    """Exercise 3: elastic deformation 3 times stronger than the paper's, and no other augmentation."""
    if not isinstance(answer, AugmentConfig):
        return "Store an AugmentConfig (make one with dataclasses.replace)."
    if not answer.elastic:
        return "Elastic deformation is still switched off in your configuration."
    paper = AugmentConfig().elastic_sigma
    if answer.elastic_sigma == paper:
        return "That is the paper's strength; the exercise asks for 3 times stronger displacements."
    if answer.elastic_sigma != 3 * paper:
        return "The strength is elastic_sigma: multiply the paper's value (AugmentConfig's default) by 3."
    others = [f.name for f in dataclasses.fields(AugmentConfig) if f.name not in ("elastic", "elastic_sigma")
              and getattr(answer, f.name) != getattr(IDENTITY, f.name)]
    if others:
        return f"Nothing else should change, but {', '.join(others)} do: start from IDENTITY, not the default."
    return None
