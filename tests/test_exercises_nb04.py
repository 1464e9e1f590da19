"""Exercise checks of notebook 04 accept the solution and reject wrong answers with a hint."""

import math

import numpy as np
import pytest

from segutils import losses, metrics
from segutils.course.exercises import nb04


def _digits(value):
    return f"{value:.3f}"[2:]  # e.g. "914" of 0.9136: no hint may carry them


def test_lowest_iou_is_the_minimum_over_every_split_of_the_errors():
    n, membrane = 10_000, 2_200  # 22 % membrane (class 0), accuracy 0.981: 190 pixels wrong
    wrong = round(n * (1 - nb04.ACCURACY))
    ious = []
    for missed in range(wrong + 1):  # missed membrane pixels; the rest are false alarms
        cm = np.array([[membrane - missed, missed], [wrong - missed, n - membrane - (wrong - missed)]])
        s = metrics.scores(cm)
        assert s["pixel_accuracy"] == pytest.approx(nb04.ACCURACY)
        ious.append(s["iou"][0])
    solution = min(ious)
    assert solution == ious[-1] == pytest.approx(1 - 190 / 2200)
    assert nb04.lowest_iou() == pytest.approx(solution)
    assert nb04.check_lowest_iou(solution) is None
    assert nb04.check_lowest_iou(round(solution, 3)) is None  # rounded by hand


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (0.981, "accuracy itself"),
        (0.22 / 0.239, "false alarm"),
        (0.0, "cannot hide all the membrane"),
        (0.5, "tp / (tp + fp + fn)"),
        (91.4, "between 0 and 1"),
        (True, "between 0 and 1"),
    ],
)
def test_lowest_iou_hints(wrong, hint):
    message = nb04.check_lowest_iou(wrong)
    assert hint in message
    assert _digits(nb04.lowest_iou()) not in message


def test_focal_halfway_solution_is_focal_loss():
    truth = np.zeros((1, 10, 10), "int32")
    truth[0, :2] = 1  # 20 % foreground
    value = float(losses.FocalLoss()(truth, np.full((1, 10, 10, 1), 0.5, "float32")))
    assert value == pytest.approx(nb04.focal_halfway(), rel=1e-5)
    assert value == pytest.approx(0.65 * 0.25 * math.log(2), rel=1e-5)
    assert nb04.check_focal_halfway(value) is None


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (math.log(2), "That is the cross-entropy"),
        (0.25 * math.log(2), "weigh each pixel by alpha"),
        (0.65 * math.log(2), "focal factor (1 - p)^gamma is missing"),
        (0.35 * 0.25 * math.log(2), "Swap the weights"),
        (0.65 * 0.25 * math.log10(2), "natural logarithm"),
        (0.65 * 0.25, "natural logarithm"),
        (0.3, "average over the pixels"),
        (-0.1, "non-negative"),
    ],
)
def test_focal_halfway_hints(wrong, hint):
    message = nb04.check_focal_halfway(wrong)
    assert hint in message
    assert _digits(nb04.focal_halfway()) not in message


def test_enet_weight_solution_is_enet_class_weights():
    mask = np.zeros((1, 100), "uint8")
    mask[0, :5] = 1  # class 1 covers 5 %
    solution = losses.enet_class_weights([mask], 2)[1]
    assert solution == pytest.approx(1 / math.log(1.07))
    assert nb04.check_enet_weight(solution) is None
    assert nb04.check_enet_weight(14.78) is None  # rounded by hand


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (20.0, "inverse frequency"),
        (1 / math.log(1.02), "never appears"),
        (1 / math.log10(1.07), "natural logarithm"),
        (1 / math.log(1.05), "is 1.02, not 1"),
        (10.0, "formula of enet_class_weights"),
        (0, "positive number"),
        ("14.8", "positive number"),
    ],
)
def test_enet_weight_hints(wrong, hint):
    message = nb04.check_enet_weight(wrong)
    assert hint in message
    assert "14.7" not in message and "14.8" not in message


