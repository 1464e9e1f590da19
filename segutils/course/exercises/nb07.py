"""Checks for the exercises of ``notebooks/07_inference.ipynb``: each returns None or a hint.

Taught in ``notebooks/07_inference.ipynb``.
"""

from __future__ import annotations

import math


def _is_number(answer) -> bool:
    return isinstance(answer, int | float) and not isinstance(answer, bool)


def check_tile_count(answer) -> str | None:
    """Exercise 1: tiles ``predict_tiled`` lays over a 1000 x 700 image with tile=256, overlap=64."""
    if not isinstance(answer, int) or isinstance(answer, bool) or answer < 1:
        return "Give the number of tiles as a whole number (rows of tiles times columns of tiles)."
    if answer == 12:  # ceil(1000 / 256) * ceil(700 / 256): side by side, no overlap, no margin
        return "Neighbouring tiles overlap, so they step by tile - overlap pixels, not by a whole tile."
    if answer == 20:  # overlapping steps over the bare image, without the mirrored margins
        return ("The steps are right, but the tiles also cover a mirrored margin above and below, left "
                "and right of the image (overlap / 2, rounded up to a multiple of 32).")
    if answer != 24:
        return ("Per side: the image plus two margins must be covered by one tile plus as many steps of "
                "tile - overlap as needed (round up); multiply the counts of the two sides.")
    return None


def check_blend(answer) -> str | None:
    """Exercise 2: the blended probability where tile A (weight 0.75) says 0.9 and tile B (0.25) says 0.5."""
    if not _is_number(answer) or not 0 <= answer <= 1:
        return "Give a probability between 0 and 1."
    if math.isclose(answer, 0.7, abs_tol=1e-6):  # the plain mean of the two tiles
        return "That is the plain mean: the tiles do not count equally here, each counts with its weight."
    if math.isclose(answer, 0.75 * 0.9 + 0.25 * 0.5, abs_tol=1e-6):
        return None
    return "Weight each tile's probability by its blend weight, add them, and divide by the sum of the weights."


def check_exact_pixels(answer) -> str | None:
    """Exercise 3: pixels of a 64 x 64 image whose tile and whole-image predictions must agree (field 44)."""
    if not isinstance(answer, int) or isinstance(answer, bool) or answer < 0:
        return "Give a count of pixels as a whole number."
    if answer in ((64 - 22) ** 2, 0):  # a band on one side only, or a band as wide as the whole field
        return ("A pixel is safe when its whole receptive field lies inside the image: the field reaches "
                "half its size to each side, so the border band is half the field wide, on every side.")
    if answer != (64 - 2 * (44 // 2)) ** 2:
        return "Find the side of the square of safe pixels (the image minus a band on both sides), then square it."
    return None


#: Exercise 4: overlap 32 leaves at least this many times the seam error of the derived overlap.
SEAM_FACTOR = 1.3


def check_seam_error(answer, derived: float, none: float, overlap: int, tried: dict | None = None) -> str | None:
    """Exercise 4: the seam error of tiles overlapping by 32, given the derived overlap's and no overlap's.

    ``tried`` holds the seam error of every overlap the learner's run of the ``TRY_OVERLAP`` cell measured: once
    it has 32, the answer is that number (within 2 %), the learner's own measurement; before, the range below.

    The seam error is the mean |tiled - whole| probability at least half the receptive field from the
    image's border. Measured (U-Net trained by 07's fallback, receptive field 200, seed 0): ``ci``
    (tile 128, derived overlap 64, 315 x 297 image): overlap 0 0.0114, 32 0.00095, 64 0.00046;
    ``cpu`` (fallback trained 30 epochs on membrane, tile 256, derived overlap 128, 379 x 361 image):
    overlap 0 0.0299, 32 0.0182, 64 0.0077, 128 0.0037 (4 tiles up to overlap 64, 9 at 128). So 32 is accepted from
    :data:`SEAM_FACTOR` times the derived overlap's error up to no overlap's; the unchanged cell's
    (derived) value is rejected.
    """
    if not _is_number(answer) or not 0 <= answer <= 1:
        return "Give the seam error the cell prints: a mean difference of probabilities, between 0 and 1."
    measured = (tried or {}).get(32)
    if measured is not None and math.isclose(answer, measured, rel_tol=0.02):
        return None
    if math.isclose(answer, derived, rel_tol=0.02):
        return (f"That is the seam error of the overlap derived from the receptive field ({overlap}), what the "
                "unchanged cell prints. Set TRY_OVERLAP = 32 and run that cell again.")
    if math.isclose(answer, none, rel_tol=0.02):
        return "That is the seam error without any overlap. Set TRY_OVERLAP = 32, not 0."
    if measured is not None:
        return ("That is not what your run printed for TRY_OVERLAP = 32: copy the seam error from the line "
                "'overlap 32: ... seam error ...' of that cell.")
    if not SEAM_FACTOR * derived <= answer < none:
        return ("A smaller overlap leaves more seam error than the derived one and less than none at all. "
                "Set TRY_OVERLAP = 32, run the cell again and copy the seam error it prints.")
    return None
