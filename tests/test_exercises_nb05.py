"""Exercise checks of notebook 05 accept the solution and reject wrong answers with a hint."""

import pytest

from segutils.course.exercises import nb05


def test_input_wait_share():
    assert nb05.check_input_wait(1 - 0.2 / 0.25) is None
    assert "left over" in nb05.check_input_wait(0.8)
    assert "between 0 and 1" in nb05.check_input_wait(20)
    assert "divide it by the real step" in nb05.check_input_wait(0.3)


def keras_stop_epoch(history, patience=2):
    """The epoch (from 1) after which Keras' own EarlyStopping stops on this history."""
    import keras

    stopper = keras.callbacks.EarlyStopping(monitor="val_mean_iou", mode="max", patience=patience)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.stop_training = False  # what fit sets before the first epoch
    stopper.set_model(model)
    stopper.on_train_begin()
    for epoch, value in enumerate(history):
        stopper.on_epoch_end(epoch, {"val_mean_iou": value})
        if stopper.model.stop_training:
            return epoch + 1
    return None


HISTORY = [0.50, 0.62, 0.61, 0.64, 0.66, 0.65, 0.63, 0.67]


@pytest.mark.parametrize("wrong, hint", [(4, "a new best resets"), (6, "a new best resets"), (8, "a new best resets"),
                                         (2, "a new best resets"), ("7", "whole number")])
def test_early_stop_epoch(wrong, hint):
    solution = keras_stop_epoch(HISTORY)
    assert solution == 7
    assert nb05.check_early_stop(solution) is None
    assert hint in nb05.check_early_stop(wrong)
    assert "7" not in nb05.check_early_stop(wrong)  # the hint does not give the answer away


def test_early_stop_hints_do_not_narrow_the_answer():
    assert len({nb05.check_early_stop(epoch) for epoch in (1, 2, 3, 4, 5, 6, 8, 9)}) == 1


def _momentum_run(momentum, x, y, x_val, y_val, num_classes):
    """Notebook 05's experiment: a small U-Net with this BatchNorm momentum; validation mean IoU."""
    import keras
    import numpy as np

    from segutils import training
    from segutils.metrics import confusion_matrix, scores
    from segutils.models import build_model

    keras.utils.set_random_seed(0)
    net = build_model("unet", x.shape[1:], num_classes, profile="ci", bn_momentum=momentum, filters=8, depth=2)
    net.compile(keras.optimizers.Adam(1e-3), loss=training.default_loss())
    net.fit(x, y[..., None], batch_size=4, epochs=20, verbose=0)
    predicted = np.argmax(net.predict(x_val, batch_size=4, verbose=0), axis=-1)
    return float(scores(confusion_matrix(y_val, predicted, num_classes))["mean_iou"])


def test_momentum_accepts_what_099_gives_and_rejects_the_unchanged_cell():
    import numpy as np

    from segutils.data import load
    from segutils.data.pipeline import resize_split

    def arrays(split):
        images, masks = resize_split(split, 64)
        return np.stack(images).astype("float32") / 255, np.stack(masks)

    train, val = load("shapes", "train", subset=8), load("shapes", "val", subset=8)  # the ci profile's
    (x, y), (x_val, y_val) = arrays(train), arrays(val)
    course = _momentum_run(0.9, x, y, x_val, y_val, train.info.num_classes)
    keras_default = _momentum_run(0.99, x, y, x_val, y_val, train.info.num_classes)
    assert keras_default <= course - nb05.MOMENTUM_DROP, (course, keras_default)
    assert nb05.check_momentum(keras_default, course=course) is None
    assert nb05.check_momentum(round(keras_default, 3), course=course) is None  # copied as printed
    assert "unchanged cell" in nb05.check_momentum(course, course=course)
    assert "unchanged cell" in nb05.check_momentum(round(course, 3), course=course)


@pytest.mark.parametrize(
    "wrong, hint",
    [(0.35, "unchanged cell"), (0.33, "Check that only TRY_MOMENTUM"), (0.5, "Check that only TRY_MOMENTUM"),
     (35, "between 0 and 1"), (None, "between 0 and 1")],
)
def test_momentum_hints(wrong, hint):
    assert hint in nb05.check_momentum(wrong, course=0.35)
    assert nb05.check_momentum(0.22, course=0.35) is None
