"""Checks for the exercises of ``notebooks/08_street_scenes.ipynb``: each returns None or a hint."""

from __future__ import annotations

import math

#: Exercise 1: a class's share of the labelled pixels, and ENet's constant c.
SHARE, C = 0.02, 1.02
#: Exercise 2: the 95 % interval of LinkNet - U-Net on one class.
INTERVAL = (-0.031, 0.012)
#: Exercise 3: the gpu profile's training size (height, width).
GPU_SIZE = (360, 480)


def _number(answer) -> bool:
    return isinstance(answer, int | float) and not isinstance(answer, bool) and math.isfinite(answer)


def check_enet_weight(answer) -> str | None:
    """Exercise 1: ``1 / ln(C + SHARE)``, about 25.5."""
    if not _number(answer) or answer <= 0:
        return "Give the weight as a positive number."
    if math.isclose(answer, math.log(C + SHARE), rel_tol=1e-3):
        return "That is ln(c + p) itself: the weight is one over it."
    if math.isclose(answer, 1 / math.log10(C + SHARE), rel_tol=1e-3):
        return "ln is the natural logarithm (math.log), not log10."
    if math.isclose(answer, 1 / math.log(C + SHARE * 100), rel_tol=1e-3):
        return "p is a fraction of the pixels, 0.02, not a percentage."
    if not math.isclose(answer, 1 / math.log(C + SHARE), rel_tol=1e-3):
        return "Add c and the share, take the natural logarithm, and divide 1 by it."
    return None


def check_winner(answer) -> str | None:
    """Exercise 2: the interval holds 0, so neither model wins the class."""
    choices = ("linknet", "unet", "no difference")
    if answer not in choices:
        return f"Answer with one of {choices}."
    if answer != "no difference":
        return "A model wins a class only when the whole interval is on its side of 0. Where is 0 here?"
    return None


def check_padded_size(answer) -> str | None:
    """Exercise 3: each side padded up to the next multiple of 32: (384, 480)."""
    if not (isinstance(answer, tuple | list) and len(answer) == 2 and all(isinstance(s, int) for s in answer)):
        return "Give a (height, width) pair of whole numbers."
    if tuple(answer) == (480, 384):
        return "Height first, then width, as the profile writes the size."
    if tuple(answer) == (352, 480):
        return "That crops (or squashes) 8 rows; padding only adds pixels: round up."
    if tuple(answer) != tuple(-(-s // 32) * 32 for s in GPU_SIZE):
        return "Round each side up to the next multiple of 32 (a side that is one already stays)."
    return None
