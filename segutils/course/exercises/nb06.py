"""Checks for the exercises of ``notebooks/06_comparison.ipynb``: each returns None or a hint."""

from __future__ import annotations

import math

#: Exercise 1's confusion matrix (rows truth, columns prediction; class 0 membrane, 1 cell).
CONFUSION = ((50, 10), (5, 35))
#: Exercise 2's test mean IoU per seed.
SEED_IOUS = {"unet": (0.80, 0.82, 0.78), "linknet": (0.79, 0.83, 0.81)}


def check_cell_iou(answer) -> str | None:
    """Exercise 1: the IoU of class 1 (cells) from ``CONFUSION``: 35 / (35 + 10 + 5)."""
    if not isinstance(answer, int | float) or isinstance(answer, bool) or not 0 <= answer <= 1:
        return "Give the IoU as a fraction between 0 and 1."
    if math.isclose(answer, 85 / 100):
        return "That is the pixel accuracy (both classes right). IoU looks at one class only."
    if math.isclose(answer, 70 / 80) or math.isclose(answer, 35 / 45) or math.isclose(answer, 35 / 40):
        return "Count both kinds of error: the class's missed pixels (its row) and its false alarms (its column)."
    if math.isclose(answer, 2 * 35 / (2 * 35 + 15)):
        return "That is the Dice score; IoU divides the overlap by the union, counted once."
    if not math.isclose(answer, 35 / 50, abs_tol=1e-6):
        return "IoU = true positives / (true positives + false positives + false negatives) for class 1."
    return None


def check_gap_vs_spread(answer) -> str | None:
    """Exercise 2: does the gap between the mean IoUs of ``SEED_IOUS`` exceed the summed std's? (No.)"""
    if not isinstance(answer, bool):
        return "Answer True or False."
    if answer:
        return (
            "Compute both means and both sample standard deviations (statistics.stdev): "
            "is the difference of the means really larger than the two spreads added?"
        )
    return None
