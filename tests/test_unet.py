"""U-Net: exact parameter counts, shapes, layer names, saving, mixed precision, bad sizes."""

import keras
import numpy as np
import pytest

from segutils.models import build_unet
from segutils.models.unet import decoder_block, double_conv, encoder_block, unet_levels

PAPER_PARAMS = 31_030_658  # (256, 256, 1) input, 2 classes, 64 filters, depth 4, transposed convs

def run(model, x):
    """Inference without tracing a tf.function (``predict`` costs seconds per new model)."""
    return keras.ops.convert_to_numpy(model(x, training=False))



def conv_params(k, c_in, c_out, bias=True):
    return k * k * c_in * c_out + (c_out if bias else 0)


def unet_params_by_hand(c_in, classes, filters, depth):
    """Sum of the paper's layers: two 3x3 convs per level, 2x2 up-convs, a 1x1 head."""
    total, prev = 0, c_in
    for k in range(depth + 1):  # encoder levels, then the bottleneck
        width = filters * 2**k
        total += conv_params(3, prev, width) + conv_params(3, width, width)
        prev = width
    for k in range(depth - 1, -1, -1):
        width = filters * 2**k
        total += conv_params(2, prev, width)  # up-convolution halves the channels
        total += conv_params(3, 2 * width, width) + conv_params(3, width, width)  # after the concatenation
        prev = width
    return total + conv_params(1, filters, classes)


@pytest.fixture
def mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    yield
    keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("upsampling", ["transpose", "upsample_conv"])
def test_paper_configuration_has_exactly_31_030_658_parameters(upsampling):
    model = build_unet((256, 256, 1), 2, filters=64, depth=4, upsampling=upsampling)
    assert model.count_params() == PAPER_PARAMS == unet_params_by_hand(1, 2, 64, 4)
    levels = unet_levels(model)
    assert sum(r["encoder_params"] + r["decoder_params"] for r in levels) == PAPER_PARAMS - conv_params(1, 64, 2)
    assert [(r["height"], r["channels"]) for r in levels] == [(256, 64), (128, 128), (64, 256), (32, 512),
                                                                (16, 1024)]
    keras.backend.clear_session()


@pytest.mark.parametrize("c_in,classes,filters,depth", [(3, 12, 8, 3), (1, 1, 16, 5), (4, 3, 8, 1)])
def test_parameter_count_matches_the_formula(c_in, classes, filters, depth):
    model = build_unet((None, None, c_in), classes, filters=filters, depth=depth)
    assert model.count_params() == unet_params_by_hand(c_in, classes, filters, depth)


def test_batchnorm_replaces_conv_bias_by_four_numbers_per_channel():
    plain = build_unet((64, 64, 1), 1, filters=8, depth=2)
    bn = build_unet((64, 64, 1), 1, filters=8, depth=2, batchnorm=True)
    channels_of_3x3_convs = 2 * (8 + 16 + 32) + 2 * (16 + 8)
    assert bn.count_params() - plain.count_params() == 3 * channels_of_3x3_convs
    assert {"enc1_bn1", "enc1_relu1", "bottleneck_bn2", "dec1_bn2"} <= {layer.name for layer in bn.layers}


@pytest.mark.parametrize("classes", [1, 12])
@pytest.mark.parametrize("height,width", [(128, 128), (256, 256), (352, 480)])
def test_output_shape(classes, height, width):
    model = build_unet((height, width, 3), classes, filters=8)
    y = run(model, np.random.rand(1, height, width, 3).astype("float32"))
    assert y.shape == (1, height, width, classes)
    assert y.dtype == np.float32 and y.min() >= 0 and y.max() <= 1
    if classes > 1:
        np.testing.assert_allclose(y.sum(-1), 1, atol=1e-5)


def test_size_agnostic_input():
    model = build_unet((None, None, 1), 1, filters=8)
    assert run(model, np.zeros((2, 48, 80, 1), "float32")).shape == (2, 48, 80, 1)


