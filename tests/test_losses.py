"""Losses: hand-computed values, ignored pixels, agreement with Keras and segmentation_models,
arithmetic, serialisation, finite gradients, and errors that name the fix."""

import math
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from segutils import losses as L

# four pixels, class indices; foreground probabilities of a one-channel sigmoid
TRUTH = np.array([[[0, 1], [1, 1]]])
PROBS = np.array([[[[0.1], [0.9]], [[0.2], [0.8]]]], dtype="float32")


def value(loss, y_true, y_pred):
    return float(loss(y_true, y_pred))


def test_dice_of_half_overlap_by_hand():
    # foreground truth [1, 0], prediction 0.5 everywhere: tp 0.5, fp 0.5, fn 0.5 -> Dice 1/2
    t = np.array([[[1, 0]]])
    p = np.full((1, 1, 2, 1), 0.5, "float32")
    assert value(L.DiceLoss(classes=[1]), t, p) == pytest.approx(0.5, abs=1e-5)
    # hard masks: truth [1, 1, 0, 0], prediction [0, 1, 1, 0]: IoU 1/3, Dice 1/2 for both classes
    t = np.array([[[1, 1, 0, 0]]])
    p = np.array([[[[0.0], [1.0], [1.0], [0.0]]]], "float32")
    assert value(L.JaccardLoss(), t, p) == pytest.approx(1 - 1 / 3, abs=1e-5)
    assert value(L.DiceLoss(), t, p) == pytest.approx(1 - 1 / 2, abs=1e-5)


def test_tversky_by_hand_and_its_special_cases():
    t = np.array([[[1, 1, 0, 0, 0]]])
    p = np.array([[[[1.0], [0.0], [1.0], [1.0], [0.0]]]], "float32")  # tp 1, fp 2, fn 1 for class 1
    assert value(L.TverskyLoss(0.3, 0.7, classes=[1]), t, p) == pytest.approx(1 - 1 / 2.3, abs=1e-5)
    rng = np.random.default_rng(0)
    t, p = rng.integers(0, 2, (2, 8, 8)), rng.random((2, 8, 8, 1)).astype("float32")
    assert value(L.TverskyLoss(0.5, 0.5), t, p) == pytest.approx(value(L.DiceLoss(), t, p), abs=1e-6)
    assert value(L.TverskyLoss(1.0, 1.0), t, p) == pytest.approx(value(L.JaccardLoss(), t, p), abs=1e-6)


def test_focal_and_cross_entropy_by_hand():
    t = np.array([[[1, 0]]])
    p = np.array([[[[0.9], [0.2]]]], "float32")
    focal = (0.25 * 0.1**2 * -math.log(0.9) + 0.75 * 0.2**2 * -math.log(0.8)) / 2
    assert value(L.FocalLoss(gamma=2, alpha=0.25), t, p) == pytest.approx(focal, rel=1e-5)
    weighted = (1.0 * -math.log(0.9) + 2.0 * -math.log(0.8)) / 2
    assert value(L.CrossEntropy(class_weights=[2.0, 1.0]), t, p) == pytest.approx(weighted, rel=1e-5)


def test_enet_class_weights_from_pixel_shares():
    masks = [np.array([[0, 1, 1, 1]])]  # shares 0.25 and 0.75
    assert L.enet_class_weights(masks, 2) == pytest.approx([1 / math.log(1.27), 1 / math.log(1.77)])
    assert L.enet_class_weights([np.array([[0, 0, 0, 0]])], 2)[1] == pytest.approx(1 / math.log(1.02))
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'num_classes'"):
        L.enet_class_weights(masks)
    with pytest.raises(ValueError, match=r"^mask values 0\.\.255 are not classes 0\.\.1 .*0/255 masks to 0/1"):
        L.enet_class_weights([np.array([[0, 255]])], 2)
    assert L.enet_class_weights([np.array([[0, 1, 1, 1, 11]])], 2, ignore_index=11) == pytest.approx(
        [1 / math.log(1.27), 1 / math.log(1.77)])  # the ignored pixel counts in no share


