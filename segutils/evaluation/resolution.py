"""Masks at the labels' own resolution: predict at the training size, resize the probabilities back, then classify
(resized labels lose thin membranes). Taught in ``notebooks/06_comparison.ipynb``."""

import numpy as np
import tensorflow as tf

from ..data.pipeline import resize_image
from ..data.sources import parse_size
from ..predict import head_rule, predict_probabilities


def to_label_size(probabilities: np.ndarray, shape) -> np.ndarray:
    """Probabilities ``(h, w, C)`` resized bilinearly to ``shape`` ``(H, W)``: float32 ``(H, W, C)``."""
    probabilities = np.asarray(probabilities, np.float32)
    if probabilities.ndim != 3:
        raise ValueError(f"to_label_size takes one image's probabilities (h, w, C), got shape {probabilities.shape}")
    if probabilities.shape[:2] == tuple(shape[:2]):
        return probabilities
    return tf.image.resize(probabilities, tuple(shape[:2]), method="bilinear").numpy()


def masks_at_label_size(model, images, masks, size, threshold: float = 0.5, batch_size: int = 8) -> list:
    """uint8 class masks of ``images``, each of its label's shape ``(H, W)`` (only the ``masks``' shapes are read):
    each image resized to ``size`` (a side or ``(height, width)``) as in training, its probabilities resized back
    (:func:`to_label_size`) and classified by ``head_rule``. Taught in ``notebooks/06_comparison.ipynb``."""
    if len(images) != len(masks):
        raise ValueError(f"{len(images)} images and {len(masks)} masks: give one label per image")
    size = parse_size(size)
    resized = [np.asarray(resize_image(np.asarray(im)[..., None] if np.ndim(im) == 2 else im, size))
               .round().astype(np.uint8) for im in images]
    probabilities = predict_probabilities(model, resized, batch_size=batch_size)
    return [head_rule(to_label_size(p, np.shape(m)), threshold)
            for p, m in zip(probabilities, masks, strict=True)]
