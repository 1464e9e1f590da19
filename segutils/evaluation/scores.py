"""Scores of predicted masks against true ones: ``segutils.metrics`` per class, dataset-wide and per image, and for
membrane the ISBI 2012 challenge's region scores V_rand and V_info.

Taught in ``notebooks/06_comparison.ipynb``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import metrics
from ..checks import whole
from ..plotting import mask_hw
from ..predict import predict_masks


def region_scores(truth: np.ndarray, prediction: np.ndarray, cell_class: int = 1) -> tuple[float, float]:
    """ISBI 2012's foreground-restricted ``(V_rand, V_info)`` of one mask: 1 is a perfect segmentation.

    Cells are the connected regions (4-connectivity, ``skimage.measure.label``) of ``cell_class`` in each mask;
    only pixels inside a true cell count. ``V_rand = 1 - skimage.metrics.adapted_rand_error`` (the F-score of the
    Rand split and merge scores); ``V_info = 2 I(S;T) / (H(S) + H(T))`` from
    ``skimage.metrics.variation_of_information``'s conditional entropies (in bits; its second value is H(T | S)).
    The challenge also thins the predicted borders to one pixel before scoring, which is not done here: the
    figures are comparable, not identical.
    """
    from skimage.measure import label
    from skimage.metrics import adapted_rand_error, variation_of_information

    true_cells = label(np.asarray(truth) == cell_class, connectivity=1)
    pred_cells = label(np.asarray(prediction) == cell_class, connectivity=1)
    if not true_cells.any():
        return math.nan, math.nan
    v_rand = 1.0 - adapted_rand_error(true_cells, pred_cells, ignore_labels=(0,))[0]
    _, h_t_given_s = variation_of_information(true_cells, pred_cells, ignore_labels=(0,))
    inside = true_cells > 0
    h_t, h_s = _entropy(true_cells[inside]), _entropy(pred_cells[inside])
    v_info = 1.0 if h_t + h_s == 0 else 2.0 * (h_t - h_t_given_s) / (h_t + h_s)  # I(S;T) = H(T) - H(T | S)
    return float(v_rand), float(v_info)


def _entropy(labels: np.ndarray) -> float:
    p = np.unique(labels, return_counts=True)[1] / labels.size
    return float(-(p * np.log2(p)).sum())


@dataclass
class Evaluation:
    """What :func:`evaluate` measured.

    Attributes:
        confusion_matrix: ``(K, K)`` int64 over the whole set (rows truth, columns prediction).
        scores: ``segutils.metrics.scores`` of that matrix (dataset-wide).
        per_image: ``mean_iou``, ``mean_dice``, ``pixel_accuracy`` ``(N,)`` and ``iou``, ``dice`` ``(N, K)`` arrays,
            one row per image (NaN where a class is absent from both masks).
        v_rand, v_info: mean over images of :func:`region_scores` (NaN when not computed).
        per_image_regions: ``(N, 2)`` V_rand and V_info per image, or ``None``.
    """

    num_classes: int
    confusion_matrix: np.ndarray
    scores: dict
    per_image: dict
    predictions: list
    v_rand: float = math.nan
    v_info: float = math.nan
    per_image_regions: np.ndarray | None = None

    def summary(self) -> dict[str, float]:
        """Flat figures for a table: mean IoU, mean Dice, pixel accuracy, IoU per class, V_rand, V_info."""
        row = {name: float(self.scores[name]) for name in ("mean_iou", "mean_dice", "pixel_accuracy")}
        row.update({f"iou_{k}": float(v) for k, v in enumerate(self.scores["iou"])})
        if self.per_image_regions is not None:
            row.update(v_rand=self.v_rand, v_info=self.v_info)
        return row


def _data(data) -> tuple[list | None, list[np.ndarray]]:
    if isinstance(data, tuple) and len(data) == 2:
        images, masks = data
    elif hasattr(data, "images") and hasattr(data, "masks"):  # a segutils.data Split
        images, masks = data.images, data.masks
    elif hasattr(data, "as_numpy_iterator"):
        images, masks = [], []
        for x, m in data.as_numpy_iterator():
            images.extend(x)
            masks.extend(m)
    else:
        raise ValueError("data must be an (images, masks) pair, a split from segutils.data.load, "
                         "or a tf.data.Dataset of (image, mask) batches")
    return images, [mask_hw(m) for m in masks]


def evaluate(model_or_predictions, data, num_classes: int, ignore_index: int | None = None, threshold: float = 0.5,
             batch_size: int = 8, regions: bool | None = None, cell_class: int = 1) -> Evaluation:  # fmt: skip
    """Score a model (or its predicted masks, one per true mask) against true masks, dataset-wide and per image.

    Args:
        data: ``(images, masks)`` (images may be ``None`` when predictions are given), a ``Split`` from
            ``segutils.data.load`` (images at their own size), or a ``tf.data.Dataset`` of ``(image, mask)``
            batches, e.g. the test split of ``make_dataset``; masks ``(H, W)`` or ``(H, W, 1)`` class indices.
        ignore_index: a class whose true pixels are left out.
        threshold, batch_size: passed to :func:`predict_masks`.
        regions: also compute V_rand and V_info of the ``cell_class`` regions (default: when ``num_classes == 2``,
            i.e. membrane, where cells are class 1).

    Taught in ``notebooks/06_comparison.ipynb``.
    """
    whole(num_classes, "num_classes")
    images, masks = _data(data)
    if not masks:
        raise ValueError("the test set is empty (0 masks): nothing to score; check the split, its subset, or a "
                         "filter/take that left no batch")
    predictions = (predict_masks(model_or_predictions, list(images), batch_size=batch_size, threshold=threshold)
                   if hasattr(model_or_predictions, "predict") else model_or_predictions)
    predictions = [np.asarray(p) for p in predictions]
    if len(predictions) != len(masks):
        raise ValueError(f"{len(predictions)} predictions for {len(masks)} masks: give one prediction per mask")
    pairs = list(zip(masks, predictions, strict=True))
    matrices = [metrics.confusion_matrix(t, p, num_classes, ignore_index) for t, p in pairs]
    per = [metrics.scores(cm, ignore_index) for cm in matrices]
    per_image = {name: np.array([s[name] for s in per], dtype=float)
                 for name in ("mean_iou", "mean_dice", "pixel_accuracy", "iou", "dice")}
    total = np.sum(matrices, axis=0)
    result = Evaluation(num_classes, total, metrics.scores(total, ignore_index), per_image, predictions)
    if regions if regions is not None else num_classes == 2:
        result.per_image_regions = np.array([region_scores(t, p, cell_class) for t, p in pairs])
        result.v_rand, result.v_info = (float(v) for v in np.nanmean(result.per_image_regions, axis=0))
    return result
