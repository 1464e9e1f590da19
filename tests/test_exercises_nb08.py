"""The checks of notebook 08's exercises accept the solutions and hint at the usual mistakes."""

import math

from segutils.course.exercises import nb08


def test_enet_weight_accepts_the_solution_and_names_the_usual_slips():
    assert nb08.check_enet_weight(1 / math.log(1.04)) is None
    assert math.isclose(1 / math.log(1.04), 25.497, rel_tol=1e-4)
    assert "one over it" in nb08.check_enet_weight(math.log(1.04))
    assert "log10" in nb08.check_enet_weight(1 / math.log10(1.04))
    assert "fraction" in nb08.check_enet_weight(1 / math.log(3.02))
    assert "positive" in nb08.check_enet_weight(True)


def test_winner_is_no_difference_when_the_interval_holds_zero():
    assert nb08.check_winner("no difference") is None
    assert "on its side of 0" in nb08.check_winner("unet")
    assert "one of" in nb08.check_winner("LinkNet")


def test_padded_size_rounds_each_side_up_to_32():
    assert nb08.check_padded_size((384, 480)) is None
    assert nb08.check_padded_size([384, 480]) is None
    assert "Height first" in nb08.check_padded_size((480, 384))
    assert "round up" in nb08.check_padded_size((352, 480))
    assert "next multiple" in nb08.check_padded_size((368, 480))
    assert "pair" in nb08.check_padded_size(384)
