"""Checks for the exercises of ``notebooks/04_losses_metrics.ipynb``: each returns None or a hint.

The right answers come from hand formulas here; ``tests/test_exercises_nb04.py`` pins each to
``segutils.metrics`` and ``segutils.losses``.

Taught in ``notebooks/04_losses_metrics.ipynb``.
"""

from __future__ import annotations

import math

#: Exercise 1: membrane's share of the pixels and the write-up's U-Net pixel accuracy.
MEMBRANE_SHARE, ACCURACY = 0.22, 0.981
#: Exercise 2: foreground share of the mask; FocalLoss's defaults.
FOREGROUND_SHARE, GAMMA, ALPHA = 0.2, 2.0, 0.25
#: Exercise 3: the share of the pixels a rare class covers.
RARE_SHARE = 0.05
#: Exercise 4: (tp, fp, fn) of class 1 in each of two batches.
BATCHES = ((90, 5, 5), (1, 4, 5))


def _is_fraction(answer) -> bool:
    return isinstance(answer, int | float) and not isinstance(answer, bool) and math.isfinite(answer)


def _close(a, b) -> bool:
    """Equal to 3 significant digits: a learner rounding by hand still passes."""
    return math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-4)


def lowest_iou(share: float = MEMBRANE_SHARE, accuracy: float = ACCURACY) -> float:
    """The lowest IoU a class of ``share`` can have at ``accuracy``: every wrong pixel one of it missed."""
    return (share - (1 - accuracy)) / share


def check_lowest_iou(answer) -> str | None:
    """Exercise 1: the lowest membrane IoU of a model with pixel accuracy 0.981 when membrane is 22 %."""
    if not _is_fraction(answer) or not 0 <= answer <= 1:
        return "Give the IoU as a fraction between 0 and 1."
    errors = 1 - ACCURACY
    if _close(answer, ACCURACY):
        return "That is the accuracy itself. IoU looks at one class: its overlap divided by its union."
    if _close(answer, MEMBRANE_SHARE / (MEMBRANE_SHARE + errors)):
        return ("That is the IoU when every wrong pixel is a false alarm. Try the other kind of error, "
                "a missed membrane pixel, and keep the lower of the two.")
    if _close(answer, 0.0):
        return "Only 1.9 % of the pixels are wrong: they cannot hide all the membrane, which covers 22 %."
    if not _close(answer, lowest_iou()):
        return ("Put all the wrong pixels into one kind of error for the membrane class (missed or false "
                "alarm), write its tp, fp and fn as shares of the image, and compute tp / (tp + fp + fn).")
    return None


def focal_halfway(share: float = FOREGROUND_SHARE, gamma: float = GAMMA, alpha: float = ALPHA) -> float:
    """Binary focal loss when every pixel gives its true class probability 0.5."""
    return (alpha * share + (1 - alpha) * (1 - share)) * 0.5**gamma * math.log(2)


def check_focal_halfway(answer) -> str | None:
    """Exercise 2: ``FocalLoss()`` at t = 0.5 on a mask with 20 % foreground."""
    if not _is_fraction(answer) or answer < 0:
        return "Give the loss as a non-negative number."
    if _close(answer, math.log(2)):
        return "That is the cross-entropy. The focal loss multiplies it by two factors per pixel."
    if _close(answer, 0.5**GAMMA * math.log(2)):
        return "The (1 - p)^gamma factor is right; now weigh each pixel by alpha or 1 - alpha, by its class."
    if _close(answer, (ALPHA * FOREGROUND_SHARE + (1 - ALPHA) * (1 - FOREGROUND_SHARE)) * math.log(2)):
        return "The alpha weights are right; the focal factor (1 - p)^gamma is missing."
    if _close(answer, focal_halfway(alpha=1 - ALPHA)):
        return "Swap the weights: alpha = 0.25 weighs the foreground (class 1), 1 - alpha the background."
    if any(_close(answer, focal_halfway() / math.log(2) * other) for other in (math.log10(2), 1.0)):
        return "Use the natural logarithm, as the losses do."
    if not _close(answer, focal_halfway()):
        return ("Per pixel: -a (1 - p)^gamma log p with p the probability of the true class, a = alpha for "
                "foreground and 1 - alpha for background pixels; then average over the pixels.")
    return None


