"""Exercise checks of notebook 02 accept the solution and reject wrong answers with a hint."""

import pytest

from segutils.course.exercises import nb02
from segutils.models import build_unet


def test_parameter_formula_is_build_unets_count():
    assert nb02.unet_parameters(3, 3, 16, 3) == build_unet((None, None, 3), 3, filters=16, depth=3).count_params()
    assert nb02.unet_parameters(1, 2, 64, 4) == 31_030_658  # the paper's setting (notebook 02)


def test_parameters_solution_and_hints():
    solution = build_unet((None, None, 3), 3, filters=16, depth=3).count_params()
    assert solution == 482_067
    assert nb02.check_parameters(solution) is None
    assert "one bias per output channel" in nb02.check_parameters(nb02.unet_parameters(3, 3, 16, 3, biases=False))
    assert "concatenates the skip" in nb02.check_parameters(nb02.unet_parameters(3, 3, 16, 3, skips=False))
    assert "1x1 head" in nb02.check_parameters(solution - 51)
    assert "Walk level by level" in nb02.check_parameters(solution + 1)
    assert "whole number" in nb02.check_parameters(482_067.0)


def test_batchnorm_solution_is_build_unets_difference():
    solution = (
        build_unet((None, None, 1), 2, batchnorm=True).count_params() - build_unet((None, None, 1), 2).count_params()
    )
    assert solution == 17_664
    assert nb02.check_batchnorm_parameters(solution) is None


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (4 * 5888, "loses its bias"),
        (2 * 5888, "moving mean and variance"),
        (5888, "moving mean and variance"),
        (17_000, "Per channel of every 3x3 conv"),
        (True, "whole number"),
    ],
)
def test_batchnorm_hints(wrong, hint):
    assert hint in nb02.check_batchnorm_parameters(wrong)
    assert "17" not in nb02.check_batchnorm_parameters(wrong)


def test_smallest_side_solution_builds_and_hints():
    build_unet((224, 224, 1), 1, filters=4, depth=5)  # accepted
    with pytest.raises(ValueError):
        build_unet((208, 208, 1), 1, filters=4, depth=5)
    assert nb02.check_smallest_side(224) is None
    assert nb02.check_smallest_side(192) == "The exercise asks for a side of at least 200 pixels."
    assert nb02.check_smallest_side(208) == "That side can be halved 4 times, but a depth-5 U-Net pools 5 times."
    assert "halved 5 times" in nb02.check_smallest_side(200)
    assert nb02.check_smallest_side(256) == "That side works, but there is a smaller one of at least 200 pixels."
    assert "whole number" in nb02.check_smallest_side(224.0)
