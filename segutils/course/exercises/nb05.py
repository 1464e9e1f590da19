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
    ``[0.50, 0.62, 0.61, 0.64, 0.66, 0.65, 0.63, 0.67]``.

    Every wrong epoch gets the same hint, so that hints cannot narrow the answer down.
    """
    if not isinstance(answer, int) or isinstance(answer, bool):
        return "Give the epoch as a whole number, counting the first epoch as 1."
    if answer != 7:
        return ("Walk through the list: after each epoch write down the best value so far and how many epochs "
                "in a row have not beaten it (a new best resets the count); training stops after the epoch "
                "where that count reaches patience.")
    return None


#: Exercise 3: the least drop in validation mean IoU that momentum 0.99 gives against the course's 0.9.
MOMENTUM_DROP = 0.05


def check_momentum(answer, course: float) -> str | None:
    """Exercise 3: validation mean IoU of ``momentum_run(0.99)``, given the course's ``momentum_run(0.9)``.

    Measured (U-Net 8 filters, depth 2, 20 epochs of the training split in memory, batch 4): ``ci``
    (shapes, 8 images of 64 px, lr 1e-3, seed 0): 0.9 gives 0.354, 0.99 gives 0.219 (the lazy model
    of 4 classes: 0.21); at lr 3e-3 over seeds 0-2, 0.9 gave 0.310-0.421 and 0.99 0.219-0.280.
    ``cpu``: not measured yet (the shared machine was busy). So an IoU at least
    :data:`MOMENTUM_DROP` below the course's is accepted; the unchanged cell's value is rejected.
    """
    if not isinstance(answer, int | float) or isinstance(answer, bool) or not 0 <= answer <= 1:
        return "Give the mean IoU as a fraction between 0 and 1, as the cell prints it."
    if math.isclose(answer, course, rel_tol=1e-3, abs_tol=1e-3):
        return ("That is what the unchanged cell gives, with the course's momentum 0.9. Set TRY_MOMENTUM = "
                "0.99, run that cell again and read the IoU it prints.")
    if answer > course - MOMENTUM_DROP:
        return ("With 0.99 the moving statistics lag far behind the weights, and validation uses them: the "
                "IoU drops clearly. Check that only TRY_MOMENTUM changed and that the cell ran again.")
    return None