def enet_weight(share: float = RARE_SHARE, c: float = 1.02) -> float:
    """ENet's class weight ``1 / ln(c + share)``."""
    return 1 / math.log(c + share)


def check_enet_weight(answer) -> str | None:
    """Exercise 3: the ENet/LinkNet weight of a class covering 5 % of the pixels."""
    if not _is_fraction(answer) or answer <= 0:
        return "Give the weight as a positive number."
    if _close(answer, 1 / RARE_SHARE):
        return "That is the inverse frequency. ENet takes the logarithm of the share plus a constant."
    if _close(answer, enet_weight(0.0)):
        return "That is the weight of a class that never appears: add the class's share to the constant."
    if _close(answer, 1 / math.log10(1.02 + RARE_SHARE)):
        return "Use the natural logarithm, as numpy's np.log does."
    if _close(answer, 1 / math.log(1 + RARE_SHARE)):
        return "The constant in ENet's formula is 1.02, not 1."
    if not _close(answer, enet_weight()):
        return "Look up the formula of enet_class_weights (or this notebook's section on class weights)."
    return None


def streamed_iou(batches=BATCHES) -> float:
    """IoU from the counts of all batches added together."""
    tp, fp, fn = (sum(b[k] for b in batches) for k in range(3))
    return tp / (tp + fp + fn)


def check_streamed_iou(answer) -> str | None:
    """Exercise 4: class 1's IoU over two batches, as ``ClassIoU`` streams it."""
    if not _is_fraction(answer) or not 0 <= answer <= 1:
        return "Give the IoU as a fraction between 0 and 1."
    per_batch = [tp / (tp + fp + fn) for tp, fp, fn in BATCHES]
    if _close(answer, sum(per_batch) / len(per_batch)):
        return ("That is the mean of the two batches' IoUs. The streaming metric adds up counts across "
                "batches and divides only at the end.")
    if any(_close(answer, iou) for iou in per_batch):
        return "That is one batch's IoU; the metric covers both batches."
    if not _close(answer, streamed_iou()):
        return "Add tp, fp and fn over the batches, then compute tp / (tp + fp + fn) once."
    return None


#: Exercise 5: the least gain in minority-class IoU that adding the focal term to Dice gives.
FOCAL_GAIN = 0.02


def check_focal_term(answer, dice_alone: float) -> str | None:
    """Exercise 5: minority-class IoU of ``train_tiny(DiceLoss() + FocalLoss())``, given Dice alone's.

    Measured (three-layer network, 32 training pairs, 20 epochs, seeds 0-2, validation split):
    ``ci`` (shapes at 64 px): Dice alone 0.729 / 0.446 / 0.774, Dice + focal 0.947 / 0.900 / 0.949;
    ``cpu`` (membrane at 128 px, its 20 training pairs, minority: the membrane): Dice alone
    0.454 / 0.452 / 0.426, Dice + focal 0.496 / 0.497 / 0.464 (gains 0.038-0.045).
    So the change is accepted when it gains at least :data:`FOCAL_GAIN` over Dice alone, and
    Dice alone's own value (the unchanged cell) is rejected.
    """
    if not _is_fraction(answer) or not 0 <= answer <= 1:
        return "Give the IoU as a fraction between 0 and 1, as the cell prints it."
    if _close(answer, dice_alone):
        return ("That is what the unchanged cell gives, with Dice alone. Change EXPERIMENT_LOSS to "
                "DiceLoss() + FocalLoss(), run that cell again and read the IoU it prints.")
    if answer < dice_alone + FOCAL_GAIN:
        return ("Adding the focal term finds clearly more of the minority class here than Dice alone. "
                "Check that only EXPERIMENT_LOSS changed (same SEED, same epochs) and that the cell ran again.")
    return None
