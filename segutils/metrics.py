"""Segmentation metrics on the functional core of :mod:`segutils.functional`.

Two faces of one confusion matrix (rows: truth, columns: prediction): :func:`confusion_matrix` and
:func:`scores` on numpy class masks, and the streaming Keras metrics :class:`MeanIoU` and :class:`ClassIoU`.
A class absent from truth and prediction has no IoU (NaN in :func:`scores`) and is left out of the means;
so is the ignored class. Taught in ``notebooks/04_losses_metrics.ipynb``.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from . import functional as F
from .checks import whole

_register = keras.saving.register_keras_serializable(package="segutils")


def confusion_matrix(y_true, y_pred, num_classes: int, ignore_index: int | None = None) -> np.ndarray:
    """Pixel counts ``cm[t, p]`` of true class ``t`` predicted as ``p`` in class-index masks of one shape.

    ``num_classes`` counts the ignored class when it is a model output; pixels whose truth is ``ignore_index``
    (e.g. 11 for CamVid, 255 void) are left out. Taught in ``notebooks/04_losses_metrics.ipynb``.
    """
    F.check_ignore_index(ignore_index)
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if t.ndim == p.ndim + 1 and t.shape[-1] == 1:
        t = t[..., 0]
    if p.ndim == t.ndim + 1 and p.shape[-1] == 1:
        p = p[..., 0]
    if t.shape != p.shape:
        raise ValueError(f"masks of shapes {t.shape} (truth) and {p.shape} (prediction) differ: "
                         "give one predicted class per true pixel (predict_masks crops to the image's size)")
    if p.dtype.kind == "f" and not np.array_equal(p, np.round(p)):
        raise ValueError("the prediction holds fractions: give class masks (threshold or argmax the "
                         "probabilities, e.g. with segutils.predict.predict_masks)")
    t, p = t.astype(np.int64).ravel(), p.astype(np.int64).ravel()
    if ignore_index is not None:
        keep = t != ignore_index
        t, p = t[keep], p[keep]
    for name, values in (("target", t), ("prediction", p)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(f"{name} values {values.min()}..{values.max()} are not classes 0..{num_classes - 1}"
                             f" (num_classes={num_classes}): map mask values to class indices (0/255 masks to 0/1)"
                             " or pass ignore_index for a void label")
    return np.bincount(t * num_classes + p, minlength=num_classes**2).reshape(num_classes, num_classes)


def scores(cm, ignore_index: int | None = None) -> dict:
    """Per-class ``iou``, ``dice``, ``precision``, ``recall`` (arrays, NaN where undefined), ``pixel_accuracy``,
    and ``mean_iou``, ``mean_dice`` over the classes present. Taught in ``notebooks/04_losses_metrics.ipynb``."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    fp, fn = cm.sum(axis=0) - tp, cm.sum(axis=1) - tp
    counted = np.arange(len(cm)) != (ignore_index if ignore_index is not None else -1)
    present = (tp + fp + fn > 0) & counted
    with np.errstate(invalid="ignore", divide="ignore"):
        result = {"iou": F.iou(tp, fp, fn, smooth=0.0), "dice": F.fscore(tp, fp, fn, smooth=0.0),
                  "precision": tp / (tp + fp), "recall": tp / (tp + fn)}
    total = cm[counted].sum()
    result["pixel_accuracy"] = float(tp[counted].sum() / total) if total else float("nan")
    for name in ("iou", "dice"):
        result[name][~counted] = np.nan
        result[f"mean_{name}"] = float(result[name][present].mean()) if present.any() else float("nan")
    return result


