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


def test_gap_over_spread_is_a_quarter():
    assert nb06.gap_over_spread() == pytest.approx(0.25)
    assert nb06.check_gap_over_spread(0.25) is None
    assert nb06.check_gap_over_spread(0.2502) is None  # rounded by hand


@pytest.mark.parametrize(
    "wrong, hint",
    [(4.0, "Upside down"), (0.01 / (2 * statistics.pstdev([0.80, 0.82, 0.78])), "sample standard deviation"),
     (0.5, "sum of the two standard deviations"), (False, "non-negative number"), (-0.25, "non-negative number")],
)
def test_gap_over_spread_hints(wrong, hint):
    assert hint in nb06.check_gap_over_spread(wrong)
    assert "0.25" not in nb06.check_gap_over_spread(wrong)


def test_my_gap_is_linknets_table_mean_iou_minus_unets():
    from segutils.evaluation import compare

    table = compare([{"model": m, "seed": s, "mean_iou": v} for m, ious in nb06.SEED_IOUS.items()
                     for s, v in enumerate(ious)])
    gap = table.mean("linknet", "mean_iou") - table.mean("unet", "mean_iou")
    assert gap == pytest.approx(0.01)
    assert nb06.check_my_gap(gap, gap=gap) is None
    assert nb06.check_my_gap(0.0105, gap=gap) is None  # read off a table of 4 decimals


@pytest.mark.parametrize(
    "wrong, hint", [(-0.01, "sign is flipped"), (0.05, "mean_iou column"), (None, "between -1 and 1"),
                    (2.0, "between -1 and 1")],
)
def test_my_gap_hints(wrong, hint):
    assert hint in nb06.check_my_gap(wrong, gap=0.01)
