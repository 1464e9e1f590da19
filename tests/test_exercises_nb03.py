"""Exercise checks of notebook 03 accept the solution and reject wrong answers with a hint."""

import keras
import pytest

from segutils.course.exercises import nb03
from segutils.models import linknet_decoder_block
from segutils.models.linknet import import_sm


def _block_params(m, n):
    inputs = [keras.Input((8, 8, m)), keras.Input((16, 16, n))]
    return keras.Model(inputs, linknet_decoder_block(*inputs, n, "dec")).count_params()


def test_decoder_formula_is_the_blocks_count():
    assert nb03.decoder_block_parameters(256, 128) == _block_params(256, 128) == 62_464  # notebook 03's block


def test_decoder_parameters_solution_and_hints():
    solution = _block_params(512, 256)
    assert solution == 247_808
    assert nb03.check_decoder_parameters(solution) is None
    hints = {
        "followed by a BatchNorm": nb03.decoder_block_parameters(512, 256, batchnorm=0),
        "moving mean and variance": nb03.decoder_block_parameters(512, 256, batchnorm=2),
        "is 3x3": nb03.decoder_block_parameters(512, 256, kernel=4),
        "squeezes m channels": nb03.decoder_block_parameters(512, 256, squeeze=1),
        "Three convolutions without bias": solution + 100,
    }
    for hint, wrong in hints.items():
        assert hint in nb03.check_decoder_parameters(wrong)
        assert "247" not in nb03.check_decoder_parameters(wrong)


@pytest.fixture(scope="module")
def sm():
    return import_sm()


@pytest.mark.parametrize("img_size", [64, 128])
def test_link_solution_is_the_models_layer(sm, img_size):
    model = sm.Linknet("resnet34", input_shape=(img_size, img_size, 3), classes=1, encoder_weights=None)
    name = sm.Backbones.get_feature_layers("resnet34", n=4)[2]
    solution = (name, tuple(model.get_layer(name).output.shape[1:]))
    assert solution[1] == tuple(model.get_layer("decoder_stage2_add").output.shape[1:])
    assert solution == nb03.link(img_size)
    assert tuple(sm.Backbones.get_feature_layers("resnet34", n=4)) == nb03.LINKS
    assert nb03.check_link(solution, img_size) is None


def test_link_hints():
    assert "Store a pair" in nb03.check_link("stage2_unit1_relu1", 64)
    assert "not one of the encoder's links" in nb03.check_link(("conv0", (32, 32, 64)), 64)
    assert "another decoder stage" in nb03.check_link(("stage3_unit1_relu1", (16, 16, 64)), 64)
    assert "The layer is right" in nb03.check_link(("stage2_unit1_relu1", (32, 32, 128)), 64)
    assert "The layer is right" in nb03.check_link(("stage2_unit1_relu1", [16, 16, 64]), 64)


def test_upsampling_saving_solution_is_sms_difference(sm):
    def count(kind):
        return sm.Linknet("resnet34", input_shape=(None, None, 3), classes=1, encoder_weights=None,
                          decoder_block_type=kind).count_params()

    solution = count("transpose") - count("upsampling")
    assert solution == 154_112
    assert nb03.check_upsampling_saving(solution) is None


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (-154_112, "The sign"),
        (7 * 128 * 128, "That is one decoder stage"),
        (9 * 22_016, "one kind of kernel"),
        (150_000, "from 4x4 to 3x3"),
        (154_112.0, "whole number"),
    ],
)
def test_upsampling_saving_hints(wrong, hint):
    assert hint in nb03.check_upsampling_saving(wrong)
    assert "154" not in nb03.check_upsampling_saving(wrong)