class ConfusionMetric(keras.metrics.Metric):
    """A streaming confusion matrix of :func:`~segutils.functional.prepare`'s targets and ``head_rule``'s classes.

    ``sample_weight``, per image ``(B,)`` or per pixel ``(B, H, W[, 1])``, weighs each pixel as in Keras' ``MeanIoU``.
    """

    def __init__(self, num_classes, ignore_index=None, threshold=0.5, from_logits=False, name=None, **kwargs):
        F.check_ignore_index(ignore_index)
        whole(num_classes, "num_classes", 2, fix="give the number of classes (2 for a binary mask, the ignored "
              "class included when it is a model output)")
        if not 0 < threshold < 1:
            raise ValueError(f"threshold must be strictly between 0 and 1, got {threshold}")
        super().__init__(name=name, **kwargs)
        self.num_classes, self.ignore_index = num_classes, ignore_index
        self.threshold, self.from_logits = float(threshold), bool(from_logits)
        self.cm = self.add_variable((num_classes, num_classes), "zeros", dtype="float32", name="confusion")

    def update_state(self, y_true, y_pred, sample_weight=None):
        if y_pred.shape[-1] is not None and max(y_pred.shape[-1], 2) > self.num_classes:
            raise ValueError(f"{self.name}: predictions with {y_pred.shape[-1]} channels are scored as "
                             f"{max(y_pred.shape[-1], 2)} classes, but num_classes={self.num_classes}: give the "
                             "model's number of classes")
        truth, _, _, valid = F.prepare(y_true, y_pred, self.from_logits, self.ignore_index)
        labels = tf.argmax(truth, axis=-1, output_type=tf.int32)
        pred = F.head_rule(tf.cast(y_pred, tf.float32), self.threshold, self.from_logits)
        weights = valid[..., 0]
        if sample_weight is not None:
            weights *= _per_pixel(tf.cast(sample_weight, tf.float32), weights)
        cm = tf.math.confusion_matrix(tf.reshape(labels, [-1]), tf.reshape(pred, [-1]), self.num_classes,
                                      weights=tf.reshape(weights, [-1]), dtype=tf.float32)
        self.cm.assign_add(cm)

    def ious(self):
        """``(iou, present)`` per class: the IoU (0 where undefined), and whether it counts (present, not ignored)."""
        cm = tf.convert_to_tensor(self.cm)
        tp = tf.linalg.diag_part(cm)
        fp, fn = tf.reduce_sum(cm, 0) - tp, tf.reduce_sum(cm, 1) - tp
        counted = tf.range(self.num_classes) != (self.ignore_index if self.ignore_index is not None else -1)
        present = tf.logical_and(tp + fp + fn > 0, counted)
        return tf.where(present, F.iou(tp, fp, fn, smooth=0.0), 0.0), present

    def reset_state(self):
        self.cm.assign(tf.zeros_like(self.cm))

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "ignore_index": self.ignore_index,
                "threshold": self.threshold, "from_logits": self.from_logits}


def _per_pixel(sample_weight, like):
    """A ``(B,)``, ``(B, H, W)`` or ``(B, H, W, 1)`` sample weight as ``like``'s ``(B, H, W)``."""
    rank = sample_weight.shape.rank
    if rank == 1:
        sample_weight = sample_weight[:, None, None]
    elif rank == 4 and sample_weight.shape[-1] == 1:
        sample_weight = sample_weight[..., 0]
    elif rank != 3:
        raise ValueError(f"sample_weight of shape {tuple(sample_weight.shape)}: give one weight per image (B,) or "
                         "per pixel (B, H, W) or (B, H, W, 1)")
    return tf.broadcast_to(sample_weight, tf.shape(like))


@_register
class MeanIoU(ConfusionMetric):
    """Mean IoU over the classes present in truth or prediction (named ``mean_iou``)."""

    def __init__(self, num_classes, name="mean_iou", **kwargs):
        super().__init__(num_classes, name=name, **kwargs)

    def result(self):
        iou, present = self.ious()
        return tf.math.divide_no_nan(tf.reduce_sum(iou), tf.reduce_sum(tf.cast(present, tf.float32)))


@_register
class ClassIoU(ConfusionMetric):
    """IoU of one class (named ``iou_<class_id>``); 0 while the class is absent from truth and prediction."""

    def __init__(self, class_id, num_classes, name=None, **kwargs):
        super().__init__(num_classes, name=name or f"iou_{class_id}", **kwargs)
        if not 0 <= class_id < num_classes or class_id == self.ignore_index:
            raise ValueError(f"class_id={class_id} is not a scored class of 0..{num_classes - 1}")
        self.class_id = class_id

    def result(self):
        return self.ious()[0][self.class_id]

    def get_config(self):
        return {**super().get_config(), "class_id": self.class_id}
