"""The explorer: its pure functions on hand-made probabilities, and the ipywidgets wiring without a browser."""

import keras
import matplotlib
import numpy as np
import pytest
from keras import layers

matplotlib.use("Agg")

from segutils import widgets  # noqa: E402
from segutils.compare_plots import ERROR_COLOURS  # noqa: E402
from segutils.plotting import PALETTE  # noqa: E402


def _head(activation, channels, scale=4.0):
    """z = scale * (x - 0.5) in the last channel (0 in the others)."""
    inputs = keras.Input((None, None, 1))
    z = layers.Conv2D(channels, 1, name="head")(inputs)
    model = keras.Model(inputs, layers.Activation(activation, name="output")(z))
    kernel, bias = np.zeros((1, 1, 1, channels), np.float32), np.zeros(channels, np.float32)
    kernel[..., -1], bias[-1] = scale, -scale / 2
    model.get_layer("head").set_weights([kernel, bias])
    return model


class Counting:
    """A model that counts its forward passes."""

    def __init__(self, model):
        self.model, self.calls = model, 0
        self.input_shape, self.layers, self.get_layer, self.predict = (
            model.input_shape, model.layers, model.get_layer, model.predict)

    def __call__(self, batch, training=False):
        self.calls += 1
        return self.model(batch, training=training)


RAMP = np.tile(np.arange(0, 256, 32, dtype=np.uint8), (4, 1))  # 4 x 8: x = 0, 32/255, ..., 224/255 per column
TRUTH = (RAMP > 127).astype(np.uint8)  # columns 4..7 are class 1


def _data(**models):
    images = [RAMP, 255 - RAMP]
    masks = [TRUTH, 1 - TRUTH]
    return widgets.explorer_data(models, images, masks, 2, class_names=["membrane", "cell"])


