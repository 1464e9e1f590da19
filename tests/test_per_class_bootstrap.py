"""per_class_bootstrap and class_winners on constructed confusion matrices (issue 24)."""

import numpy as np
import pytest

from segutils.evaluation.stats import class_winners, per_class_bootstrap

NAMES = ("road", "car", "void")
PERFECT = [[50, 0, 0], [0, 50, 0], [0, 0, 0]]
HALF_CARS_MISSED = [[50, 0, 0], [25, 25, 0], [0, 0, 0]]  # 25 car pixels drawn as road


def test_a_clear_gap_in_every_class_is_found_with_its_exact_size():
    a, b = np.array([PERFECT] * 10), np.array([HALF_CARS_MISSED] * 10)
    result = per_class_bootstrap(a, b, ignore_index=2, resamples=200)
    # road: 500 / (500 + 250) in b; car: 250 / 500 in b; both 1.0 in a; identical images: the interval is the gap
    np.testing.assert_allclose(result["gap"][:2], [1 - 2 / 3, 0.5])
    np.testing.assert_allclose(result["low"][:2], result["gap"][:2])
    np.testing.assert_allclose(result["high"][:2], result["gap"][:2])
    assert np.isnan(result["gap"][2]) and np.isnan(result["low"][2])  # void: no figure at all
    assert result["mean"]["gap"] == pytest.approx(1 - (2 / 3 + 0.5) / 2)
    assert result["images"] == 10
    assert class_winners(result, NAMES, "linknet", "unet") == {"linknet": ["road", "car"], "unet": [],
                                                               "no measurable difference": []}


def test_a_swap_of_errors_between_images_is_no_difference():
    good, bad = [[50, 0, 0], [0, 50, 0], [0, 0, 0]], [[50, 0, 0], [10, 40, 0], [0, 0, 0]]
    a = np.array([good, bad] * 5)  # a errs on the odd images, b on the even ones: the same totals
    b = np.array([bad, good] * 5)
    result = per_class_bootstrap(a, b, ignore_index=2, resamples=2000)
    np.testing.assert_allclose(result["gap"][:2], [0.0, 0.0], atol=1e-12)
    assert (result["low"][:2] < 0).all() and (result["high"][:2] > 0).all()
    assert result["mean"]["low"] < 0 < result["mean"]["high"]
    assert class_winners(result, NAMES, "linknet", "unet")["no measurable difference"] == ["road", "car"]


def test_a_class_one_model_wins_and_the_other_loses_is_named_per_model():
    a = np.array([[[50, 0], [25, 25]]] * 6)  # a misses half the class-1 pixels
    b = np.array([[[25, 25], [0, 50]]] * 6)  # b draws half the class-0 pixels as class 1
    result = per_class_bootstrap(a, b, resamples=100)
    np.testing.assert_allclose(result["gap"], [50 / 75 - 25 / 50, 25 / 50 - 50 / 75])
    assert class_winners(result, ("sky", "car"), "a", "b") == {"a": ["sky"], "b": ["car"],
                                                              "no measurable difference": []}


def test_unpaired_matrices_are_refused_with_what_to_pass():
    with pytest.raises(ValueError, match=r"\(N, K, K\) arrays of one shape, got \(3, 2, 2\) and \(2, 2, 2\)"):
        per_class_bootstrap(np.zeros((3, 2, 2)), np.zeros((2, 2, 2)))


def test_a_tiny_gap_between_two_near_zero_ious_is_no_win():
    a = np.array([[[50, 0], [9999, 1]]] * 5)  # class 1: IoU 1 / 10000 in a, 0 in b: an interval above 0, no win
    b = np.array([[[50, 0], [10000, 0]]] * 5)
    result = per_class_bootstrap(a, b, resamples=50)
    assert result["low"][1] > 0 and result["gap"][1] < 0.001
    wins = class_winners(result, ("road", "sign"), "a", "b")
    assert wins == {"a": [], "b": [], "no measurable difference": ["road", "sign"]}


def test_fewer_test_images_than_a_verdict_needs_name_no_winner_per_class():
    """The rule of 06's verdict (stats.decision): no winner from fewer than MIN_TEST_IMAGES test images."""
    a, b = np.array([PERFECT] * 4), np.array([HALF_CARS_MISSED] * 4)  # a clear gap, but 4 images
    result = per_class_bootstrap(a, b, ignore_index=2, resamples=200)
    assert result["low"][0] > 0 and result["low"][1] > 0
    assert class_winners(result, NAMES, "linknet", "unet") == {
        "linknet": [], "unet": [], "no measurable difference": [], "too few test images to judge": ["road", "car"]}
    five = per_class_bootstrap(np.array([PERFECT] * 5), np.array([HALF_CARS_MISSED] * 5), ignore_index=2, resamples=200)
    assert class_winners(five, NAMES, "linknet", "unet")["linknet"] == ["road", "car"]