@pytest.mark.parametrize("make", [L.DiceLoss, L.JaccardLoss, L.TverskyLoss, L.FocalLoss, L.CrossEntropy])
def test_ignored_pixels_change_nothing_in_target_or_prediction(make):
    rng = np.random.default_rng(1)
    t = rng.integers(0, 3, (1, 6, 6))
    p = rng.random((1, 6, 6, 3)).astype("float32")
    p /= p.sum(-1, keepdims=True)
    t_void = t.copy()
    t_void[0, :2] = 255  # two rows unlabelled
    base = value(make(ignore_index=255), t_void, p)
    p2 = p.copy()
    p2[0, :2] = [1.0, 0.0, 0.0]  # any prediction at ignored pixels
    assert value(make(ignore_index=255), t_void, p2) == pytest.approx(base, abs=1e-6)
    # equal to the same loss on the labelled rows only
    assert value(make(), t[:, 2:], p[:, 2:]) == pytest.approx(base, abs=1e-6)


def test_an_ignored_class_that_is_a_model_output_is_left_out():
    rng = np.random.default_rng(2)
    t = rng.integers(0, 3, (1, 6, 6))
    p = rng.random((1, 6, 6, 3)).astype("float32")
    p /= p.sum(-1, keepdims=True)
    one_hot = np.eye(3)[t]
    a = value(L.DiceLoss(ignore_index=2), t, p)
    assert value(L.DiceLoss(ignore_index=2), one_hot, p) == pytest.approx(a, abs=1e-6)
    p2 = p.copy()
    p2[t == 2] = [0.0, 1.0, 0.0]
    assert value(L.DiceLoss(ignore_index=2), t, p2) == pytest.approx(a, abs=1e-6)


def test_agrees_with_keras_and_segmentation_models():
    import segmentation_models as sm

    rng = np.random.default_rng(3)
    t = rng.integers(0, 2, (2, 16, 16, 1)).astype("float32")
    p = rng.random((2, 16, 16, 1)).astype("float32")
    assert value(L.DiceLoss(classes=[1]), t, p) == pytest.approx(float(keras.losses.Dice()(t, p)), abs=1e-5)
    assert value(L.CrossEntropy(), t, p) == pytest.approx(float(keras.losses.BinaryCrossentropy()(t, p)), abs=1e-5)
    assert value(L.DiceLoss(classes=[1]), t, p) == pytest.approx(float(sm.losses.DiceLoss()(t, p)), abs=1e-5)
    assert value(L.JaccardLoss(classes=[1]), t, p) == pytest.approx(float(sm.losses.JaccardLoss()(t, p)), abs=1e-5)
    assert value(L.FocalLoss(), t, p) == pytest.approx(float(sm.losses.BinaryFocalLoss()(t, p)), abs=1e-5)
    ours = L.DiceLoss(classes=[1]) + L.FocalLoss()
    theirs = sm.losses.DiceLoss() + sm.losses.BinaryFocalLoss()
    assert value(ours, t, p) == pytest.approx(float(theirs(t, p)), abs=1e-5)
    # categorical: sm's focal also averages over the C channels
    t3 = np.eye(3, dtype="float32")[rng.integers(0, 3, (2, 8, 8))]
    p3 = rng.random((2, 8, 8, 3)).astype("float32")
    p3 /= p3.sum(-1, keepdims=True)
    assert value(L.FocalLoss(), t3, p3) / 3 == pytest.approx(float(sm.losses.CategoricalFocalLoss()(t3, p3)), abs=1e-5)
    assert value(L.DiceLoss(), t3, p3) == pytest.approx(float(sm.losses.DiceLoss()(t3, p3)), abs=1e-5)
    cce = keras.losses.CategoricalCrossentropy()(t3, p3)
    assert value(L.CrossEntropy(), t3, p3) == pytest.approx(float(cce), abs=1e-5)


