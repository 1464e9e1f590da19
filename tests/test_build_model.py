"""build_model: one entry point for the compared models, the profile applied, one head rule."""

import numpy as np
import pytest

import segutils  # noqa: F401  (sets SM_FRAMEWORK before segmentation_models)
from segutils import config
from segutils.models import (
    EncoderNotPretrainedWarning,
    EncoderWeightsError,
    build_linknet,
    build_model,
    build_unet,
    encoder_layers,
    output_channels,
)
from segutils.models import build as build_module


def test_output_channels_binary_is_one_sigmoid_channel():
    assert [output_channels(k) for k in (2, 3, 12)] == [1, 3, 12]
    with pytest.raises(ValueError, match=r"^num_classes must be a whole number >= 2, got 1 \(int\): "
                       r"count the classes in the masks \(a binary mask has 2"):
        output_channels(1)
    with pytest.raises(ValueError, match="got 2.0"):
        output_channels(2.0)


def test_unet_takes_the_profile_width_and_matches_build_unet():
    model = build_model("unet", (64, 64, 1), 2, profile="ci")
    reference = build_unet((64, 64, 1), 1, filters=config.get("ci").unet_filters, batchnorm=True, dropout=0.0)
    # 485,673 without BatchNorm (the paper's formula at F=8, depth 4), plus 3 numbers per channel
    # of each 3x3 conv: 4 BatchNorm numbers minus the dropped bias.
    assert model.count_params() == reference.count_params() == 485_673 + 3 * (2 * 248 + 2 * 120) == 487_881
    assert model.output_shape == (None, 64, 64, 1)
    assert model.encoder_pretrained is None
    assert build_model("unet", (64, 64, 1), 12, profile="ci").output_shape == (None, 64, 64, 12)


def test_linknet_from_the_ci_profile_has_a_random_encoder():
    model = build_model("linknet", (64, 64, 1), 2, profile=config.get("ci"))
    assert model.count_params() == 21_791_386  # sm.Linknet('resnet34', classes=1), tested in test_linknet
    assert model.encoder_pretrained is False
    assert model.layers[-1].dtype_policy.name == "float32"


def test_missing_imagenet_weights_warn_and_fall_back(monkeypatch):
    calls = []

    def fake_build_linknet(input_shape, channels, **kwargs):
        calls.append(kwargs["encoder_weights"])
        if kwargs["encoder_weights"] == "imagenet":
            raise EncoderWeightsError("Could not download the ImageNet weights of the resnet34 encoder (offline).")
        return build_linknet(input_shape, channels, **kwargs)

    monkeypatch.setattr(build_module, "build_linknet", fake_build_linknet)
    with pytest.warns(EncoderNotPretrainedWarning, match="LinkNet's encoder is NOT pretrained: Could not download"):
        model = build_model("linknet", (64, 64, 1), 2, profile="cpu")
    assert calls == ["imagenet", None] and model.encoder_pretrained is False
    with pytest.raises(EncoderWeightsError):
        build_model("linknet", (64, 64, 1), 2, profile="cpu", missing_weights="raise")


def test_unknown_model_name():
    with pytest.raises(ValueError, match=r"build_model knows \('unet', 'linknet', 'unet-resnet34'\), got 'segnet'"):
        build_model("segnet", (64, 64, 1), 2, profile="ci")


def test_encoder_layers_span_the_resnet_only():
    model = build_model("linknet", (64, 64, 1), 2, profile="ci")
    names = [layer.name for layer in encoder_layers(model)]
    assert names[0] == "bn_data" and names[-1] == "relu1"
    assert not any(n.startswith("decoder_") or n in ("preprocess", "output") for n in names)
    with pytest.raises(ValueError, match="is not a build_linknet model"):
        encoder_layers(build_unet((64, 64, 1), 1, filters=4, depth=2))