def _batch(tp, fp, fn):
    """Truth and one-channel probabilities with these counts for class 1."""
    truth = np.array([1] * tp + [0] * fp + [1] * fn + [0] * 3)
    probs = np.array([0.9] * tp + [0.8] * fp + [0.1] * fn + [0.2] * 3, "float32")
    return truth[None, None], probs[None, None, :, None]


def test_streamed_iou_solution_is_class_iou_over_two_batches():
    metric = metrics.ClassIoU(1, 2)
    for counts in nb04.BATCHES:
        metric.update_state(*_batch(*counts))
    solution = float(metric.result())
    assert solution == pytest.approx(91 / 110, abs=1e-6)
    assert nb04.streamed_iou() == pytest.approx(solution)
    assert nb04.check_streamed_iou(solution) is None


@pytest.mark.parametrize(
    "wrong, hint",
    [(0.5, "mean of the two batches"), (0.9, "one batch's IoU"), (0.1, "one batch's IoU"),
     (0.7, "Add tp, fp and fn"), (1.5, "between 0 and 1")],
)
def test_streamed_iou_hints(wrong, hint):
    message = nb04.check_streamed_iou(wrong)
    assert hint in message
    assert _digits(nb04.streamed_iou()) not in message


def _train_tiny(loss, x, y, x_val, y_val, minority, epochs=20, seed=0):
    """Notebook 04's experiment: a three-layer network trained with ``loss``; the minority class's val IoU."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((None, None, x.shape[-1]))
    hidden = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    hidden = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(hidden)
    net = keras.Model(inputs, keras.layers.Conv2D(1, 1, activation="sigmoid")(hidden))
    net.compile(keras.optimizers.Adam(1e-2), loss=loss)
    net.fit(x, y[..., None], batch_size=8, epochs=epochs, verbose=0)
    predicted = (net.predict(x_val, verbose=0)[..., 0] > 0.5).astype("uint8")
    return float(metrics.scores(metrics.confusion_matrix(y_val, predicted, 2))["iou"][minority])


def test_focal_term_accepts_what_the_change_gives_and_rejects_the_unchanged_cell():
    from segutils.data import load
    from segutils.data.pipeline import resize_split

    def arrays(split):
        images, masks = resize_split(split, 64)
        return np.stack(images).astype("float32") / 255, (np.stack(masks) > 0).astype("uint8")

    x, y = arrays(load("shapes", "train", subset=32, size=64, seed=0))  # the ci profile's experiment
    x_val, y_val = arrays(load("shapes", "val", subset=32, size=64, seed=0))
    minority = int(np.bincount(y.ravel(), minlength=2).argmin())
    dice_alone = _train_tiny(losses.DiceLoss(), x, y, x_val, y_val, minority)
    with_focal = _train_tiny(losses.DiceLoss() + losses.FocalLoss(), x, y, x_val, y_val, minority)
    assert with_focal >= dice_alone + nb04.FOCAL_GAIN, (dice_alone, with_focal)
    assert nb04.check_focal_term(with_focal, dice_alone=dice_alone) is None
    assert nb04.check_focal_term(round(with_focal, 3), dice_alone=dice_alone) is None  # copied as printed
    assert "unchanged cell" in nb04.check_focal_term(dice_alone, dice_alone=dice_alone)
    assert "unchanged cell" in nb04.check_focal_term(round(dice_alone, 3), dice_alone=dice_alone)


@pytest.mark.parametrize(
    "wrong, hint",
    [(0.62, "unchanged cell"), (0.635, "only EXPERIMENT_LOSS changed"), (0.3, "only EXPERIMENT_LOSS changed"),
     (1.2, "between 0 and 1"), ("0.9", "between 0 and 1")],
)
def test_focal_term_hints(wrong, hint):
    assert hint in nb04.check_focal_term(wrong, dice_alone=0.62)
    assert nb04.check_focal_term(0.9, dice_alone=0.62) is None
    assert nb04.check_focal_term(0.66, dice_alone=0.62) is None  # the smallest gain measured (cpu): 0.038
