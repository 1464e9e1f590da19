"""Checks for the exercises of ``notebooks/06_comparison.ipynb``: each returns None or a hint."""

from __future__ import annotations

import math
import statistics

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


def gap_over_spread(seed_ious=SEED_IOUS) -> float:
    """The gap of the two models' mean IoUs divided by the sum of their sample standard deviations."""
    (a, b) = seed_ious.values()
    return abs(statistics.mean(a) - statistics.mean(b)) / (statistics.stdev(a) + statistics.stdev(b))


def check_gap_over_spread(answer) -> str | None:
    """Exercise 2: ``gap_over_spread()`` of ``SEED_IOUS``: 0.01 / (0.02 + 0.02) = 0.25, a number, not a yes/no."""
    if not isinstance(answer, int | float) or isinstance(answer, bool) or not math.isfinite(answer) or answer < 0:
        return "Give the ratio as a non-negative number: the gap of the means divided by the summed spreads."
    (a, b) = SEED_IOUS.values()
    gap = abs(statistics.mean(a) - statistics.mean(b))
    if math.isclose(answer, (statistics.stdev(a) + statistics.stdev(b)) / gap, rel_tol=1e-2):
        return "Upside down: divide the gap of the means by the summed standard deviations."
    if math.isclose(answer, gap / (statistics.pstdev(a) + statistics.pstdev(b)), rel_tol=1e-2):
        return "Use the sample standard deviation (divide by n - 1, statistics.stdev), as the table does."
    if not math.isclose(answer, gap_over_spread(), rel_tol=1e-2):
        return ("Compute each model's mean and sample standard deviation over the seeds, then divide the "
                "difference of the means by the sum of the two standard deviations.")
    return None


def check_my_gap(answer, gap: float) -> str | None:
    """Exercise 3: LinkNet's test mean IoU minus U-Net's, read from this run's table (``gap``).

    Read off a table of 4 decimals, an answer within 0.0015 of ``gap`` is accepted. Nothing to
    measure beyond the table: the unchanged cell holds ``None``, which ``report`` does not check.
    """
    if not isinstance(answer, int | float) or isinstance(answer, bool) or not -1 <= answer <= 1:
        return "Give the gap as a number between -1 and 1: LinkNet's test mean IoU minus U-Net's."
    if abs(gap) > 0.0015 and abs(answer + gap) <= 0.0015:
        return "The sign is flipped: take LinkNet's test mean IoU minus U-Net's, not the other way round."
    if abs(answer - gap) > 0.0015:
        return ("Read the mean_iou column of the table (the test split's mean IoU, mean over seeds) for both "
                "models and subtract U-Net's from LinkNet's.")
    return None
