"""Segmentation losses on :mod:`segutils.functional`, registered so that a compiled model saves and loads; all take
``from_logits``, ``ignore_index`` and ``classes``. ``DiceLoss() + FocalLoss()`` is ``dice_plus_focal``, ``0.5 *
DiceLoss()`` is ``0.5_dice``. Taught in ``notebooks/04_losses_metrics.ipynb``."""

import keras
import numpy as np
import tensorflow as tf

from . import functional as F
from .metrics import class_pixels

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
    """Base of the losses: ``options`` for :mod:`~segutils.functional`, the config, ``+`` and ``*``;
    ``classes``: the channels counted (default: all but ``ignore_index``; ``[1]``: a sigmoid's foreground only)."""

    default_name = "loss"
    settings = ()

    def __init__(self, from_logits=False, ignore_index=None, classes=None, name=None, **kwargs):
        F.check_ignore_index(ignore_index)
        super().__init__(name=name or self.default_name, **kwargs)
        self.from_logits, self.ignore_index = bool(from_logits), ignore_index
        self.classes = None if classes is None else [int(c) for c in classes]

    @property
    def options(self) -> dict:
        return {"from_logits": self.from_logits, "ignore_index": self.ignore_index, "classes": self.classes}

    def get_config(self):
        return {**super().get_config(), **self.options, **{key: getattr(self, key) for key in self.settings}}


@_register
class DiceLoss(SegLoss):
    """``1 - F_beta`` averaged over the classes (soft Dice when ``beta = 1``; Milletari et al. 2016)."""

    default_name = "dice"
    settings = ("beta", "smooth")

    def __init__(self, beta=1.0, smooth=F.SMOOTH, **kwargs):
        super().__init__(**kwargs)
        self.beta, self.smooth = float(beta), float(smooth)

    def call(self, y_true, y_pred):
        return 1.0 - F.f_score(y_true, y_pred, self.beta, self.smooth, **self.options)


@_register
class JaccardLoss(SegLoss):
    """``1 - IoU`` (soft Jaccard) averaged over the classes."""

    default_name = "jaccard"
    settings = ("smooth",)

    def __init__(self, smooth=F.SMOOTH, **kwargs):
        super().__init__(**kwargs)
        self.smooth = float(smooth)

    def call(self, y_true, y_pred):
        return 1.0 - F.iou_score(y_true, y_pred, self.smooth, **self.options)


@_register
class TverskyLoss(SegLoss):
    """``1 - Tversky index``: ``alpha`` weighs false positives, ``beta`` false negatives."""

    default_name = "tversky"
    settings = ("alpha", "beta", "smooth")

    def __init__(self, alpha=0.3, beta=0.7, smooth=F.SMOOTH, **kwargs):
        super().__init__(**kwargs)
        self.alpha, self.beta, self.smooth = float(alpha), float(beta), float(smooth)

    def call(self, y_true, y_pred):
        return 1.0 - F.tversky_score(y_true, y_pred, self.alpha, self.beta, self.smooth, **self.options)


@_register
class CrossEntropy(SegLoss):
    """Cross-entropy, binary or categorical, over the pixels that count; ``class_weights``: one per class
    (``enet_class_weights`` gives LinkNet's)."""

    default_name = "cross_entropy"
    settings = ("class_weights",)

    def __init__(self, class_weights=None, **kwargs):
        super().__init__(**kwargs)
        self.class_weights = None if class_weights is None else [float(w) for w in class_weights]

    def call(self, y_true, y_pred):
        return F.cross_entropy(y_true, y_pred, self.class_weights, **self.options)


@_register
class FocalLoss(SegLoss):
    """Focal loss over the pixels that count: a float ``alpha`` as sm's ``BinaryFocalLoss`` for a sigmoid, for a
    softmax sm's ``CategoricalFocalLoss`` times C; or one per class."""

    default_name = "focal"
    settings = ("gamma", "alpha")

    def __init__(self, gamma=2.0, alpha=0.25, **kwargs):
        super().__init__(**kwargs)
        self.gamma = float(gamma)
        self.alpha = alpha if alpha is None or isinstance(alpha, int | float) else [float(a) for a in alpha]

    def call(self, y_true, y_pred):
        return F.focal(y_true, y_pred, self.gamma, self.alpha, **self.options)


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
    """ENet's class weights ``1 / ln(c + share)`` of the pixel shares of ``num_classes`` classes in ``masks``."""
    counts = class_pixels(masks, num_classes, ignore_index)
    return (1.0 / np.log(c + counts / max(counts.sum(), 1))).tolist()
