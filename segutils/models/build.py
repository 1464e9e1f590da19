"""``build_model``: the compared models built alike (the profile's width and encoder weights, one head rule).
Taught in ``notebooks/05_training.ipynb``."""

import warnings

import keras

from .. import config
from ..checks import whole
from .linknet import build_linknet, build_unet_encoder
from .unet import build_unet
from .weights import EncoderWeightsError

MODEL_NAMES = ("unet", "linknet", "unet-resnet34")
#: The models on the pretrained ResNet34 encoder, and their names in messages.
ON_ENCODER = {"linknet": "LinkNet", "unet-resnet34": "U-Net-ResNet34"}
#: BatchNorm momentum of the compared models. Keras' 0.99 averages over ~100 steps, so in a run of a few hundred
#: validation sees stale statistics (the best checkpoint is picked on noise); 0.9 follows within ~10 steps.
BN_MOMENTUM = 0.9


class EncoderNotPretrainedWarning(UserWarning):
    """LinkNet was asked for pretrained encoder weights and got a random encoder instead."""


def output_channels(num_classes: int) -> int:
    """Head channels for ``num_classes``: 1 (sigmoid) for 2, else K. Taught in ``notebooks/04_losses_metrics.ipynb``."""
    whole(num_classes, "num_classes", 2, fix="count the classes in the masks (a binary mask has 2: background and "
          "foreground)")
    return 1 if num_classes == 2 else num_classes


def build_model(name: str, input_shape, num_classes: int, profile: config.Profile | str | None = None,
                missing_weights: str = "warn", bn_momentum: float | None = BN_MOMENTUM, **overrides) -> keras.Model:
    """``"unet"``, ``"linknet"`` or ``"unet-resnet34"`` for ``input_shape`` ``(H, W, C)`` and ``num_classes``.

    ``profile`` (a Profile, its name, or None for the active one) sets U-Net's width and the encoder weights;
    ``missing_weights="warn"`` builds a random encoder with an :class:`EncoderNotPretrainedWarning` where
    ``"raise"`` re-raises; ``bn_momentum`` is every BatchNorm's (None: the builders'); ``overrides`` go to the
    builder. ``model.encoder_pretrained`` says what the encoder got. Taught in ``notebooks/05_training.ipynb``."""
    if name not in MODEL_NAMES:
        raise ValueError(f"build_model knows {MODEL_NAMES}, got {name!r}")
    if missing_weights not in ("warn", "raise"):
        raise ValueError(f"missing_weights must be 'warn' or 'raise', got {missing_weights!r}")
    profile = config.get(profile) if isinstance(profile, str) else (profile or config.active())
    model = _build(name, tuple(input_shape), output_channels(num_classes), profile, missing_weights, overrides)
    for layer in model.layers:  # before training: the momentum is read when the step is traced
        if bn_momentum is not None and isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = bn_momentum
    return model


def _build(name, input_shape, channels, profile, missing_weights, overrides):
    if name == "unet":
        kwargs = dict(filters=profile.unet_filters, batchnorm=True, dropout=0.0) | overrides
        model = build_unet(input_shape, channels, **kwargs)
        model.encoder_pretrained = None
        return model
    build = build_linknet if name == "linknet" else build_unet_encoder
    kwargs = dict(encoder_weights=profile.encoder_weights) | overrides
    try:
        model = build(input_shape, channels, **kwargs)
    except EncoderWeightsError as err:
        if missing_weights == "raise":
            raise
        warnings.warn(f"{ON_ENCODER[name]}'s encoder is NOT pretrained: {err} Training goes on from a random "
                      f"encoder, so {ON_ENCODER[name]}'s results here do not show what ImageNet pretraining gives.",
                      EncoderNotPretrainedWarning, stacklevel=3)
        kwargs["encoder_weights"] = None
        model = build(input_shape, channels, **kwargs)
    model.encoder_pretrained = kwargs["encoder_weights"] is not None
    return model


def encoder_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The encoder's layers of a LinkNet or ``unet-resnet34`` model, which ``fine_tune`` freezes (notebook 05)."""
    names = [layer.name for layer in model.layers]
    if "preprocess" not in names or not any(n.startswith("decoder_") for n in names):
        raise ValueError(f"{model.name!r} is not a build_linknet model (nor unet-resnet34): "
                         "no 'preprocess' or 'decoder_*' layers")
    start = names.index("preprocess") + 1
    stop = next(i for i, n in enumerate(names) if n.startswith("decoder_"))
    return model.layers[start:stop]


def any_size(model: keras.Model) -> keras.Model:
    """The same network and weights, taking any height and width (multiples of 32).
    Taught in ``notebooks/07_inference.ipynb``."""
    if tuple(model.input_shape[1:3]) == (None, None):
        return model
    config = model.get_config()
    inputs = [layer for layer in config["layers"] if layer["class_name"] == "InputLayer"]
    if len(inputs) != 1:
        raise ValueError(f"any_size takes a model with one image input, {model.name!r} has {len(inputs)}")
    shape = inputs[0]["config"]["batch_shape"]
    inputs[0]["config"]["batch_shape"] = [shape[0], None, None, shape[-1]]
    clone = keras.Model.from_config(config)
    clone.set_weights(model.get_weights())
    return clone