def test_logits_give_the_same_values_as_probabilities():
    rng = np.random.default_rng(4)
    t = rng.integers(0, 2, (1, 8, 8))
    z = rng.normal(size=(1, 8, 8, 1)).astype("float32")
    p = 1 / (1 + np.exp(-z))
    for make in (L.DiceLoss, L.FocalLoss, L.CrossEntropy):
        assert value(make(from_logits=True), t, z) == pytest.approx(value(make(), t, p), abs=1e-5)
    z3 = rng.normal(size=(1, 8, 8, 3)).astype("float32")
    p3 = np.exp(z3) / np.exp(z3).sum(-1, keepdims=True)
    t3 = rng.integers(0, 3, (1, 8, 8))
    assert value(L.CrossEntropy(from_logits=True), t3, z3) == pytest.approx(value(L.CrossEntropy(), t3, p3), abs=1e-5)


def test_losses_add_and_scale_with_names():
    combined = L.DiceLoss() + L.FocalLoss()
    assert combined.name == "dice_plus_focal"
    assert value(combined, TRUTH, PROBS) == pytest.approx(
        value(L.DiceLoss(), TRUTH, PROBS) + value(L.FocalLoss(), TRUTH, PROBS), abs=1e-6
    )
    mixed = 0.5 * L.DiceLoss() + L.CrossEntropy()
    assert mixed.name == "0.5_dice_plus_cross_entropy"
    assert value(mixed, TRUTH, PROBS) == pytest.approx(
        0.5 * value(L.DiceLoss(), TRUTH, PROBS) + value(L.CrossEntropy(), TRUTH, PROBS), abs=1e-6
    )
    assert sum([L.DiceLoss(), L.JaccardLoss()]).name == "dice_plus_jaccard"
    with pytest.raises(TypeError, match="multiplied by a number"):
        L.DiceLoss() * "2"


def test_config_round_trip_keeps_value():
    loss = 0.5 * L.DiceLoss(beta=2.0, ignore_index=255) + L.FocalLoss(gamma=1.5, alpha=[0.3, 0.7])
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert again.name == loss.name
    assert value(again, TRUTH, PROBS) == pytest.approx(value(loss, TRUTH, PROBS), abs=1e-7)


@pytest.mark.parametrize(("loss", "settings"), [
    (L.DiceLoss(beta=2.0, smooth=0.5, classes=[1]), {"beta": 2.0, "smooth": 0.5, "classes": [1]}),
    (L.JaccardLoss(smooth=0.25, from_logits=True), {"smooth": 0.25, "from_logits": True}),
    (L.TverskyLoss(alpha=0.2, beta=0.8, ignore_index=255), {"alpha": 0.2, "beta": 0.8, "ignore_index": 255}),
    (L.CrossEntropy(class_weights=[1, 3]), {"class_weights": [1.0, 3.0]}),
    (L.FocalLoss(gamma=1.5, alpha=0.4), {"gamma": 1.5, "alpha": 0.4}),
])
def test_every_loss_saves_its_own_settings(loss, settings):
    config = keras.losses.serialize(loss)["config"]
    assert {key: config[key] for key in settings} == settings
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(again) is type(loss) and again.get_config() == loss.get_config()
    logits = np.log(PROBS / (1 - PROBS))
    pred = logits if loss.from_logits else PROBS
    assert value(again, TRUTH, pred) == pytest.approx(value(loss, TRUTH, pred), abs=1e-7)


