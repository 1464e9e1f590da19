"""The functional core of :mod:`segutils.losses` and :mod:`segutils.metrics`, as sm's ``base/functional.py``:
class-index or one-hot targets, ``(B, H, W, C)`` predictions (one channel: a sigmoid); ignored pixels count in
neither. Behind the losses and metrics of ``notebooks/04_losses_metrics.ipynb``."""

import math

import numpy as np
import tensorflow as tf
from keras import ops

from .checks import is_whole

#: Added to numerator and denominator of the soft overlap scores: a class empty in target and prediction scores 1.
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
    """Tversky index ``(tp + s) / (tp + alpha fp + beta fn + s)``: 0.5, 0.5 is Dice, 1, 1 IoU."""
    return (tp + smooth) / (tp + alpha * fp + beta * fn + smooth)


def check_threshold(threshold) -> float:
    """``threshold`` as a float if strictly between 0 and 1, else ValueError."""
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be strictly between 0 and 1, got {threshold}")
    return float(threshold)


def head_rule(outputs, threshold=0.5, from_logits=False):
    """Class indices ``(..., H, W)`` of outputs ``(..., H, W, C)``: one channel ``p > threshold`` (ties to class 0,
    as argmax), K channels argmax. Numpy in, uint8 out; a tensor in, int32 out."""
    cut = check_threshold(threshold)
    cut = math.log(cut / (1 - cut)) if from_logits else cut
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
    """``(truth, probs, log_probs, valid)``: ``(B, H, W, C)`` float32 (a sigmoid as ``[1 - p, p]``), zero at ignored
    pixels; ``valid`` ``(B, H, W, 1)`` in {0, 1}. Another size, targets outside ``0..C-1`` or NaN predictions raise
    ValueError (InvalidArgumentError when only the graph knows)."""
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
    """Sum over every axis but the last (classes), one axis at a time: float32 stays exact to ~1e-7 on 4x512x512."""
    for axis in reversed(range(x.shape.rank - 1)):
        x = tf.reduce_sum(x, axis=axis)
    return x


def soft_counts(truth, probs):
    """Soft true positives, false positives and false negatives per class, summed over the batch."""
    tp = per_class_sum(truth * probs)
    return tp, per_class_sum(probs) - tp, per_class_sum(truth) - tp


def class_counts(y_true, y_pred, from_logits=False, ignore_index=None, classes=None):
    """Soft ``(tp, fp, fn)`` of ``classes`` (default: every class but ``ignore_index``), from :func:`prepare`."""
    truth, probs, _, _ = prepare(y_true, y_pred, from_logits, ignore_index)
    kept = [k for k in range(truth.shape[-1]) if k != ignore_index] if classes is None else classes
    return tuple(tf.gather(count, kept) for count in soft_counts(truth, probs))


def f_score(y_true, y_pred, beta=1.0, smooth=SMOOTH, **options):
    """Soft :func:`fscore` averaged over the classes; ``options`` are :func:`class_counts`'."""
    return tf.reduce_mean(fscore(*class_counts(y_true, y_pred, **options), beta, smooth))


def iou_score(y_true, y_pred, smooth=SMOOTH, **options):
    """Soft :func:`iou` averaged over the classes, as :func:`f_score`."""
    return tf.reduce_mean(iou(*class_counts(y_true, y_pred, **options), smooth))


def tversky_score(y_true, y_pred, alpha=0.5, beta=0.5, smooth=SMOOTH, **options):
    """Soft :func:`tversky` averaged over the classes, as :func:`f_score`."""
    return tf.reduce_mean(tversky(*class_counts(y_true, y_pred, **options), alpha, beta, smooth))


def per_class(values, channels, what):
    """``values`` as one float per class of a ``channels`` output (2 for a sigmoid), or None; else ValueError."""
    if values is not None and len(values) != max(channels, 2):
        raise ValueError(f"{what} has {len(values)} values for {max(channels, 2)} classes: give one per class "
                         "(two for a one-channel sigmoid: background, foreground)")
    return None if values is None else tf.constant([float(v) for v in values], tf.float32)


def pixel_loss(term, valid, classes=None):
    """Mean over the pixels that count of ``-sum`` over ``classes`` (default all) of a per-class ``term``."""
    per_pixel = -tf.reduce_sum(term if classes is None else tf.gather(term, classes, axis=-1), -1, keepdims=True)
    return tf.math.divide_no_nan(tf.reduce_sum(per_pixel * valid), tf.reduce_sum(valid))


