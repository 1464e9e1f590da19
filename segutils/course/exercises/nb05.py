"""Checks for the exercises of ``notebooks/05_training.ipynb``: each returns None or a hint."""

from __future__ import annotations

import math


def check_input_wait(answer) -> str | None:
    """Exercise 1: the input-wait share of a 0.25 s step whose in-memory twin takes 0.2 s."""
    if not isinstance(answer, int | float) or not 0 <= answer <= 1:
        return "Give a fraction between 0 and 1, not a percentage or a time in seconds."
    if math.isclose(answer, 0.2 / 0.25) or math.isclose(answer, 0.05):
        return (
            "That is not the waiting share. The in-memory step is the step without waiting: "
            "how much of the real step is left over, as a share of the real step?"
        )
    if not math.isclose(answer, 1 - 0.2 / 0.25, abs_tol=1e-6):
        return "Compare the two step times: the difference is time spent waiting, divide it by the real step."
    return None


def check_early_stop(answer) -> str | None:
    """Exercise 2: the epoch after which EarlyStopping(patience=2) stops on
    ``[0.50, 0.62, 0.61, 0.64, 0.66, 0.65, 0.63, 0.67]``."""
    if not isinstance(answer, int) or isinstance(answer, bool):
        return "Give the epoch as a whole number, counting the first epoch as 1."
    if answer in (3, 4, 5, 6):
        return (
            "Too early: a new best value resets the count. Find the best value so far after each "
            "epoch and count the epochs in a row that do not beat it."
        )
    if answer == 8:
        return "Too late: training stops as soon as two epochs in a row fail to beat the best so far."
    if answer != 7:
        return "Walk through the list: patience=2 stops after two epochs in a row without a new best."
    return None