def test_arrays_follow_threshold_model_and_index():
    data = _data(sharp=_head("sigmoid", 1, 40.0), soft=_head("linear", 1, 4.0))
    base = widgets.explorer_arrays(data, 0, "sharp", 0.5)
    np.testing.assert_array_equal(base["mask"], TRUTH)
    assert base["iou"] == 1.0 and base["title"] == "image 0, sharp (p > 0.50): mean IoU 1.000"
    # soft: p = sigmoid(4 (x - 0.5)) > 0.3  <=>  x > 0.5 + logit(0.3) / 4 = 0.288: columns 3..7 (x = 96/255 = 0.376)
    low = widgets.explorer_arrays(data, 0, "soft", 0.3)
    np.testing.assert_array_equal(low["mask"][0], [0, 0, 0, 1, 1, 1, 1, 1])
    # one false-positive column of 8: IoU class 1 = 16/20, class 0 = 12/16
    assert low["iou"] == pytest.approx((16 / 20 + 12 / 16) / 2)
    # p > 0.8  <=>  x > 0.5 + logit(0.8) / 4 = 0.847: column 7 only (x = 224/255 = 0.878; 192/255 = 0.753)
    np.testing.assert_array_equal(widgets.explorer_arrays(data, 0, "soft", 0.8)["mask"][0], [0, 0, 0, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(widgets.explorer_arrays(data, 1, "sharp", 0.5)["mask"], 1 - TRUTH)
    np.testing.assert_allclose(low["probability"][0, 3], 1 / (1 + np.exp(-4 * (96 / 255 - 0.5))), rtol=1e-5)


def test_errors_and_opacity_colour_the_prediction_panel():
    data = _data(soft=_head("sigmoid", 1, 4.0))
    plain = widgets.explorer_arrays(data, 0, "soft", 0.3, opacity=1.0)
    np.testing.assert_allclose(plain["prediction"][0, 3], PALETTE[1] / 255)  # class 1, fully opaque
    np.testing.assert_allclose(plain["prediction"][0, 0], 0.0)  # class 0 stays the (black) image
    errors = widgets.explorer_arrays(data, 0, "soft", 0.3, opacity=1.0, show_errors=True)
    np.testing.assert_array_equal(errors["errors"][0], [0, 0, 0, 1, 0, 0, 0, 0])
    np.testing.assert_allclose(errors["prediction"][0, 3], ERROR_COLOURS[1])  # false positive in red
    np.testing.assert_allclose(errors["prediction"][0, 5], 160 / 255)  # right pixels show the image
    missed = widgets.explorer_arrays(data, 0, "soft", 0.8, opacity=0.5, show_errors=True)
    np.testing.assert_allclose(missed["prediction"][0, 4], 0.5 * 128 / 255 + 0.5 * ERROR_COLOURS[2], rtol=1e-6)


def test_bad_states_say_what_is_allowed():
    data = _data(unet=_head("sigmoid", 1))
    with pytest.raises(ValueError, match=r"unknown model 'linknet': choose one of \['unet'\]"):
        widgets.explorer_arrays(data, 0, "linknet")
    with pytest.raises(ValueError, match=r"index 2 is outside the test set: 0..1"):
        widgets.explorer_arrays(data, 2)
    with pytest.raises(ValueError, match=r"^threshold must be strictly between 0 and 1, got 1.0$"):
        widgets.explorer_arrays(data, 0, threshold=1.0)
    with pytest.raises(ValueError, match=r"^opacity must be in \[0, 1\], got 1.5$"):
        widgets.explorer_arrays(data, 0, opacity=1.5)


def test_render_draws_the_arrays_into_one_figure():
    data = _data(unet=_head("sigmoid", 1))
    arrays = widgets.explorer_arrays(data, 0, "unet", 0.5, show_errors=True)
    fig = widgets.render(arrays, data=data)
    again = widgets.render(widgets.explorer_arrays(data, 1, "unet"), data, fig)
    assert again is fig and len(fig.axes) == 4  # three panels and the colour bar, not eight
    truth, prediction, probability = (np.asarray(ax.images[0].get_array()) for ax in fig.axes[:3])
    np.testing.assert_allclose(probability, data.probabilities["unet"][1][..., 0])
    assert fig.axes[1].get_title() == "prediction"


def test_probabilities_are_computed_once_per_model():
    model = Counting(_head("sigmoid", 1, 4.0))
    data = _data(unet=model)
    assert model.calls == 1  # two same-size images, one batch
    explorer = widgets.Explorer(data)
    explorer.update(threshold=0.3)
    explorer.update(index=1, opacity=0.2)
    assert model.calls == 1


def test_explorer_redraws_when_index_model_or_threshold_changes():
    data = _data(sharp=_head("sigmoid", 1, 40.0), soft=_head("sigmoid", 1, 4.0))
    explorer = widgets.Explorer(data)
    assert explorer.state == dict(index=0, model="sharp", threshold=0.5, opacity=0.45, show_errors=False)
    png, mask = bytes(explorer.image.value), explorer.arrays["mask"]
    assert png.startswith(b"\x89PNG")
    explorer.controls["index"].value = 1  # as the slider in a browser does
    np.testing.assert_array_equal(explorer.arrays["mask"], 1 - TRUTH)
    assert bytes(explorer.image.value) != png
    png = bytes(explorer.image.value)
    explorer.update(index=0, model="soft", threshold=0.3)
    np.testing.assert_array_equal(explorer.arrays["mask"][0], [0, 0, 0, 1, 1, 1, 1, 1])
    assert bytes(explorer.image.value) != png and explorer.arrays["title"].startswith("image 0, soft (p > 0.30)")
    explorer.update(threshold=0.8)
    np.testing.assert_array_equal(explorer.arrays["mask"][0], [0, 0, 0, 0, 0, 0, 0, 1])
    assert not np.array_equal(explorer.arrays["mask"], mask)
    with pytest.raises(ValueError, match=r"unknown control\(s\) \['alpha'\]"):
        explorer.update(alpha=0.3)


def test_softmax_models_use_argmax_and_disable_the_threshold():
    data = _data(unet=_head("softmax", 2, 40.0))
    explorer = widgets.Explorer(data)
    assert explorer.controls["threshold"].disabled and not data.binary
    np.testing.assert_array_equal(explorer.arrays["mask"], TRUTH)
    assert explorer.arrays["title"] == "image 0, unet (argmax): mean IoU 1.000"


def test_ipywidgets_is_imported_only_in_widgets():
    from pathlib import Path

    import segutils

    package = Path(segutils.__file__).parent
    importers = sorted(
        str(path.relative_to(package)) for path in package.rglob("*.py") if "import ipywidgets" in path.read_text()
    )
    assert importers == ["course/readiness.py", "widgets.py"]  # the readiness checklist only checks it is installed
