"""Checks for the exercises of ``notebooks/02_unet.ipynb``: each returns None or a hint.

The right answers come from hand formulas; ``tests/test_exercises_nb02.py`` pins each to
the parameter count of the real ``build_unet`` model.

Taught in notebooks/02_unet.ipynb.
"""

from __future__ import annotations

PAPER_FILTERS = (64, 128, 256, 512, 1024)  # U-Net's levels in the paper, the bottleneck last


def _is_count(answer) -> bool:
    return isinstance(answer, int) and not isinstance(answer, bool)


def unet_parameters(c_in: int, classes: int, filters: int, depth: int, *, biases: bool = True,
                    skips: bool = True, head: bool = True) -> int:
    """Parameters of U-Net by hand; the keyword switches give the usual slips (no biases, skips, head)."""
    b = 1 if biases else 0
    total, prev = 0, c_in
    for k in range(depth + 1):  # encoder levels and the bottleneck: two 3x3 convs each
        f = filters * 2**k
        total += (9 * prev * f + b * f) + (9 * f * f + b * f)
        prev = f
    for k in range(depth - 1, -1, -1):  # decoder levels: 2x2 up-conv, concat the skip, two 3x3 convs
        f = filters * 2**k
        total += (4 * prev * f + b * f) + (9 * (2 if skips else 1) * f * f + b * f) + (9 * f * f + b * f)
        prev = f
    return total + ((filters * classes + b * classes) if head else 0)


def check_parameters(answer) -> str | None:
    """Exercise 1: parameters of a U-Net with depth 3, 16 filters, RGB input and 3 classes."""
    if not _is_count(answer):
        return "Give the count as a whole number (an int)."
    args = (3, 3, 16, 3)
    if answer == unet_parameters(*args):
        return None
    if answer == unet_parameters(*args, biases=False):
        return "Close: every convolution here also has one bias per output channel (the + F terms)."
    if answer == unet_parameters(*args, skips=False):
        return "Close: the decoder concatenates the skip, so its first 3x3 conv sees twice the channels."
    if answer == unet_parameters(*args, head=False):
        return "Close: do not forget the 1x1 head that maps the last level's channels to the classes."
    return ("Walk level by level: 4 encoder levels (depth 3 plus the bottleneck) of two 3x3 convs, 3 decoder "
            "levels of an up-conv and two 3x3 convs (the first on the concatenated skip), then the head.")


def check_batchnorm_parameters(answer) -> str | None:
    """Exercise 2: parameters ``batchnorm=True`` adds to the paper's U-Net (64 filters, depth 4)."""
    if not _is_count(answer):
        return "Give the count as a whole number (an int)."
    channels = 2 * sum(PAPER_FILTERS) + 2 * sum(PAPER_FILTERS[:-1])  # two 3x3 convs per level
    if answer == 3 * channels:
        return None
    if answer == 4 * channels:
        return "Each 3x3 conv also loses its bias when BatchNorm follows it: subtract it."
    if answer in (channels, 2 * channels):
        return "count_params counts the moving mean and variance too, not only gamma and beta."
    return "Per channel of every 3x3 conv: 4 BatchNorm numbers come in, the conv's bias goes. Add over all 3x3 convs."


#: Exercise 3: the least side asked for.
LEAST_SIDE = 200


def check_smallest_side(answer) -> str | None:
    """Exercise 3: the smallest side of at least :data:`LEAST_SIDE` pixels a depth-5 U-Net accepts."""
    if not _is_count(answer):
        return "Give the side in pixels as a whole number (an int)."
    if answer < LEAST_SIDE:
        return f"The exercise asks for a side of at least {LEAST_SIDE} pixels."
    if answer % 2**5:
        if answer % 2**4 == 0:
            return "That side can be halved 4 times, but a depth-5 U-Net pools 5 times."
        return "Every 2x2 pool halves the side exactly: the side must survive being halved 5 times."
    if answer - 2**5 >= LEAST_SIDE:
        return f"That side works, but there is a smaller one of at least {LEAST_SIDE} pixels."
    return None
