"""Metrics: confusion matrix and scores by hand, the accuracy trap, ignored pixels, streaming
Keras metrics against numpy and keras.metrics.MeanIoU, mixed precision, errors that name the fix."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from segutils import metrics as M


def test_confusion_matrix_and_scores_by_hand():
    truth = np.array([[1, 1, 0, 0]])
    pred = np.array([[0, 1, 1, 0]])
    cm = M.confusion_matrix(truth, pred, 2)
    np.testing.assert_array_equal(cm, [[1, 1], [1, 1]])
    s = M.scores(cm)
    np.testing.assert_allclose(s["iou"], [1 / 3, 1 / 3])
    np.testing.assert_allclose(s["dice"], [1 / 2, 1 / 2])
    np.testing.assert_allclose(s["precision"], [1 / 2, 1 / 2])
    np.testing.assert_allclose(s["recall"], [1 / 2, 1 / 2])
    assert s["pixel_accuracy"] == 0.5 and s["mean_iou"] == pytest.approx(1 / 3)


def test_majority_class_model_has_high_accuracy_and_low_iou():
    truth = np.zeros((10, 10), int)
    truth[:, :1] = 1  # 10 % foreground
    s = M.scores(M.confusion_matrix(truth, np.zeros_like(truth), 2))
    assert s["pixel_accuracy"] == pytest.approx(0.9)
    np.testing.assert_allclose(s["iou"], [0.9, 0.0])
    assert s["mean_iou"] == pytest.approx(0.45) and s["mean_dice"] == pytest.approx((2 * 0.9 / 1.9) / 2)
    assert np.isnan(s["precision"][1]) and s["recall"][1] == 0.0


def test_absent_class_is_nan_and_left_out_of_the_mean():
    truth = np.array([[0, 0, 1, 1]])
    s = M.scores(M.confusion_matrix(truth, truth, 3))
    assert np.isnan(s["iou"][2]) and s["mean_iou"] == 1.0


def test_ignored_truth_pixels_are_not_counted_whatever_is_predicted():
    truth = np.array([[1, 1, 0, 255]])
    for at_void in (0, 1):
        cm = M.confusion_matrix(truth, np.array([[1, 0, 0, at_void]]), 2, ignore_index=255)
        np.testing.assert_array_equal(cm, [[1, 0], [1, 1]])
    # an ignored class that is a model output: its row is dropped and it is not averaged
    cm = M.confusion_matrix(np.array([[0, 1, 2, 2]]), np.array([[0, 1, 1, 2]]), 3, ignore_index=2)
    s = M.scores(cm, ignore_index=2)
    np.testing.assert_array_equal(cm, [[1, 0, 0], [0, 1, 0], [0, 0, 0]])
    assert s["mean_iou"] == 1.0 and np.isnan(s["iou"][2]) and s["pixel_accuracy"] == 1.0


def streaming(metric, y_true, y_pred):
    metric.reset_state()
    metric.update_state(y_true, y_pred)
    return metric.result()


def test_streaming_metrics_equal_numpy_scores_over_batches():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, (4, 8, 8))
    probs = rng.random((4, 8, 8, 3)).astype("float32")
    expected = M.scores(M.confusion_matrix(truth, probs.argmax(-1), 3))
    mean_iou, iou_2 = M.MeanIoU(3), M.ClassIoU(2, 3)
    for i in range(4):  # four updates, one batch each
        for m in (mean_iou, iou_2):
            m.update_state(truth[i : i + 1], probs[i : i + 1])
    assert float(mean_iou.result()) == pytest.approx(expected["mean_iou"], abs=1e-6)
    assert float(iou_2.result()) == pytest.approx(expected["iou"][2], abs=1e-6)
    one_hot = np.eye(3, dtype="float32")[truth]
    assert float(streaming(M.MeanIoU(3), one_hot, probs)) == pytest.approx(expected["mean_iou"], abs=1e-6)


def test_agrees_with_keras_mean_iou_with_an_ignore_class():
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 3, (2, 16, 16))
    truth[:, :3] = 255
    pred = rng.integers(0, 3, (2, 16, 16))
    probs = np.eye(3, dtype="float32")[pred]
    theirs = keras.metrics.MeanIoU(num_classes=3, ignore_class=255)
    theirs.update_state(truth, pred)
    ours = streaming(M.MeanIoU(3, ignore_index=255), truth, probs)
    assert float(ours) == pytest.approx(float(theirs.result()), abs=1e-5)


def test_binary_threshold_and_logits():
    truth = np.array([[[1, 1, 0, 0]]])
    probs = np.array([[[[0.7], [0.4], [0.3], [0.1]]]], "float32")
    assert float(streaming(M.ClassIoU(1, 2), truth, probs)) == pytest.approx(1 / 2)
    assert float(streaming(M.ClassIoU(1, 2, threshold=0.25), truth, probs)) == pytest.approx(2 / 3)
    logits = np.log(probs / (1 - probs))
    assert float(streaming(M.ClassIoU(1, 2, threshold=0.25, from_logits=True), truth, logits)) == pytest.approx(2 / 3)


def test_metrics_under_mixed_float16_in_fit():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        inputs = keras.Input((8, 8, 1))
        x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
        out = keras.layers.Conv2D(1, 1, activation="sigmoid", dtype="float32")(x)
        model = keras.Model(inputs, out)
        from segutils.losses import DiceLoss

        model.compile("adam", loss=DiceLoss(), metrics=[M.MeanIoU(2), M.ClassIoU(0, 2)])
        x = np.random.default_rng(2).random((4, 8, 8, 1)).astype("float32")
        y = (x > 0.5).astype("int32")
        history = model.fit(x, y, epochs=1, verbose=0).history
        assert set(history) >= {"mean_iou", "iou_0"} and 0.0 <= history["mean_iou"][0] <= 1.0
        probs = model.predict(x, verbose=0)
        expected = M.scores(M.confusion_matrix(y[..., 0], probs[..., 0] > 0.5, 2))["mean_iou"]
        assert model.evaluate(x, y, verbose=0, return_dict=True)["mean_iou"] == pytest.approx(expected, abs=1e-5)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_metric_config_round_trip():
    metric = M.ClassIoU(1, 3, ignore_index=255, threshold=0.3)
    again = M.ClassIoU.from_config(metric.get_config())
    assert (again.name, again.class_id, again.ignore_index, again.threshold) == ("iou_1", 1, 255, 0.3)


def test_bad_input_names_the_fix():
    with pytest.raises(ValueError, match=r"shapes \(2, 2\) \(truth\) and \(3, 3\)"):
        M.confusion_matrix(np.zeros((2, 2)), np.zeros((3, 3)), 2)
    with pytest.raises(ValueError, match="target values 0..255 are not classes 0..1.*0/255 masks to 0/1"):
        M.confusion_matrix(np.array([0, 255]), np.array([0, 1]), 2)
    with pytest.raises(ValueError, match="holds fractions: give class masks"):
        M.confusion_matrix(np.array([0, 1]), np.array([0.2, 0.9]), 2)
    with pytest.raises(ValueError, match="ignore_index=-1 cannot be a mask value"):
        M.MeanIoU(2, ignore_index=-1)
    with pytest.raises(ValueError, match=r"num_classes must be a whole number >= 2, got None \(NoneType\): "
                       r"give the number of classes"):
        M.MeanIoU(None)
    with pytest.raises(ValueError, match="class_id=2 is not a scored class of 0..1"):
        M.ClassIoU(2, 2)


def test_class_iou_agrees_with_segmentation_models_iou_score_on_one_batch():
    import segmentation_models as sm

    rng = np.random.default_rng(3)
    truth = rng.integers(0, 2, (2, 16, 16, 1)).astype("float32")
    probs = rng.random((2, 16, 16, 1)).astype("float32")
    theirs = float(sm.metrics.IOUScore(threshold=0.5)(truth, probs))
    assert float(streaming(M.ClassIoU(1, 2), truth, probs)) == pytest.approx(theirs, abs=1e-5)


def test_sample_weight_is_honoured_per_image_and_per_pixel():
    truth = np.array([[[1, 1], [0, 0]], [[1, 0], [0, 0]]])
    probs = np.array([[[0.9, 0.9], [0.1, 0.1]], [[0.1, 0.9], [0.9, 0.9]]], "float32")[..., None]
    # image 0 alone is perfect (IoU 1 for both classes); image 1 gets every pixel wrong
    metric = M.MeanIoU(2)
    metric.update_state(truth, probs, sample_weight=np.array([1.0, 0.0]))
    assert float(metric.result()) == 1.0
    metric.reset_state()
    metric.update_state(truth, probs)
    assert float(metric.result()) == pytest.approx(1 / 3)  # class 0: 2 / (2 + 1 + 3), class 1: 2 / (2 + 3 + 1)
    # per pixel: only the two top-right pixels count, each weighted 3: class 1 tp 3 (image 0), fp 3 (image 1)
    pixel = np.zeros((2, 2, 2), "float32")
    pixel[:, 0, 1] = 3.0
    iou_1 = M.ClassIoU(1, 2)
    iou_1.update_state(truth, probs, sample_weight=pixel[..., None])
    assert float(iou_1.result()) == pytest.approx(3 / 6)
    with pytest.raises(ValueError, match=r"sample_weight of shape \(2, 2\): give one weight per image \(B,\)"):
        iou_1.update_state(truth, probs, sample_weight=np.ones((2, 2)))


def test_mean_iou_of_mismatched_sides_or_batches_is_our_error_not_keras_shape_error():
    probs = np.full((2, 8, 8, 1), 0.9, "float32")
    with pytest.raises(ValueError, match=r"target shape \(2, 4, 8, 1\) does not match prediction shape "
                                         r"\(2, 8, 8, 1\): give masks of the prediction's batch size, height"):
        M.MeanIoU(2).update_state(np.zeros((2, 4, 8), "int32"), probs)
    with pytest.raises(ValueError, match=r"target shape \(1, 8, 8, 1\) does not match prediction shape"):
        M.MeanIoU(2).update_state(np.zeros((1, 8, 8), "int32"), probs)
    with pytest.raises(ValueError, match=r"mean_iou: predictions with 3 channels are scored as 3 classes, but "
                                         r"num_classes=2"):
        M.MeanIoU(2).update_state(np.zeros((2, 8, 8), "int32"), np.full((2, 8, 8, 3), 0.3, "float32"))


def test_mean_iou_of_nan_predictions_is_refused_not_a_plausible_number():
    probs = np.full((1, 4, 4, 1), np.nan, "float32")
    with pytest.raises(tf.errors.InvalidArgumentError, match="the predictions hold NaN: the model diverged"):
        M.MeanIoU(2).update_state(np.zeros((1, 4, 4), "int32"), probs)
