"""Segmentation losses on the functional core of :mod:`segutils.functional`.

Each loss is a registered ``keras.losses.Loss`` with ``get_config``, so a compiled model saves and loads (sm's
closures do not: sm issues #181, #109). All take ``from_logits`` and ``ignore_index``; one channel is a sigmoid,
more a softmax. ``DiceLoss() + FocalLoss()`` is a loss named ``dice_plus_focal``, ``0.5 * DiceLoss()`` one named
``0.5_dice``. Taught in ``notebooks/04_losses_metrics.ipynb``.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from . import functional as F

_register = keras.saving.register_keras_serializable(package="segutils")


class LossArithmetic:
    """``+`` and ``*`` for losses: ``a + b`` is a :class:`SumOfLosses`, ``0.5 * a`` a :class:`ScaledLoss`."""

    def __add__(self, other):
        return SumOfLosses([self, other])

    def __radd__(self, other):
        return self if other == 0 else SumOfLosses([other, self])

    def __mul__(self, factor):
        return ScaledLoss(self, factor)

    __rmul__ = __mul__


class SegLoss(LossArithmetic, keras.losses.Loss):
    """Base of the course's losses: preparation, configuration (``settings``: a loss's own) and ``+`` / ``*``."""

    default_name = "loss"
    settings = ()

    def __init__(self, from_logits=False, ignore_index=None, classes=None, name=None, **kwargs):
        F.check_ignore_index(ignore_index)
        super().__init__(name=name or self.default_name, **kwargs)
        self.from_logits, self.ignore_index = bool(from_logits), ignore_index
        self.classes = None if classes is None else [int(c) for c in classes]

    def call(self, y_true, y_pred):
        return self.compute(*F.prepare(y_true, y_pred, self.from_logits, self.ignore_index))

    def _overlap(self, truth, probs, score):
        """``1 - mean`` over ``classes`` (default: all but the ignored one) of an overlap score of the soft counts."""
        scored = [k for k in range(truth.shape[-1]) if k != self.ignore_index]
        axes = scored if self.classes is None else self.classes
        tp, fp, fn = (tf.gather(c, axes) for c in F.soft_counts(truth, probs))
        return 1.0 - tf.reduce_mean(score(tp, fp, fn))

    def get_config(self):
        own = {key: getattr(self, key) for key in ("from_logits", "ignore_index", "classes", *self.settings)}
        return {**super().get_config(), **own}


@_register
class DiceLoss(SegLoss):
    """``1 - F_beta`` averaged over the classes (soft Dice when ``beta = 1``; Milletari et al. 2016).

    ``classes``: the channels averaged (default: all but ``ignore_index``, both of a sigmoid; ``classes=[1]``
    scores the foreground only, as ``keras.losses.Dice`` and ``sm.losses.DiceLoss`` do).
    """

    default_name = "dice"
    settings = ("beta", "smooth")

    def __init__(self, beta=1.0, smooth=F.SMOOTH, **kwargs):
        super().__init__(**kwargs)
        self.beta, self.smooth = float(beta), float(smooth)

    def compute(self, truth, probs, log_probs, valid):
        return self._overlap(truth, probs, lambda tp, fp, fn: F.fscore(tp, fp, fn, self.beta, self.smooth))


@_register
class JaccardLoss(SegLoss):
    """``1 - IoU`` (soft Jaccard) averaged over the classes, as :class:`DiceLoss` chooses them."""

    default_name = "jaccard"
    settings = ("smooth",)

    def __init__(self, smooth=F.SMOOTH, **kwargs):
        super().__init__(**kwargs)
        self.smooth = float(smooth)

    def compute(self, truth, probs, log_probs, valid):
        return self._overlap(truth, probs, lambda tp, fp, fn: F.iou(tp, fp, fn, self.smooth))


@_register
class TverskyLoss(SegLoss):
    """``1 - Tversky index``: ``alpha`` weighs false positives, ``beta`` false negatives."""

    default_name = "tversky"
    settings = ("alpha", "beta", "smooth")

    def __init__(self, alpha=0.3, beta=0.7, smooth=F.SMOOTH, **kwargs):
        super().__init__(**kwargs)
        self.alpha, self.beta, self.smooth = float(alpha), float(beta), float(smooth)

    def compute(self, truth, probs, log_probs, valid):
        return self._overlap(truth, probs, lambda tp, fp, fn: F.tversky(tp, fp, fn, self.alpha, self.beta, self.smooth))


def _per_class(values, channels, what):
    """A per-class list of floats of length ``channels`` (2 for a sigmoid), or None."""
    if values is not None and len(values) != max(channels, 2):
        raise ValueError(f"{what} has {len(values)} values for {max(channels, 2)} classes: give one per class "
                         "(two for a one-channel sigmoid: background, foreground)")
    return None if values is None else [float(v) for v in values]


@_register
class CrossEntropy(SegLoss):
    """Cross-entropy ``sum(w_y * -log p_y) / n`` over the ``n`` pixels that count, binary (one sigmoid
    channel) or categorical; ``class_weights``, one per class (``enet_class_weights`` gives LinkNet's)."""

    default_name = "cross_entropy"
    settings = ("class_weights",)

    def __init__(self, class_weights=None, **kwargs):
        super().__init__(**kwargs)
        self.class_weights = None if class_weights is None else [float(w) for w in class_weights]

    def compute(self, truth, probs, log_probs, valid):
        weights = _per_class(self.class_weights, truth.shape[-1], "class_weights")
        return F.pixel_mean(F.cross_entropy(truth, log_probs, weights), valid)


@_register
class FocalLoss(SegLoss):
    """Focal loss ``-a_y (1 - p_y)^gamma log p_y`` per pixel (Lin et al. 2017), mean over pixels.

    A float ``alpha`` weighs the foreground (``1 - alpha`` the background) of a sigmoid, as sm's ``BinaryFocalLoss``,
    or every class of a softmax (sm's ``CategoricalFocalLoss`` is this divided by C); or give one per class.
    """

    default_name = "focal"
    settings = ("gamma", "alpha")

    def __init__(self, gamma=2.0, alpha=0.25, **kwargs):
        super().__init__(**kwargs)
        self.gamma = float(gamma)
        self.alpha = alpha if alpha is None or isinstance(alpha, (int, float)) else [float(a) for a in alpha]

    def call(self, y_true, y_pred):
        truth, probs, log_probs, valid = F.prepare(y_true, y_pred, self.from_logits, self.ignore_index)
        channels, alpha = truth.shape[-1], self.alpha
        if isinstance(alpha, (int, float)):
            alpha = [1 - alpha, alpha] if y_pred.shape[-1] == 1 else [alpha] * channels
        alpha = _per_class(alpha, channels, "alpha")
        return F.pixel_mean(F.focal(truth, probs, log_probs, self.gamma, alpha), valid)


@_register
class SumOfLosses(LossArithmetic, keras.losses.Loss):
    """The sum of losses; ``a + b`` makes one, named ``<a>_plus_<b>``."""

    def __init__(self, losses, name=None, **kwargs):
        losses = [keras.losses.deserialize(x) if isinstance(x, dict) else x for x in losses]
        flat = [p for x in losses for p in (x.losses if isinstance(x, SumOfLosses) else [x])]
        for part in flat:
            if not callable(part):
                raise TypeError(f"cannot add {part!r} to a loss: add losses such as DiceLoss() or CrossEntropy()")
        super().__init__(name=name or "_plus_".join(p.name for p in flat), **kwargs)
        self.losses = flat

    def call(self, y_true, y_pred):
        return tf.add_n([tf.cast(loss(y_true, y_pred), tf.float32) for loss in self.losses])

    def get_config(self):
        return {"name": self.name, "losses": [keras.losses.serialize(x) for x in self.losses]}


@_register
class ScaledLoss(LossArithmetic, keras.losses.Loss):
    """A loss times a number; ``0.5 * DiceLoss()`` makes one, named ``0.5_dice``."""

    def __init__(self, loss, factor, name=None, **kwargs):
        loss = keras.losses.deserialize(loss) if isinstance(loss, dict) else loss
        if isinstance(factor, bool) or not isinstance(factor, (int, float)):
            raise TypeError(f"a loss can be multiplied by a number, not by {factor!r}")
        super().__init__(name=name or f"{factor:g}_{loss.name}", **kwargs)
        self.loss, self.factor = loss, float(factor)

    def call(self, y_true, y_pred):
        return self.factor * tf.cast(self.loss(y_true, y_pred), tf.float32)

    def get_config(self):
        return {"name": self.name, "loss": keras.losses.serialize(self.loss), "factor": self.factor}


def enet_class_weights(masks, num_classes: int, ignore_index=None, c=1.02):
    """LinkNet/ENet class weights ``1 / ln(c + p_class)`` from the pixel shares of ``masks`` (Paszke et al. 2016).

    ``num_classes``, since a class absent from these masks still needs its weight. Taught in
    ``notebooks/04_losses_metrics.ipynb``."""
    labels = np.concatenate([np.asarray(m).ravel() for m in masks]).astype(np.int64)
    if ignore_index is not None:
        labels = labels[labels != ignore_index]
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"mask values {labels.min()}..{labels.max()} are not classes 0..{num_classes - 1}: "
                         "map them to class indices first (e.g. 0/255 masks to 0/1)")
    shares = np.bincount(labels, minlength=num_classes) / max(labels.size, 1)
    return (1.0 / np.log(c + shares)).tolist()
