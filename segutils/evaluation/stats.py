"""Is a gap between two models real? A paired bootstrap over test images and seeds.

The test split of membrane holds 5 images and a comparison a few seeds per model: a gap in mean IoU can come from
which images happened to be in the test split, or which seeds were drawn. :func:`paired_bootstrap` resamples both,
keeping the pairing (the same image and seed for both models), and gives the gap with a 95 % percentile interval.
Taught in ``notebooks/06_comparison.ipynb``.
"""

from __future__ import annotations

import numpy as np

#: Resamples of :func:`paired_bootstrap` (the interval's ends move by < 0.001 IoU beyond this).
RESAMPLES = 10_000


def paired_bootstrap(a, b, resamples: int = RESAMPLES, level: float = 0.95, seed: int = 0) -> dict:
    """The gap ``mean(a) - mean(b)`` and its ``level`` percentile interval from a paired bootstrap.

    ``a[s, i]`` and ``b[s, i]`` are the two models' scores (e.g. per-image IoU) on test image ``i`` for seed ``s``
    (a 1-D array is one seed). Each resample draws seeds and images with replacement, the same draws for both
    models, and takes the gap of the means over the drawn cells; the interval holds the middle ``level`` of those
    gaps (numpy's default percentiles). Seeded: the same inputs always give the same interval.

    Returns:
        ``gap``, ``low``, ``high`` and ``level``, ``seeds``, ``images``.
    """
    a, b = np.atleast_2d(np.asarray(a, float)), np.atleast_2d(np.asarray(b, float))
    if a.shape != b.shape or a.ndim != 2 or a.size == 0:
        raise ValueError(f"paired_bootstrap pairs the two models' scores cell by cell: give two (seeds, images) arrays "
                         f"of one shape, got {a.shape} and {b.shape} (train both models with the same seeds and score "
                         "the same images)")
    if np.isnan(a).any() or np.isnan(b).any():
        raise ValueError("paired_bootstrap got NaN scores: score every image (a class absent from both masks "
                         "gives NaN; use the per-image mean over the classes present)")
    if not 0 < level < 1:
        raise ValueError(f"level is the interval's coverage, strictly between 0 and 1, got {level}")
    diff = a - b
    rng = np.random.default_rng(seed)
    seeds = rng.integers(0, diff.shape[0], size=(resamples, diff.shape[0]))
    images = rng.integers(0, diff.shape[1], size=(resamples, diff.shape[1]))
    gaps = diff[seeds[:, :, None], images[:, None, :]].mean(axis=(1, 2))
    low, high = np.percentile(gaps, [50 * (1 - level), 50 * (1 + level)])
    return dict(gap=float(diff.mean()), low=float(low), high=float(high), level=level,
                seeds=diff.shape[0], images=diff.shape[1])


#: A verdict names a winner only from this many test images, and never from a zero-width interval.
MIN_TEST_IMAGES, TOO_FEW = 5, "too few test images to judge"


def decision(a: str, b: str, result: dict) -> str:
    """``a``, ``b``, ``"no difference"`` (the interval holds 0) or :data:`TOO_FEW` (fewer than :data:`MIN_TEST_IMAGES`
    images, or a zero-width interval) for a :func:`paired_bootstrap` ``result`` of ``a`` against ``b``."""
    if result["images"] < MIN_TEST_IMAGES or result["high"] - result["low"] <= 1e-12:
        return TOO_FEW
    return "no difference" if result["low"] <= 0 <= result["high"] else a if result["gap"] > 0 else b


def verdict(a: str, b: str, result: dict) -> str:
    """One sentence on ``result`` (:func:`decision`), with the interval and what it covers."""
    interval = f"{result['level']:.0%} interval {result['low']:+.4f} to {result['high']:+.4f}"
    where = f"over {result['images']} test images and {result['seeds']} seed(s)"
    call = decision(a, b, result)
    if call == TOO_FEW:
        few = result["images"] < MIN_TEST_IMAGES
        why = f"{result['images']} test image(s), fewer than {MIN_TEST_IMAGES}" if few else "a zero-width interval"
        return f"{TOO_FEW} between {a} and {b} ({why}): gap {result['gap']:+.4f}, {interval} {where}"
    if call == "no difference":
        return f"no measurable difference between {a} and {b}: gap {result['gap']:+.4f}, {interval} {where}"
    worse = b if call == a else a
    return f"{call} is higher than {worse} by {abs(result['gap']):.4f} ({a} - {b}: {interval} {where})"
