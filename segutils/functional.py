"""The functional core under :mod:`segutils.losses` and :mod:`segutils.metrics`, as sm's ``base/functional.py``.

Written once: the smoothing constant, the preparation of targets and predictions (ignored pixels masked in
both), the head rule, per-class counts, and the formulas of IoU, F-score, Tversky, cross-entropy and focal
loss, in plain arithmetic for tensors and numpy arrays alike. Taught in ``notebooks/04_losses_metrics.ipynb``.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from .checks import is_whole

#: Added to numerator and denominator of the soft overlap losses: a class empty in both target and
#: prediction scores 1 (loss 0); its gradient there is finite, 1 / (2 * SMOOTH) per pixel.
SMOOTH = 1e-5
#: Probabilities are clipped to [EPSILON, 1 - EPSILON] before a logarithm.
EPSILON = 1e-7


def iou(tp, fp, fn, smooth=SMOOTH):
    """Jaccard index ``(tp + s) / (tp + fp + fn + s)`` per class."""
    return (tp + smooth) / (tp + fp + fn + smooth)


def fscore(tp, fp, fn, beta=1.0, smooth=SMOOTH):
    """F-score ``((1 + b^2) tp + s) / ((1 + b^2) tp + b^2 fn + fp + s)``; Dice when ``beta = 1``."""
    b2 = beta**2
    return ((1 + b2) * tp + smooth) / ((1 + b2) * tp + b2 * fn + fp + smooth)


def tversky(tp, fp, fn, alpha=0.5, beta=0.5, smooth=SMOOTH):
    """Tversky index ``(tp + s) / (tp + alpha fp + beta fn + s)`` (Salehi et al. 2017); 0.5, 0.5 is Dice, 1, 1 IoU."""
    return (tp + smooth) / (tp + alpha * fp + beta * fn + smooth)


def head_rule(outputs, threshold=0.5, from_logits=False):
    """Class indices ``(..., H, W)`` from model outputs ``(..., H, W, C)``: the rule of metrics and prediction.

    One channel: class 1 where ``p > threshold`` (``z > logit(threshold)`` for logits), strictly, as argmax gives
    class 0 on the tie ``[0.5, 0.5]``. K channels: argmax. Numpy in, uint8 out; a tensor in, int32 out.
    """
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be strictly between 0 and 1, got {threshold}")
    cut = math.log(threshold / (1 - threshold)) if from_logits else threshold
    if tf.is_tensor(outputs):
        if outputs.shape[-1] > 1:
            return tf.argmax(outputs, axis=-1, output_type=tf.int32)
        return tf.cast(outputs[..., 0] > tf.cast(cut, outputs.dtype), tf.int32)
    outputs = np.asarray(outputs)
    return (outputs.argmax(axis=-1) if outputs.shape[-1] > 1 else outputs[..., 0] > cut).astype(np.uint8)


def check_ignore_index(ignore_index) -> None:
    """Refuse an ``ignore_index`` that cannot be a label value (negative or not an integer)."""
    if ignore_index is not None and not is_whole(ignore_index, 0):
        raise ValueError(f"ignore_index={ignore_index!r} cannot be a mask value: give the label of the pixels to "
                         "leave out as a non-negative int (e.g. 11 for CamVid's 'unlabelled', 255 for void), or None.")


def prepare(y_true, y_pred, from_logits=False, ignore_index=None):
    """``(truth, probs, log_probs, valid)`` from class-index ``(B, H, W[, 1])`` or one-hot targets and predictions.

    ``truth`` and ``probs`` are ``(B, H, W, C)`` float32 (a sigmoid becomes ``[1 - p, p]``), zero at
    ``ignore_index`` pixels; ``log_probs`` clip only where they take a log, to ``[EPSILON, 1 - EPSILON]``;
    ``valid`` is ``(B, H, W, 1)`` in {0, 1}. Another batch size or side, targets outside ``0..C-1``, or NaN
    predictions raise ValueError, or InvalidArgumentError when only the graph knows.
    """
    check_ignore_index(ignore_index)
    y_true, y_pred = tf.cast(y_true, tf.float32), tf.cast(y_pred, tf.float32)
    channels = y_pred.shape[-1]
    if channels is None:
        raise ValueError("the prediction's last axis (classes) must have a known size")
    if y_true.shape.rank == y_pred.shape.rank - 1:
        y_true = y_true[..., None]
    mismatch = (f"target shape {tuple(y_true.shape)} does not match prediction shape {tuple(y_pred.shape)}: give "
                "masks of the prediction's batch size, height and width, as (B, H, W), (B, H, W, 1) class indices "
                f"or (B, H, W, {channels}) one-hot")
    if y_true.shape.rank != y_pred.shape.rank or not y_true.shape[:-1].is_compatible_with(y_pred.shape[:-1]):
        raise ValueError(mismatch)
    tf.debugging.assert_equal(tf.shape(y_true)[:-1], tf.shape(y_pred)[:-1], message=mismatch)
    tf.debugging.assert_equal(tf.reduce_any(tf.math.is_nan(y_pred)), False, message=(
        "the predictions hold NaN: the model diverged or its input holds NaN; scores of NaN mean nothing "
        "(lower the learning rate, check the inputs with np.isfinite)"))
    classes = max(channels, 2)
    if y_true.shape[-1] == 1:
        labels = tf.cast(tf.round(y_true[..., 0]), tf.int32)
        valid = tf.ones_like(labels, tf.bool) if ignore_index is None else tf.not_equal(labels, ignore_index)
        kept = tf.where(valid, labels, 0)
        outside = (f"target values must be class indices 0..{classes - 1} (num_classes={classes}) or the "
                   f"ignore_index ({ignore_index}): map the mask values to classes first, e.g. 0/255 masks to 0/1, "
                   "or pass ignore_index for a void label")
        tf.debugging.assert_less(kept, classes, message=outside)
        tf.debugging.assert_non_negative(kept, message=outside)
        truth = tf.one_hot(kept, classes)
    elif y_true.shape[-1] == classes:
        truth = y_true
        valid = tf.ones_like(truth[..., 0], tf.bool)
        if ignore_index is not None and ignore_index < classes:
            valid = truth[..., ignore_index] < 0.5
    else:
        raise ValueError(f"target has {y_true.shape[-1]} channels and the prediction {channels}: give class indices "
                         f"(one channel) or one-hot targets with {classes} channels")
    if from_logits:
        log_probs = (tf.concat([tf.math.log_sigmoid(-y_pred), tf.math.log_sigmoid(y_pred)], -1) if channels == 1
                     else tf.nn.log_softmax(y_pred, axis=-1))
        probs = tf.exp(log_probs)
    else:
        probs = tf.concat([1 - y_pred, y_pred], -1) if channels == 1 else y_pred
        log_probs = tf.math.log(tf.clip_by_value(probs, EPSILON, 1 - EPSILON))
    valid = tf.cast(valid, tf.float32)[..., None]
    return truth * valid, probs * valid, log_probs, valid


def per_class_sum(x):
    """Sum over every axis but the last (classes), one axis at a time, innermost first.

    One float32 sum over a 4 x 512 x 512 batch drifts by about 1e-5 relative; axis by axis 1e-7, as fast.
    """
    for axis in reversed(range(x.shape.rank - 1)):
        x = tf.reduce_sum(x, axis=axis)
    return x


def soft_counts(truth, probs):
    """Soft true positives, false positives and false negatives per class, summed over the batch."""
    tp = per_class_sum(truth * probs)
    fp = per_class_sum(probs) - tp
    fn = per_class_sum(truth) - tp
    return tp, fp, fn


def pixel_mean(per_pixel, valid):
    """Mean of ``(B, H, W, 1)`` values over the pixels that count (0 when none do)."""
    return tf.math.divide_no_nan(tf.reduce_sum(per_pixel * valid), tf.reduce_sum(valid))


def cross_entropy(truth, log_probs, class_weights=None):
    """Per-pixel cross-entropy ``-sum_c w_c y_c log p_c``, shape ``(B, H, W, 1)``."""
    weights = 1.0 if class_weights is None else tf.constant(class_weights, tf.float32)
    return -tf.reduce_sum(weights * truth * log_probs, axis=-1, keepdims=True)


def focal(truth, probs, log_probs, gamma=2.0, alpha=None):
    """Per-pixel focal loss ``-sum_c a_c (1 - p_c)^gamma y_c log p_c`` (Lin et al. 2017), ``(B, H, W, 1)``."""
    weights = 1.0 if alpha is None else tf.constant(alpha, tf.float32)
    term = weights * tf.pow(1.0 - probs, gamma) * truth * log_probs
    return -tf.reduce_sum(term, axis=-1, keepdims=True)
