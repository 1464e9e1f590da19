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


@pytest.mark.parametrize("wrong, hint", [(4, "Too early"), (6, "Too early"), (8, "Too late"),
                                         (2, "patience=2 stops"), ("7", "whole number")])
def test_early_stop_epoch(wrong, hint):
    solution = keras_stop_epoch(HISTORY)
    assert solution == 7
    assert nb05.check_early_stop(solution) is None
    assert hint in nb05.check_early_stop(wrong)
    assert "7" not in nb05.check_early_stop(wrong)  # the hint does not give the answer away
