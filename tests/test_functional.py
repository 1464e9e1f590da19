"""The functional core keeps float32 sums accurate on full-size batches."""

import numpy as np
import pytest
import tensorflow as tf

from segutils import functional as F
from segutils.losses import DiceLoss


def _batch(shape, seed=0):
    rng = np.random.default_rng(seed)
    truth = (rng.random(shape) < 0.3).astype("float32")
    probs = np.clip(0.3 + 0.4 * truth + rng.uniform(-0.3, 0.3, shape), 0.0, 1.0).astype("float32")
    return truth, probs


def test_soft_counts_of_a_full_size_batch_match_float64():
    # a 4 x 512 x 512 batch, two classes: one float32 reduction over the 1M pixels at once was off
    # by ~1e-5 relative (TensorFlow sums a column reduction sequentially); axis by axis it is ~1e-7
    truth, probs = _batch((4, 512, 512, 2))
    tp, fp, fn = (np.asarray(c) for c in F.soft_counts(tf.constant(truth), tf.constant(probs)))
    t64, p64 = truth.astype(np.float64), probs.astype(np.float64)
    exact_tp = (t64 * p64).sum(axis=(0, 1, 2))
    np.testing.assert_allclose(tp, exact_tp, rtol=1e-6)
    np.testing.assert_allclose(fp, p64.sum(axis=(0, 1, 2)) - exact_tp, rtol=1e-6)
    np.testing.assert_allclose(fn, t64.sum(axis=(0, 1, 2)) - exact_tp, rtol=1e-6)


def test_dice_of_a_full_size_batch_agrees_with_float64_and_segmentation_models():
    from segutils.models.linknet import import_sm

    sm = import_sm()
    truth, probs = _batch((4, 512, 512, 1), seed=1)
    t64, p64 = truth.astype(np.float64), probs.astype(np.float64)
    tp = (t64 * p64).sum()
    exact = 1 - (2 * tp + F.SMOOTH) / (t64.sum() + p64.sum() + F.SMOOTH)
    ours = float(DiceLoss(classes=[1])(truth, probs))
    assert ours == pytest.approx(exact, abs=1e-6)
    assert ours == pytest.approx(float(sm.losses.DiceLoss()(truth, probs)), abs=1e-5)


def test_confusion_scores_by_hand_on_numpy_and_on_a_tensor_alike():
    cm = np.array([[3, 1, 1], [2, 4, 0], [0, 0, 0]])  # class 2: ignored, so no true pixel of it is counted
    for given in (cm, tf.constant(cm, tf.float32)):
        found = {k: np.asarray(v) for k, v in F.confusion_scores(given, ignore_index=2).items()}
        np.testing.assert_allclose(found["iou"][:2], [3 / 7, 4 / 7], rtol=1e-6)
        np.testing.assert_allclose(found["dice"][:2], [6 / 10, 8 / 11], rtol=1e-6)
        assert np.isnan(found["iou"][2]) and np.isnan(found["dice"][2])
        np.testing.assert_allclose(found["precision"], [3 / 5, 4 / 5, 0], rtol=1e-6)
        np.testing.assert_allclose(found["recall"][:2], [3 / 5, 4 / 6], rtol=1e-6)
        np.testing.assert_allclose(found["mean_iou"], 0.5, rtol=1e-6)
        np.testing.assert_allclose(found["pixel_accuracy"], 7 / 11, rtol=1e-6)
        assert found["present"].tolist() == [True, True, False]


def test_cross_entropy_and_focal_count_only_the_classes_asked_for():
    t = np.array([[[1, 0]]])
    p = np.array([[[[0.9], [0.2]]]], "float32")
    assert float(F.cross_entropy(t, p, classes=[1])) == pytest.approx(-np.log(0.9) / 2, rel=1e-5)
    assert float(F.focal(t, p, gamma=0.0, classes=[0])) == pytest.approx(-np.log(0.8) / 2, rel=1e-5)


def test_a_threshold_outside_0_1_is_refused_once_for_prediction_and_metrics():
    with pytest.raises(ValueError, match="^threshold must be strictly between 0 and 1, got 1.5$"):
        F.check_threshold(1.5)
