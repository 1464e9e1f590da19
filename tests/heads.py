"""Tiny models with a known head, and a ramp image, for the tests of predict_masks and predict_probabilities."""

import keras
import numpy as np
from keras import layers


def head_model(activation, channels, size=(None, None)):
    """A 1x1 conv head computing z = 4 * (x - 0.5) in the last channel (0 in the others)."""
    inputs = keras.Input((*size, 1))
    z = layers.Conv2D(channels, 1, name="head")(inputs)
    model = keras.Model(inputs, layers.Activation(activation, name="output")(z))
    kernel = np.zeros((1, 1, 1, channels), np.float32)
    bias = np.zeros(channels, np.float32)
    kernel[..., -1], bias[-1] = 4.0, -2.0
    model.get_layer("head").set_weights([kernel, bias])
    return model


def ramp(h=5, w=7):
    """A uint8 h x w image whose values step by 7 (mod 256)."""
    return (np.arange(h * w).reshape(h, w) * 7 % 256).astype(np.uint8)