@pytest.mark.parametrize("policy", ["float32", "mixed_float16"])
@pytest.mark.parametrize("logits", [False, True])
def test_finite_values_and_gradients_on_empty_masks_and_saturated_predictions(policy, logits):
    parts = [L.DiceLoss, L.FocalLoss, L.JaccardLoss, L.TverskyLoss]
    loss = sum([make(from_logits=logits) for make in parts]) + L.CrossEntropy(class_weights=[1, 3], from_logits=logits)
    dtype = "float16" if policy == "mixed_float16" else "float32"
    empty = np.zeros((1, 4, 4), "int32")
    full = np.ones((1, 4, 4), "int32")
    edges = [-60.0, 60.0] if logits else [0.0, 1.0]
    for truth in (empty, full):
        for edge in edges:
            pred = tf.Variable(tf.fill((1, 4, 4, 1), tf.constant(edge, dtype)))
            # unclipped, an empty class predicted exactly 0 has gradient 1 / (2 * SMOOTH) = 5e4 per pixel in
            # Dice and Jaccard: each fits in float16 (max 65504), their sum does not, so float16 checks one at a time
            for part in [loss] if dtype == "float32" else loss.losses:
                with tf.GradientTape() as tape:
                    result = part(truth, pred)
                grad = tape.gradient(result, pred)
                assert np.isfinite(float(result)) and np.all(np.isfinite(grad.numpy().astype("float32"))), part.name


def test_perfect_prediction_scores_zero_and_inverted_scores_high():
    t = np.array([[[0, 1], [1, 0]]])
    perfect = t[..., None].astype("float32")
    assert value(L.DiceLoss(), t, perfect) == pytest.approx(0.0, abs=1e-5)
    assert value(L.DiceLoss(), t, 1 - perfect) == pytest.approx(1.0, abs=1e-5)


def test_bad_input_names_the_fix():
    with pytest.raises(ValueError, match="does not match prediction shape"):
        L.DiceLoss()(np.zeros((1, 4, 4)), np.zeros((1, 8, 8, 1), "float32"))
    with pytest.raises(tf.errors.InvalidArgumentError, match="0/255 masks to 0/1"):
        L.DiceLoss()(np.array([[[0, 255]]]), np.zeros((1, 1, 2, 1), "float32"))
    with pytest.raises(ValueError, match="ignore_index=-1 cannot be a mask value"):
        L.DiceLoss(ignore_index=-1)
    with pytest.raises(ValueError, match="class_weights has 3 values for 2 classes"):
        L.CrossEntropy(class_weights=[1, 2, 3])(TRUTH, PROBS)
    with pytest.raises(ValueError, match="target has 2 channels and the prediction 3"):
        L.DiceLoss()(np.zeros((1, 2, 2, 2)), np.zeros((1, 2, 2, 3), "float32"))


