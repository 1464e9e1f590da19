"""Scores at the labels' own resolution: predict at the training size, bring the probabilities back.

A model trained on 128 x 128 resized images predicts 128 x 128 masks; scoring them against masks resized to 128
(nearest neighbour) judges a coarser task than the labels pose: thin membranes vanish or thicken in the resized
label. Here the image is resized as the pipeline resizes it, the model's probabilities are resized back to the
label's own size (bilinear), and only then is the head's rule applied. Taught in ``notebooks/06_comparison.ipynb``.
"""

from __future__ import annotations

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
    """uint8 class-index masks of ``images`` (uint8, at their own size), each of its label's shape ``(H, W)``.

    Each image is resized to ``size`` (a side or ``(height, width)``, as the model was trained) as ``resize_image``
    does in training (area), rounded back to uint8, and predicted with ``predict_probabilities`` (which pads to a
    multiple of 32); the probabilities go back to its label's height and width (:func:`to_label_size`, bilinear)
    and ``head_rule`` (``p > threshold``, or argmax) gives the classes. Only the shapes of ``masks`` are read.
    """
    if len(images) != len(masks):
        raise ValueError(f"{len(images)} images and {len(masks)} masks: give one label per image")
    size = parse_size(size)
    resized = [np.asarray(resize_image(np.asarray(im)[..., None] if np.ndim(im) == 2 else im, size))
               .round().astype(np.uint8) for im in images]
    probabilities = predict_probabilities(model, resized, batch_size=batch_size)
    return [head_rule(to_label_size(p, np.shape(m)), threshold)
            for p, m in zip(probabilities, masks, strict=True)]


def scoring_note(masks, size) -> str:
    """A Markdown line for the report: scored at the labels' own sizes, from predictions at ``size``."""
    size = "{} x {}".format(*parse_size(size))
    sizes = sorted({tuple(np.shape(m)[:2]) for m in masks}, reverse=True)
    shown = ", ".join(f"{h} x {w}" for h, w in sizes[:3]) + (f" and {len(sizes) - 3} more" if len(sizes) > 3 else "")
    return (f"- **Scored at the labels' resolution** ({shown}): each model predicted at {size}, its "
            "probabilities were resized to each label's own size (bilinear) and thresholded there; the labels "
            "were never resized.")
