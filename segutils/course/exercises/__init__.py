"""Exercises of the notebooks: one ``report`` for every check cell, and the checks per notebook.

A notebook's check cell reads::

    EXERCISE_1 = report("1", EXERCISE_1, SOLUTION_1, nb02.check_parameters)

An empty answer (``None``) is replaced by the solution so the notebook runs on, and the
cell says so; an answer is never reported as checked when it was not given. The checks
live in ``segutils/course/exercises/nbNN.py``, one module per notebook, each a function that
returns ``None`` for a right answer or a hint that does not give the answer away.

Taught in notebooks/00_setup.ipynb.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["ExerciseError", "report"]


class ExerciseError(AssertionError):
    """A wrong exercise answer; the message is a hint that does not give the answer away.

    Taught in notebooks/00_setup.ipynb.
    """


def report(number: str | int, answer: Any, solution: Any, check: Callable[[Any], str | None]) -> Any:
    """Check an exercise answer, or go on with the solution when it was left empty.

    Args:
        number: The exercise's number as shown in the notebook, e.g. ``"1"``.
        answer: The learner's answer; ``None`` means not answered.
        solution: The value the notebook goes on with when the answer is empty.
        check: A function of the answer returning ``None`` when it is right, else a hint.

    Returns:
        ``solution`` when ``answer`` is None, else ``answer`` (once it checks out).

    Raises:
        ExerciseError: The answer is wrong; the message is the check's hint.

    Taught in notebooks/00_setup.ipynb.
    """
    __tracebackhide__ = True  # pytest (and IPython's %debug) skip this frame: the hint is what matters
    if answer is None:
        print(f"Exercise {number}: not answered, so the solution was used to go on.")
        return solution
    problem = check(answer)
    if problem is None:
        print(f"Exercise {number}: your answer checks out.")
        return answer
    if not isinstance(problem, str) or not problem:
        raise TypeError(f"The check of exercise {number} must return None or a hint (a non-empty str), "
                        f"got {problem!r}.")
    error = ExerciseError(problem)
    error.number = str(number)
    raise error
