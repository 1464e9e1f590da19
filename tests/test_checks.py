"""The one argument rule: a whole number, not a bool, of at least a minimum."""

import numpy as np
import pytest

from segutils import checks


def test_is_whole_takes_integers_of_at_least_the_minimum_and_no_bool():
    assert checks.is_whole(1) and checks.is_whole(np.int64(3)) and checks.is_whole(0, minimum=0)
    assert not any(checks.is_whole(v) for v in (0, -1, True, 2.0, "2", None))


def test_whole_returns_an_int_or_none_when_allowed():
    assert checks.whole(np.int32(4), "batch_size") == 4 and type(checks.whole(np.int32(4), "batch_size")) is int
    assert checks.whole(None, "subset", none_ok=True) is None


@pytest.mark.parametrize(("value", "kwargs", "message"), [
    (256 / 4, {}, "batch_size must be a whole number >= 1, got 64.0 (float) (use // to divide: 256 // 4, not 256 / 4)"),
    (True, {}, "batch_size must be a whole number >= 1, got True (bool)"),
    (0, {"none_ok": True}, "batch_size must be a whole number >= 1 (or None), got 0 (int)"),
    (1, {"minimum": 2, "fix": "a binary mask has 2 classes"},
     "batch_size must be a whole number >= 2, got 1 (int): a binary mask has 2 classes"),
])
def test_whole_says_what_was_passed_and_how_to_fix_it(value, kwargs, message):
    with pytest.raises(ValueError) as err:
        checks.whole(value, "batch_size", **kwargs)
    assert str(err.value) == message