def test_compiled_model_saves_and_loads_without_and_with_segutils(tmp_path):
    from segutils.metrics import ClassIoU, MeanIoU

    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid")(inputs))
    model.compile("adam", loss=L.DiceLoss() + L.FocalLoss(), metrics=[MeanIoU(2), ClassIoU(1, 2)])
    x = np.random.default_rng(5).random((4, 8, 8, 1)).astype("float32")
    y = (x > 0.5).astype("int32")
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    code = (
        "import sys, keras, numpy as np\n"
        f"m = keras.saving.load_model({str(path)!r}, compile=False)\n"
        "assert 'segutils' not in sys.modules\n"
        "print(m.predict(np.zeros((1, 8, 8, 1), 'float32'), verbose=0).shape)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "(1, 8, 8, 1)" in done.stdout
    again = keras.saving.load_model(path)
    assert again.loss.name == "dice_plus_focal"
    assert again.evaluate(x, y, verbose=0, return_dict=True)["loss"] == pytest.approx(
        model.evaluate(x, y, verbose=0, return_dict=True)["loss"], abs=1e-6
    )


GT0 = np.zeros((3, 3), "float32")  # segmentation_models' tests/test_metrics.py hand cases
GT1 = np.array([[1, 1, 0], [1, 1, 0], [0, 0, 0]], "float32")
PR1 = np.array([[0, 0, 0], [1, 1, 0], [0, 0, 0]], "float32")
PR2 = np.array([[0, 0, 0], [1, 1, 0], [1, 1, 0]], "float32")
PR3 = np.array([[0, 0, 0], [0, 0, 0], [1, 0, 0]], "float32")
SM_CASES = [  # (truth, prediction, IoU, F1, F2) of segmentation_models' IOU_CASES, F1_CASES, F2_CASES
    (GT0, GT0, 1.0, 1.0, 1.0), (GT1, GT1, 1.0, 1.0, 1.0), (GT0, PR1, 0.0, 0.0, 0.0), (GT0, PR2, 0.0, 0.0, 0.0),
    (GT0, PR3, 0.0, 0.0, 0.0), (GT1, PR1, 0.5, 2 / 3, 5 / 9), (GT1, PR2, 1 / 3, 0.5, 0.5), (GT1, PR3, 0.0, 0.0, 0.0),
]


@pytest.mark.parametrize(("truth", "pred", "iou", "f1", "f2"), SM_CASES)
def test_overlap_losses_do_not_clip_segmentation_models_hand_cases(truth, pred, iou, f1, f2):
    t, p = truth[None, ..., None], pred[None, ..., None]
    assert 1 - value(L.JaccardLoss(classes=[1], smooth=1e-11), t, p) == pytest.approx(iou, abs=1e-6)
    assert 1 - value(L.DiceLoss(classes=[1], smooth=1e-11), t, p) == pytest.approx(f1, abs=1e-6)
    assert 1 - value(L.DiceLoss(beta=2.0, classes=[1], smooth=1e-11), t, p) == pytest.approx(f2, abs=1e-6)


def test_a_class_absent_from_target_and_prediction_scores_iou_1_not_0_024():
    zeros = np.zeros((1, 64, 64, 1), "float32")
    assert 1 - value(L.JaccardLoss(classes=[1]), zeros, zeros) == 1.0


def _both_modes(loss, y_true, y_pred):
    """The loss in eager mode and under tf.function with unknown shapes (the checks then run in the graph)."""
    spec = [tf.TensorSpec([None] * np.ndim(y_true), tf.float32), tf.TensorSpec([None, None, None, 1], tf.float32)]
    graph = tf.function(lambda t, p: loss(t, p), input_signature=spec)
    return [lambda: loss(y_true, y_pred), lambda: graph(tf.constant(y_true, tf.float32), tf.constant(y_pred))]


LOSSES = [L.CrossEntropy, L.DiceLoss, L.JaccardLoss, L.FocalLoss, L.TverskyLoss]


@pytest.mark.parametrize("make", LOSSES)
def test_a_target_batch_of_1_is_not_broadcast_against_predictions_of_2(make):
    pred = np.full((2, 4, 4, 1), 0.5, "float32")
    eager, graph = _both_modes(make(), np.zeros((1, 4, 4), "float32"), pred)
    message = r"^target shape \(1, 4, 4, 1\) does not match prediction shape \(2, 4, 4, 1\)"
    with pytest.raises(ValueError, match=message):
        eager()
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"target shape \(None, None, None, 1\) does not match"):
        graph()


@pytest.mark.parametrize("make", LOSSES)
def test_a_target_of_minus_1_without_ignore_index_is_refused_not_dropped(make):
    target = np.zeros((1, 4, 4), "float32")
    target[0, 0, 0] = -1
    message = r"target values must be class indices 0..1 \(num_classes=2\) or the ignore_index \(None\)"
    for mode in _both_modes(make(), target, np.full((1, 4, 4, 1), 0.5, "float32")):
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            mode()
    target[0, 0, 0] = 2
    for mode in _both_modes(make(), target, np.full((1, 4, 4, 1), 0.5, "float32")):
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            mode()
    target[0, 0, 0] = 255
    assert np.isfinite(value(make(ignore_index=255), target, np.full((1, 4, 4, 1), 0.5, "float32")))


@pytest.mark.parametrize("make", LOSSES)
def test_nan_predictions_are_refused_not_scored(make):
    pred = np.full((1, 4, 4, 1), 0.5, "float32")
    pred[0, 1, 1] = np.nan
    for mode in _both_modes(make(), np.zeros((1, 4, 4), "float32"), pred):
        with pytest.raises(tf.errors.InvalidArgumentError, match="the predictions hold NaN: the model diverged"):
            mode()
