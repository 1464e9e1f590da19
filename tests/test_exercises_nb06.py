"""Exercise checks of notebook 06 accept the solution and reject wrong answers with a hint."""

import statistics

import pytest

from segutils.course.exercises import nb06


def test_the_solutions_are_what_the_table_functions_compute():
    (tn, fp), (fn, tp) = nb06.CONFUSION
    assert tp / (tp + fp + fn) == pytest.approx(0.7)
    unet, linknet = nb06.SEED_IOUS.values()
    gap = abs(statistics.fmean(unet) - statistics.fmean(linknet))
    assert gap == pytest.approx(0.01) and statistics.stdev(unet) + statistics.stdev(linknet) == pytest.approx(0.04)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (0.85, "pixel accuracy"),
        (35 / 45, "both kinds of error"),
        (70 / 85, "Dice"),
        (0.5, "IoU ="),
        (70, "between 0 and 1"),
    ],
)
def test_cell_iou(wrong, hint):
    assert nb06.check_cell_iou(0.7) is None
    assert hint in nb06.check_cell_iou(wrong)
    assert "0.7" not in nb06.check_cell_iou(wrong)


def test_gap_vs_spread():
    assert nb06.check_gap_vs_spread(False) is None
    assert "standard deviations" in nb06.check_gap_vs_spread(True)
    assert "True or False" in nb06.check_gap_vs_spread("no")