def test_layer_names_follow_the_paper_figure():
    model = build_unet((64, 64, 1), 2, filters=8, depth=4)
    names = [layer.name for layer in model.layers]
    assert names[:4] == ["image", "enc1_conv1", "enc1_conv2", "enc1_pool"]
    for k in range(1, 5):
        assert {f"enc{k}_conv1", f"enc{k}_conv2", f"enc{k}_pool"} <= set(names)
        assert {f"dec{k}_up", f"dec{k}_concat", f"dec{k}_conv1", f"dec{k}_conv2"} <= set(names)
    assert {"bottleneck_conv1", "bottleneck_conv2", "enc4_drop", "bottleneck_drop"} <= set(names)
    assert names[-2:] == ["head", "output"]
    # dec{k} mirrors enc{k}: same resolution and width; the decoder runs dec4 first and dec1 last.
    for k in range(1, 5):
        assert model.get_layer(f"dec{k}_conv2").output.shape == model.get_layer(f"enc{k}_conv2").output.shape
    assert names.index("dec4_up") < names.index("dec1_up")
    assert isinstance(model.get_layer("dec1_up"), keras.layers.Conv2DTranspose)
    assert model.get_layer("dec4_concat").output.shape[-1] == 2 * 64


def test_upsample_conv_decoder_is_upsampling_then_2x2_conv():
    model = build_unet((64, 64, 1), 2, filters=8, upsampling="upsample_conv")
    assert isinstance(model.get_layer("dec2_up"), keras.layers.UpSampling2D)
    upconv = model.get_layer("dec2_upconv")
    assert isinstance(upconv, keras.layers.Conv2D) and upconv.kernel_size == (2, 2)
    assert upconv.count_params() == conv_params(2, 32, 16)


def test_blocks_return_documented_shapes():
    x = keras.Input((32, 32, 3))
    assert double_conv(x, 8, "t1").shape == (None, 32, 32, 8)
    skip, down = encoder_block(x, 8, "t2")
    assert skip.shape == (None, 32, 32, 8) and down.shape == (None, 16, 16, 8)
    assert decoder_block(down, skip, 4, "t3").shape == (None, 32, 32, 4)


def test_activation_and_logits():
    assert build_unet((32, 32, 1), 1, filters=4, depth=2).get_layer("output").activation.__name__ == "sigmoid"
    assert build_unet((32, 32, 1), 3, filters=4, depth=2).get_layer("output").activation.__name__ == "softmax"
    assert build_unet((32, 32, 1), 3, filters=4, depth=2, logits=True).get_layer("output").activation.__name__ == (
        "linear"
    )


@pytest.mark.parametrize("upsampling", ["transpose", "upsample_conv"])
def test_save_and_load_round_trip(tmp_path, upsampling):
    model = build_unet((64, 64, 1), 2, filters=8, batchnorm=True, upsampling=upsampling)
    x = np.random.default_rng(0).random((2, 64, 64, 1), dtype="float32")
    model.save(tmp_path / "x.keras")
    loaded = keras.models.load_model(tmp_path / "x.keras")
    np.testing.assert_allclose(run(loaded, x), run(model, x), atol=1e-6)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]


def test_mixed_precision_output_is_float32(mixed_precision):
    model = build_unet((64, 64, 1), 2, filters=8)
    assert model.get_layer("enc1_conv1").compute_dtype == "float16"
    assert model.output.dtype == "float32"
    assert run(model, np.zeros((1, 64, 64, 1), "float32")).dtype == np.float32


def test_bad_input_size_names_the_nearest_valid_sizes():
    with pytest.raises(ValueError) as err:
        build_unet((100, 128, 1), 1, depth=4)
    message = str(err.value)
    assert "multiples of 16" in message and "height 100" in message and "96 or 112" in message
    assert "width" not in message.split("got", 1)[1]
    with pytest.raises(ValueError, match="width 250 \\(nearest valid sizes: 248 or 256\\)"):
        build_unet((None, 250, 1), 1, depth=3)
    with pytest.raises(ValueError, match="height 8 \\(nearest valid size: 16\\)"):
        build_unet((8, 16, 1), 1, depth=4)


def test_bad_arguments():
    with pytest.raises(ValueError, match="upsampling"):
        build_unet((64, 64, 1), 1, upsampling="bilinear")
    with pytest.raises(ValueError, match="depth"):
        build_unet((64, 64, 1), 1, depth=0)