def test_both_models_share_one_batchnorm_momentum():
    unet = build_model("unet", (64, 64, 1), 2, profile="ci")
    bns = [layer for layer in unet.layers if layer.__class__.__name__ == "BatchNormalization"]
    assert len(bns) == 2 * (4 + 1 + 4)  # two per double conv: 4 encoder levels, bottleneck, 4 decoder levels
    assert {layer.momentum for layer in bns} == {0.9}
    linknet = build_model("linknet", (64, 64, 1), 2, profile="ci", bn_momentum=0.8)
    assert {layer.momentum for layer in linknet.layers if layer.__class__.__name__ == "BatchNormalization"} == {0.8}
    kept = build_model("unet", (64, 64, 1), 2, profile="ci", bn_momentum=None)
    assert {layer.momentum for layer in kept.layers if layer.__class__.__name__ == "BatchNormalization"} == {0.99}


@pytest.mark.parametrize("name", ["unet", "linknet"])
def test_any_size_keeps_the_weights_and_takes_other_sides(name):
    from segutils.models import any_size

    fixed = build_model(name, (64, 64, 1), 2, profile="ci")  # ci: LinkNet without encoder weights
    free = any_size(fixed)
    assert fixed.input_shape == (None, 64, 64, 1) and free.input_shape == (None, None, None, 1)
    assert free.count_params() == fixed.count_params()
    x = np.random.default_rng(0).random((2, 64, 64, 1)).astype("float32")
    np.testing.assert_allclose(np.asarray(free(x, training=False)), np.asarray(fixed(x, training=False)), atol=1e-6)
    assert free(np.zeros((1, 96, 128, 1), "float32"), training=False).shape == (1, 96, 128, 1)
    assert any_size(free) is free


def test_unet_resnet34_is_sm_unet_on_linknets_encoder_with_the_same_head():
    """The same-encoder control: sm.Unet('resnet34', classes=1) has 24,456,154 parameters; the input layers add 0."""
    from segutils.models.linknet import import_sm

    model = build_model("unet-resnet34", (64, 64, 1), 2, profile="ci")
    reference = import_sm().Unet("resnet34", input_shape=(64, 64, 3), classes=1, activation="sigmoid",
                                 encoder_weights=None)
    assert model.count_params() == reference.count_params() == 24_456_154
    assert model.name == "unet_resnet34" and model.encoder_pretrained is False
    assert model.layers[-1].name == "output" and model.layers[-1].dtype_policy.name == "float32"
    assert model.output_shape == (None, 64, 64, 1)
    names = [layer.name for layer in encoder_layers(model) if layer.weights]  # unnamed paddings are numbered
    linknet = build_model("linknet", (64, 64, 1), 2, profile="ci")
    assert names == [layer.name for layer in encoder_layers(linknet) if layer.weights] and len(names) == 72
    assert encoder_layers(model)[0].name == "bn_data" and encoder_layers(model)[-1].name == "relu1"
    assert {layer.momentum for layer in model.layers if layer.__class__.__name__ == "BatchNormalization"} == {0.9}


def test_unet_resnet34_loads_the_same_encoder_file_as_linknet(tmp_path):
    from classification_models.tfkeras import Classifiers

    encoder = Classifiers.get("resnet34")[0](input_shape=(None, None, 3), weights=None, include_top=False)
    rng = np.random.default_rng(0)
    encoder.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in encoder.get_weights()])
    encoder.save(tmp_path / "resnet34.h5")  # legacy HDF5, the format of the ImageNet file
    model = build_model("unet-resnet34", (64, 64, 1), 2, profile="ci", encoder_weights=str(tmp_path / "resnet34.h5"))
    assert model.encoder_pretrained is True
    np.testing.assert_array_equal(model.get_layer("stage4_unit1_conv1").get_weights()[0],
                                  encoder.get_layer("stage4_unit1_conv1").get_weights()[0])


def test_missing_imagenet_weights_name_the_control_model(monkeypatch):
    real = build_module.build_unet_encoder

    def offline(input_shape, channels, **kwargs):
        if kwargs["encoder_weights"] == "imagenet":
            raise EncoderWeightsError("Could not download the ImageNet weights of the resnet34 encoder (offline).")
        return real(input_shape, channels, **kwargs)

    monkeypatch.setattr(build_module, "build_unet_encoder", offline)
    with pytest.warns(EncoderNotPretrainedWarning, match="U-Net-ResNet34's encoder is NOT pretrained: Could not"):
        assert build_model("unet-resnet34", (64, 64, 1), 2, profile="cpu").encoder_pretrained is False