def cross_entropy(y_true, y_pred, class_weights=None, from_logits=False, ignore_index=None, classes=None):
    """Cross-entropy ``sum_c -w_c y_c log p_c`` averaged over the pixels that count."""
    truth, _, log_probs, valid = prepare(y_true, y_pred, from_logits, ignore_index)
    weights = per_class(class_weights, y_pred.shape[-1], "class_weights")
    return pixel_loss((1.0 if weights is None else weights) * truth * log_probs, valid, classes)


def focal(y_true, y_pred, gamma=2.0, alpha=None, from_logits=False, ignore_index=None, classes=None):
    """Focal loss ``sum_c -a_c (1 - p_c)^gamma y_c log p_c`` (Lin et al. 2017) averaged over the pixels that count;
    a float ``alpha`` weighs a sigmoid's foreground (``1 - alpha`` its background) or every class of a softmax."""
    truth, probs, log_probs, valid = prepare(y_true, y_pred, from_logits, ignore_index)
    if isinstance(alpha, int | float):
        alpha = [1 - alpha, alpha] if y_pred.shape[-1] == 1 else [alpha] * y_pred.shape[-1]
    weights = per_class(alpha, y_pred.shape[-1], "alpha")
    term = (1.0 if weights is None else weights) * tf.pow(1.0 - probs, gamma) * truth * log_probs
    return pixel_loss(term, valid, classes)


def confusion(y_true, y_pred, num_classes, threshold=0.5, from_logits=False, ignore_index=None, sample_weight=None):
    """The float32 confusion matrix ``cm[t, p]`` of :func:`prepare`'s targets and :func:`head_rule`'s classes;
    ``sample_weight``, per image ``(B,)`` or per pixel ``(B, H, W[, 1])``, weighs each pixel as Keras' ``MeanIoU``."""
    truth, _, _, valid = prepare(y_true, y_pred, from_logits, ignore_index)
    weights = valid[..., 0]
    if sample_weight is not None:
        sample_weight = tf.cast(sample_weight, tf.float32)
        rank = sample_weight.shape.rank
        if rank == 1:
            sample_weight = sample_weight[:, None, None]
        elif rank == 4 and sample_weight.shape[-1] == 1:
            sample_weight = sample_weight[..., 0]
        elif rank != 3:
            raise ValueError(f"sample_weight of shape {tuple(sample_weight.shape)}: give one weight per image (B,) or "
                             "per pixel (B, H, W) or (B, H, W, 1)")
        weights *= tf.broadcast_to(sample_weight, tf.shape(weights))
    labels = tf.argmax(truth, axis=-1, output_type=tf.int32)
    pred = head_rule(tf.cast(y_pred, tf.float32), threshold, from_logits)
    return tf.math.confusion_matrix(tf.reshape(labels, [-1]), tf.reshape(pred, [-1]), num_classes,
                                    weights=tf.reshape(weights, [-1]), dtype=tf.float32)


def confusion_scores(cm, ignore_index=None) -> dict:
    """Per class ``iou``, ``dice`` (NaN where absent or ignored), ``precision``, ``recall``, ``present``; and
    ``pixel_accuracy``, ``mean_iou``, ``mean_dice`` (over present classes) of ``cm[t, p]``, numpy or tensor."""
    cm = ops.convert_to_tensor(cm)
    cm = cm if "float" in str(cm.dtype) else ops.cast(cm, "float64")
    tp = ops.diagonal(cm)
    fp, fn = ops.sum(cm, axis=0) - tp, ops.sum(cm, axis=1) - tp
    counted = ops.not_equal(ops.arange(cm.shape[0]), -1 if ignore_index is None else ignore_index)
    present = ops.logical_and(counted, tp + fp + fn > 0)
    nan = ops.full_like(tp, math.nan)
    scores = {"iou": ops.where(counted, iou(tp, fp, fn, 0.0), nan),
              "dice": ops.where(counted, fscore(tp, fp, fn, 1.0, 0.0), nan)}
    for name in ("iou", "dice"):
        scores[f"mean_{name}"] = ops.sum(ops.where(present, scores[name], 0.0)) / ops.sum(ops.cast(present, cm.dtype))
    hits, total = ops.sum(ops.where(counted, tp, 0.0)), ops.sum(ops.where(counted, tp + fn, 0.0))
    return scores | {"precision": tp / (tp + fp), "recall": tp / (tp + fn), "pixel_accuracy": hits / total,
                     "present": present}
