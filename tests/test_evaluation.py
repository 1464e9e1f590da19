"""segutils.evaluation: predict_masks' preparation, padding and head rule; evaluate; V_rand / V_info."""

import keras
import numpy as np
import pytest
from keras import layers

from segutils import evaluation
from segutils.evaluation import predict_masks


def _head(activation, channels, size=(None, None)):
    """A 1x1 conv head computing z = 4 * (x - 0.5) in the last channel (0 in the others)."""
    inputs = keras.Input((*size, 1))
    z = layers.Conv2D(channels, 1, name="head")(inputs)
    model = keras.Model(inputs, layers.Activation(activation, name="output")(z))
    kernel = np.zeros((1, 1, 1, channels), np.float32)
    bias = np.zeros(channels, np.float32)
    kernel[..., -1], bias[-1] = 4.0, -2.0
    model.get_layer("head").set_weights([kernel, bias])
    return model


def _ramp(h=5, w=7):
    return (np.arange(h * w).reshape(h, w) * 7 % 256).astype(np.uint8)


def test_sigmoid_softmax_and_logits_heads_give_the_same_classes():
    image = _ramp()
    expected = (image / 255.0 > 0.5).astype(np.uint8)
    sigmoid = predict_masks(_head("sigmoid", 1), image)
    softmax = predict_masks(_head("softmax", 2), image)
    logits = predict_masks(_head("linear", 1), image)
    assert sigmoid.shape == (5, 7) and sigmoid.dtype == np.uint8
    np.testing.assert_array_equal(sigmoid, expected)
    np.testing.assert_array_equal(softmax, expected)
    np.testing.assert_array_equal(logits, expected)


def test_threshold_applies_to_probabilities_and_logits_alike():
    image = _ramp()
    # p > 0.8  <=>  4 (x - 0.5) > logit(0.8)  <=>  x > 0.5 + log(4) / 4
    expected = (image / 255.0 > 0.5 + np.log(4.0) / 4).astype(np.uint8)
    assert 0 < expected.sum() < expected.size
    np.testing.assert_array_equal(predict_masks(_head("sigmoid", 1), image, threshold=0.8), expected)
    np.testing.assert_array_equal(predict_masks(_head("linear", 1), image, threshold=0.8), expected)


def test_uint8_and_float_images_are_normalised_once():
    image = _ramp()
    model = _head("sigmoid", 1)
    np.testing.assert_array_equal(predict_masks(model, image), predict_masks(model, image / 255.0))
    with pytest.raises(ValueError, match=r"float images must be in \[0, 1\].*pass the uint8 image"):
        predict_masks(model, image.astype(np.float32))


def _pooled_model():
    """Only accepts multiples of 32: average over 32x32 blocks, upsample back, threshold."""
    inputs = keras.Input((None, None, 1))
    x = layers.UpSampling2D(32)(layers.AveragePooling2D(32)(inputs))
    model = keras.Model(inputs, layers.Activation("sigmoid", name="output")(layers.Conv2D(1, 1, name="head")(x)))
    model.get_layer("head").set_weights([np.full((1, 1, 1, 1), 4.0, np.float32), np.array([-2.0], np.float32)])
    return model


def test_sizes_that_are_not_multiples_of_32_come_back_at_their_own_size():
    model = _pooled_model()
    small = np.full((20, 45), 200, np.uint8)
    large = np.full((50, 70, 1), 30, np.uint8)
    masks = predict_masks(model, [small, large, small], batch_size=2)
    assert [m.shape for m in masks] == [(20, 45), (50, 70), (20, 45)]
    assert masks[0].all() and not masks[1].any()
    batch = predict_masks(model, np.stack([small, small]))
    assert batch.shape == (2, 20, 45) and batch.all()


def test_channels_convert_to_what_the_model_takes():
    gray = _ramp()
    rgb = np.repeat(gray[..., None], 3, axis=-1)
    np.testing.assert_array_equal(predict_masks(_head("sigmoid", 1), rgb), predict_masks(_head("sigmoid", 1), gray))
    with pytest.raises(ValueError, match=r"takes 1 channel\(s\) but an image has 4: drop the alpha channel"):
        predict_masks(_head("sigmoid", 1), np.zeros((4, 4, 4), np.uint8))


def test_fixed_input_pads_smaller_and_rejects_or_resizes_larger_images():
    model = _head("sigmoid", 1, size=(8, 8))
    assert predict_masks(model, _ramp(5, 7)).shape == (5, 7)
    big = np.zeros((16, 16), np.uint8)
    big[:, 8:] = 255
    with pytest.raises(ValueError, match="16x16 is larger than the model's fixed input 8x8: pass resize=True"):
        predict_masks(model, big)
    mask = predict_masks(model, big, resize=True)
    assert mask.shape == (16, 16)
    np.testing.assert_array_equal(mask, (big > 127).astype(np.uint8))
