"""Scores of predicted masks against true ones, per class, dataset-wide and per image, and for membrane the ISBI 2012
region scores; masks at the labels' own resolution (predicted at the training size, the probabilities resized back,
then classified: resized labels lose thin membranes). Taught in ``notebooks/06_comparison.ipynb``."""

import math
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from .. import metrics
from ..checks import whole
from ..data.pipeline import resize_image
from ..data.sources import parse_size
from ..predict import head_rule, mask_hw, predict_masks, predict_probabilities


def region_scores(truth: np.ndarray, prediction: np.ndarray, cell_class: int = 1) -> tuple[float, float]:
    """ISBI 2012's ``(V_rand, V_info)`` of one mask (1: perfect; NaN without a true cell), over the pixels inside the
    true cells (4-connected regions of ``cell_class``): ``V_rand = 1 - adapted_rand_error``, ``V_info = 2 I(S;T) /
    (H(S) + H(T))``. Predicted borders are not thinned as the challenge does: comparable, not identical figures."""
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
    """What :func:`evaluate` measured: ``confusion_matrix`` ``(K, K)`` (rows truth), its ``scores``; ``per_image``
    ``mean_iou``, ``mean_dice``, ``pixel_accuracy`` ``(N,)``, ``iou``, ``dice`` ``(N, K)`` (NaN: absent from both),
    ``confusion_matrix`` ``(N, K, K)``; ``predictions``; :func:`region_scores`, ``per_image_regions``."""

    num_classes: int
    confusion_matrix: np.ndarray
    scores: dict
    per_image: dict
    predictions: list
    v_rand: float = math.nan
    v_info: float = math.nan
    per_image_regions: np.ndarray | None = None
    ignore_index: int | None = None

    def summary(self) -> dict[str, float]:
        """Flat figures for a table: mean IoU, mean Dice, pixel accuracy, IoU per class, V_rand, V_info."""
        row = {name: float(self.scores[name]) for name in ("mean_iou", "mean_dice", "pixel_accuracy")}
        row.update({f"iou_{k}": float(v) for k, v in enumerate(self.scores["iou"]) if k != self.ignore_index})
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
             batch_size: int = 8, regions: bool | None = None, cell_class: int = 1) -> Evaluation:
    """Score a model (or its masks, one per true mask) against true masks, dataset-wide and per image.
    Taught in ``notebooks/06_comparison.ipynb``.

    Args:
        data: ``(images, masks)`` (images ``None`` with masks given), a ``Split`` of ``segutils.data.load``, or a
            ``tf.data.Dataset`` of ``(image, mask)`` batches; masks ``(H, W)`` or ``(H, W, 1)`` class indices.
        ignore_index: a class whose true pixels are left out.
        threshold, batch_size: passed to :func:`predict_masks`.
        regions: also :func:`region_scores` of ``cell_class`` (default: with two classes, as membrane).
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
    per_image["confusion_matrix"] = np.array(matrices)
    total = np.sum(matrices, axis=0)
    result = Evaluation(num_classes, total, metrics.scores(total, ignore_index), per_image, predictions,
                        ignore_index=ignore_index)
    if regions if regions is not None else num_classes == 2:
        result.per_image_regions = np.array([region_scores(t, p, cell_class) for t, p in pairs])
        result.v_rand, result.v_info = (float(v) for v in np.nanmean(result.per_image_regions, axis=0))
    return result


def to_label_size(probabilities: np.ndarray, shape) -> np.ndarray:
    """Probabilities ``(h, w, C)`` resized bilinearly to ``shape`` ``(H, W)``: float32 ``(H, W, C)``."""
    probabilities = np.asarray(probabilities, np.float32)
    if probabilities.ndim != 3:
        raise ValueError(f"to_label_size takes one image's probabilities (h, w, C), got shape {probabilities.shape}")
    if probabilities.shape[:2] == tuple(shape[:2]):
        return probabilities
    return tf.image.resize(probabilities, tuple(shape[:2]), method="bilinear").numpy()


def masks_at_label_size(model, images, masks, size, threshold: float = 0.5, batch_size: int = 8) -> list:
    """uint8 class masks of ``images``, each of its label's shape ``(H, W)`` (only the ``masks``' shapes are read):
    each image resized to ``size`` (a side or ``(height, width)``) as in training, its probabilities resized back
    (:func:`to_label_size`) and classified by ``head_rule``. Taught in ``notebooks/06_comparison.ipynb``."""
    if len(images) != len(masks):
        raise ValueError(f"{len(images)} images and {len(masks)} masks: give one label per image")
    size = parse_size(size)
    resized = [np.asarray(resize_image(np.asarray(im)[..., None] if np.ndim(im) == 2 else im, size))
               .round().astype(np.uint8) for im in images]
    probabilities = predict_probabilities(model, resized, batch_size=batch_size)
    return [head_rule(to_label_size(p, np.shape(m)), threshold)
            for p, m in zip(probabilities, masks, strict=True)]
