"""Is a gap between two models real, or the luck of the test images and seeds? A paired bootstrap.
Taught in ``notebooks/06_comparison.ipynb``."""

import warnings

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


#: A verdict names a winner only from this many test images, and never from a zero-width interval.
MIN_TEST_IMAGES, TOO_FEW = 5, "too few test images to judge"


def decision(a: str, b: str, result: dict) -> str:
    """``a``, ``b``, ``"no difference"`` (the interval holds 0) or :data:`TOO_FEW` (fewer than :data:`MIN_TEST_IMAGES`
    images, or a zero-width interval) for a :func:`paired_bootstrap` ``result`` of ``a`` against ``b``."""
    if result["images"] < MIN_TEST_IMAGES or result["high"] - result["low"] <= 1e-12:
        return TOO_FEW
    return "no difference" if result["low"] <= 0 <= result["high"] else a if result["gap"] > 0 else b


def verdict(a: str, b: str, result: dict) -> str:
    """One sentence on ``result``: which model is higher, "no measurable difference", or too few test images
    (:func:`decision`), with the interval and what it covers. Taught in ``notebooks/06_comparison.ipynb``."""
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


def per_class_bootstrap(a, b, ignore_index: int | None = None, resamples: int = RESAMPLES, level: float = 0.95,
                        seed: int = 0) -> dict:
    """Per-class IoU gaps ``a - b`` and the mean IoU's (over the classes present), paired-bootstrapped over test
    images, of per-image confusion matrices ``(N, K, K)`` (``Evaluation.per_image["confusion_matrix"]``). Returns
    ``gap``, ``low``, ``high`` ``(K,)`` (NaN for ``ignore_index``), ``mean`` (the same three), ``level``, ``images``.
    Taught in ``notebooks/08_street_scenes.ipynb``."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape or a.ndim != 3 or a.shape[1] != a.shape[2] or not len(a):
        raise ValueError(f"per_class_bootstrap pairs two models' confusion matrices image by image: give two (N, K, K) "
                         f"arrays of one shape, got {a.shape} and {b.shape}")
    counted = np.arange(a.shape[1]) != (-1 if ignore_index is None else ignore_index)
    tp = [np.diagonal(cm, axis1=1, axis2=2) for cm in (a, b)]  # (N, K); the union is tp + fp + fn

    def gaps(w):  # (R, K + 1): per class, then the mean IoU, for images drawn w[r, i] times
        iou_a, iou_b = (np.where(counted, (w @ t) / (w @ (cm.sum(1) + cm.sum(2) - t)), np.nan)
                        for t, cm in zip(tp, (a, b), strict=True))
        return np.column_stack([iou_a - iou_b, np.nanmean(iou_a, axis=1) - np.nanmean(iou_b, axis=1)])

    draws = np.random.default_rng(seed).integers(0, len(a), size=(resamples, len(a)))
    weights = np.stack([np.bincount(d, minlength=len(a)) for d in draws]).astype(float)  # (R, N) times drawn
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a class no drawn image holds, the ignored class: NaN
        low, high = np.nanpercentile(gaps(weights), [50 * (1 - level), 50 * (1 + level)], axis=0)
        gap = gaps(np.ones((1, len(a))))[0]
    return dict(gap=gap[:-1], low=low[:-1], high=high[:-1], level=level, images=len(a),
                mean=dict(gap=float(gap[-1]), low=float(low[-1]), high=float(high[-1])))


def class_winners(result: dict, names, a: str = "a", b: str = "b", min_gap: float = 0.001) -> dict[str, list[str]]:
    """Classes each model wins in :func:`per_class_bootstrap`'s ``result`` (the interval leaves out 0 and the gap is at
    least ``min_gap``: 0.000 against 0.000 is no win), and the rest; all under :data:`TOO_FEW` from fewer than
    :data:`MIN_TEST_IMAGES` test images, as :func:`decision`. Taught in ``notebooks/08_street_scenes.ipynb``."""
    wins = {a: [], b: [], "no measurable difference": []}
    few = result["images"] < MIN_TEST_IMAGES  # the same for every class
    for name, gap, low, high in zip(names, result["gap"], result["low"], result["high"], strict=False):
        if not np.isnan(low):
            won = abs(gap) >= min_gap and (low > 0 or high < 0)
            key = TOO_FEW if few else (a if gap > 0 else b) if won else "no measurable difference"
            wins.setdefault(key, []).append(name)
    return wins
