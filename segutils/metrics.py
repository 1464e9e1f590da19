"""Segmentation metrics: the confusion matrix and its scores on numpy masks, and the streaming Keras
:class:`MeanIoU` and :class:`ClassIoU`; an absent or ignored class is left out of the means.
Taught in ``notebooks/04_losses_metrics.ipynb``."""

import keras
import numpy as np
import tensorflow as tf

from . import functional as F
from .checks import whole

_register = keras.saving.register_keras_serializable(package="segutils")


def check_classes(values: np.ndarray, num_classes: int, what: str = "mask") -> None:
    """ValueError, with the fix, unless the integer ``values`` are class indices ``0..num_classes - 1``."""
    if values.size and (values.min() < 0 or values.max() >= num_classes):
        raise ValueError(f"{what} values {values.min()}..{values.max()} are not classes 0..{num_classes - 1}"
                         f" (num_classes={num_classes}): map mask values to class indices (0/255 masks to 0/1)"
                         " or pass ignore_index for a void label")


def class_pixels(masks, num_classes: int, ignore_index: int | None = None) -> np.ndarray:
    """Pixels of each class in ``masks``, the ``ignore_index`` left out; :func:`check_classes` on the rest."""
    counts = np.zeros(num_classes, np.int64)
    for mask in masks:
        labels = np.asarray(mask).astype(np.int64).ravel()
        labels = labels if ignore_index is None else labels[labels != ignore_index]
        check_classes(labels, num_classes)
        counts += np.bincount(labels, minlength=num_classes)
    return counts


def confusion_matrix(y_true, y_pred, num_classes: int, ignore_index: int | None = None) -> np.ndarray:
    """Pixel counts ``cm[t, p]`` of true class ``t`` predicted as ``p``, truth at ``ignore_index`` left out."""
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
    check_classes(t, num_classes, "target")
    check_classes(p, num_classes, "prediction")
    return np.bincount(t * num_classes + p, minlength=num_classes**2).reshape(num_classes, num_classes)


def scores(cm, ignore_index: int | None = None) -> dict:
    """Numpy arrays and floats of :func:`~segutils.functional.confusion_scores` of ``cm``."""
    found = F.confusion_scores(np.asarray(cm, dtype=np.float64), ignore_index)
    return {k: np.asarray(v) if np.ndim(v) else float(v) for k, v in found.items() if k != "present"}


class ConfusionMetric(keras.metrics.Metric):
    """A streaming confusion matrix (:func:`~segutils.functional.confusion`), per image or pixel ``sample_weight``."""

    def __init__(self, num_classes, ignore_index=None, threshold=0.5, from_logits=False, name=None, **kwargs):
        F.check_ignore_index(ignore_index)
        whole(num_classes, "num_classes", 2, fix="give the number of classes (2 for a binary mask, the ignored "
              "class included when it is a model output)")
        super().__init__(name=name, **kwargs)
        self.num_classes, self.ignore_index = num_classes, ignore_index
        self.threshold, self.from_logits = F.check_threshold(threshold), bool(from_logits)
        self.cm = self.add_variable((num_classes, num_classes), "zeros", dtype="float32", name="confusion")

    def update_state(self, y_true, y_pred, sample_weight=None):
        if y_pred.shape[-1] is not None and max(y_pred.shape[-1], 2) > self.num_classes:
            raise ValueError(f"{self.name}: predictions with {y_pred.shape[-1]} channels are scored as "
                             f"{max(y_pred.shape[-1], 2)} classes, but num_classes={self.num_classes}: give the "
                             "model's number of classes")
        self.cm.assign_add(F.confusion(y_true, y_pred, self.num_classes, self.threshold, self.from_logits,
                                       self.ignore_index, sample_weight))

    def reset_state(self):
        self.cm.assign(tf.zeros_like(self.cm))

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "ignore_index": self.ignore_index,
                "threshold": self.threshold, "from_logits": self.from_logits}


@_register
class MeanIoU(ConfusionMetric):
    """Mean IoU over the classes present in truth or prediction (named ``mean_iou``)."""

    def __init__(self, num_classes, name="mean_iou", **kwargs):
        super().__init__(num_classes, name=name, **kwargs)

    def result(self):
        return keras.ops.nan_to_num(F.confusion_scores(self.cm, self.ignore_index)["mean_iou"])


@_register
class ClassIoU(ConfusionMetric):
    """IoU of one class (named ``iou_<class_id>``); 0 while the class is absent from truth and prediction."""

    def __init__(self, class_id, num_classes, name=None, **kwargs):
        super().__init__(num_classes, name=name or f"iou_{class_id}", **kwargs)
        if not 0 <= class_id < num_classes or class_id == self.ignore_index:
            raise ValueError(f"class_id={class_id} is not a scored class of 0..{num_classes - 1}")
        self.class_id = class_id

    def result(self):
        return keras.ops.nan_to_num(F.confusion_scores(self.cm, self.ignore_index)["iou"][self.class_id])

    def get_config(self):
        return {**super().get_config(), "class_id": self.class_id}
