"""Exercise checks of notebook 07 accept the solution and reject wrong answers with a hint."""

import pytest

from segutils.course.exercises import nb07
from segutils.models import build_unet
from segutils.tiling import receptive_field, tile_grid


def test_tile_count_solution_is_what_tile_grid_lays():
    solution = len(tile_grid(1000, 700, tile=256, overlap=64))
    assert solution == 24  # rows: 1 + ceil((1000 + 64 - 256) / 192) = 6; cols: 1 + ceil((700 + 64 - 256) / 192) = 4
    assert nb07.check_tile_count(solution) is None


@pytest.mark.parametrize(
    "wrong, hint",
    [(12, "step by tile - overlap"), (20, "mirrored margin"), (30, "round up"), (24.0, "whole number")],
)
def test_tile_count_hints(wrong, hint):
    assert hint in nb07.check_tile_count(wrong)
    assert "24" not in nb07.check_tile_count(wrong)


def test_blend_solution_and_hints():
    assert nb07.check_blend((0.75 * 0.9 + 0.25 * 0.5) / (0.75 + 0.25)) is None  # 0.8
    assert "plain mean" in nb07.check_blend(0.7)
    assert "divide by the sum of the weights" in nb07.check_blend(0.9)
    assert "between 0 and 1" in nb07.check_blend(80)
    assert "0.8" not in nb07.check_blend(0.7)


def test_exact_pixels_solution_matches_the_receptive_field():
    band = receptive_field(build_unet((None, None, 1), 1, filters=4, depth=2)) // 2
    assert nb07.check_exact_pixels((64 - 2 * band) ** 2) is None  # 20 x 20 = 400


@pytest.mark.parametrize(
    "wrong, hint", [(400.0, "whole number"), (0, "half its size"), (1764, "on every side"), (20, "square it")]
)
def test_exact_pixels_hints(wrong, hint):
    assert hint in nb07.check_exact_pixels(wrong)
    assert "400" not in nb07.check_exact_pixels(wrong)


def _seam_errors(overlaps):
    """Seam errors of notebook 07 (mean |tiled - whole| beyond half the field from the border) per overlap."""
    import keras
    import numpy as np

    from segutils.tiling import tiled_probabilities

    keras.utils.set_random_seed(0)
    model = build_unet((None, None, 1), 1, filters=4, depth=3)  # receptive field 96: derived overlap 64
    image = (np.random.default_rng(0).random((300, 280, 1)) * 255).astype(np.uint8)
    whole = tiled_probabilities(model, image, tile=320, overlap=0)
    h, w = image.shape[:2]
    yy, xx = np.mgrid[:h, :w]
    interior = np.minimum.reduce([yy, xx, h - 1 - yy, w - 1 - xx]) >= receptive_field(model) // 2
    errors = {}
    for overlap in overlaps:
        probs = tiled_probabilities(model, image, tile=128, overlap=overlap, progress=False)
        errors[overlap] = float(np.abs(probs - whole).max(axis=-1)[interior].mean())
    return errors


def test_seam_error_accepts_a_smaller_overlap_and_rejects_the_unchanged_and_no_overlap():
    errors = _seam_errors((0, 32, 64))
    assert errors[0] > errors[32] > errors[64] > 0, errors
    given = dict(derived=errors[64], none=errors[0], overlap=64)
    assert nb07.check_seam_error(errors[32], **given) is None
    assert nb07.check_seam_error(round(errors[32], 5), **given) is None  # copied as printed
    assert "unchanged cell" in nb07.check_seam_error(errors[64], **given)
    assert "without any overlap" in nb07.check_seam_error(errors[0], **given)


@pytest.mark.parametrize(
    "wrong, hint",
    [(0.0005, "unchanged cell"), (0.01, "without any overlap"), (0.0002, "less than none"), (0.02, "less than none"),
     (2.0, "between 0 and 1"), (True, "between 0 and 1")],
)
def test_seam_error_hints(wrong, hint):
    given = dict(derived=0.0005, none=0.01, overlap=64)
    assert hint in nb07.check_seam_error(wrong, **given)
    assert nb07.check_seam_error(0.001, **given) is None


def test_seam_error_is_checked_against_the_learners_own_run_of_overlap_32():
    given = dict(derived=0.0005, none=0.01, overlap=64)
    assert nb07.check_seam_error(0.0031, **given, tried={64: 0.0005, 32: 0.0031}) is None
    assert nb07.check_seam_error(0.00312, **given, tried={32: 0.0031}) is None  # copied rounded
    assert "not what your run printed for TRY_OVERLAP = 32" in nb07.check_seam_error(0.001, **given, tried={32: 0.0031})
    assert "unchanged cell" in nb07.check_seam_error(0.0005, **given, tried={32: 0.0031})
    assert nb07.check_seam_error(0.001, **given, tried={64: 0.0005}) is None  # 32 not run yet: the range
