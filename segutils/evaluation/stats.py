"""Is a gap between two models real, or the luck of the test images and seeds? A paired bootstrap.
Taught in ``notebooks/06_comparison.ipynb``."""

from __future__ import annotations

import numpy as np

#: Resamples of :func:`paired_bootstrap`.
RESAMPLES = 10_000


def paired_bootstrap(a, b, resamples: int = RESAMPLES, level: float = 0.95, seed: int = 0) -> dict:
    """``{gap, low, high, level, seeds, images}``: the gap ``mean(a) - mean(b)`` of two models' scores ``[seed,
    image]`` (1-D: one seed) and its ``level`` percentile interval over resamples that draw the same seeds and images
    for both (seeded: reproducible). Taught in ``notebooks/06_comparison.ipynb``."""
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


#: A verdict names a winner only from this many test images on, and never from a zero-width interval.
MIN_TEST_IMAGES = 5
TOO_FEW = "too few test images to judge"


def decision(a: str, b: str, result: dict) -> str:
    """The call on ``result`` (:func:`paired_bootstrap` of ``a`` against ``b``): ``a``, ``b``, ``"no difference"``
    (the interval holds 0) or :data:`TOO_FEW` (fewer than :data:`MIN_TEST_IMAGES` images, or a zero-width interval)."""
    if result["images"] < MIN_TEST_IMAGES or result["high"] - result["low"] <= 1e-12:
        return TOO_FEW
    if result["low"] <= 0 <= result["high"]:
        return "no difference"
    return a if result["gap"] > 0 else b


def verdict(a: str, b: str, result: dict) -> str:
    """One sentence on ``result``: which model is higher, "no measurable difference", or too few test images
    (:func:`decision`), with the interval and what it covers. Taught in ``notebooks/06_comparison.ipynb``."""
    interval = f"{result['level']:.0%} interval {result['low']:+.4f} to {result['high']:+.4f}"
    where = f"over {result['images']} test images and {result['seeds']} seed(s)"
    call = decision(a, b, result)
    if call == TOO_FEW:
        why = (f"{result['images']} test image(s), fewer than {MIN_TEST_IMAGES}" if result["images"] < MIN_TEST_IMAGES
               else "the interval has zero width (every resample gave the same gap)")
        return (f"{TOO_FEW} between {a} and {b}: {why}; gap {result['gap']:+.4f}, {interval} {where}. Score more "
                "test images (a larger test split) before naming a winner")
    if call == "no difference":
        return f"no measurable difference between {a} and {b}: gap {result['gap']:+.4f}, {interval} {where}"
    worse = b if call == a else a
    return f"{call} is higher than {worse} by {abs(result['gap']):.4f} ({a} - {b}: {interval} {where})"
