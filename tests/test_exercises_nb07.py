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
