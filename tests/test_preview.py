"""ShowPredictions redraws one prediction per epoch, read by the course's one head rule."""

import keras
import matplotlib
import numpy as np
import pytest

from segutils.training.callbacks import ShowPredictions

matplotlib.use("Agg")


def _tiny(classes=2):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, keras.layers.Conv2D(classes, 1, activation="softmax")(inputs))
    model.compile(keras.optimizers.Adam(0.1), "sparse_categorical_crossentropy")
    return model


def _data():
    x = np.random.default_rng(0).random((4, 8, 8, 1), dtype="float32")
    return x, (x > 0.5).astype("int32")


def test_it_draws_before_training_and_after_every_epoch_and_keeps_each_prediction():
    x, y = _data()
    model, figures = _tiny(), []
    titles = lambda fig: [ax.get_title() for ax in fig.axes]  # noqa: E731
    show = ShowPredictions(x[0], y[0], show=lambda fig: figures.append(titles(fig)))
    model.fit(x, y, epochs=3, batch_size=2, verbose=0, callbacks=[show])
    assert [t[2] for t in figures] == [f"predicted, epoch {e}" for e in (0, 1, 2, 3)]
    assert figures[0][:2] == ["image", "true mask"]
    assert sorted(show.predictions) == [0, 1, 2, 3]
    np.testing.assert_array_equal(show.predictions[3], model.predict(x[:1], verbose=0)[0].argmax(-1))
    assert show.predictions[3].shape == (8, 8)


def test_every_two_epochs_and_validation_scores_in_the_caption():
    x, y = _data()
    titles = []
    show = ShowPredictions(x[1], y[1][..., 0], every=2, show=lambda fig: titles.append(fig.axes[2].get_title()))
    history = _tiny().fit(x, y, validation_data=(x, y), epochs=4, batch_size=2, verbose=0, callbacks=[show])
    assert sorted(show.predictions) == [0, 2, 4]
    assert titles[0] == "predicted, epoch 0"  # before training there are no scores yet
    assert titles[2] == f"predicted, epoch 4\nval_loss {history.history['val_loss'][-1]:.3f}"


def test_in_a_notebook_each_figure_replaces_the_last(monkeypatch):
    import IPython.display

    calls = []
    monkeypatch.setattr(IPython.display, "clear_output", lambda wait=False: calls.append(("clear", wait)))
    monkeypatch.setattr(IPython.display, "display", lambda fig: calls.append(("display", type(fig).__name__)))
    x, y = _data()
    _tiny().fit(x, y, epochs=1, batch_size=4, verbose=0, callbacks=[ShowPredictions(x[0], y[0])])
    assert calls == [("clear", True), ("display", "Figure")] * 2


def test_a_batch_instead_of_one_image_and_a_zero_period_are_refused():
    x, y = _data()
    with pytest.raises(ValueError, match=r"got image \(4, 8, 8, 1\) and mask \(4, 8, 8, 1\); pass images\[0\]"):
        ShowPredictions(x, y)
    with pytest.raises(ValueError, match=r"^every must be a whole number >= 1, got 0 \(int\)$"):
        ShowPredictions(x[0], y[0], every=0)
