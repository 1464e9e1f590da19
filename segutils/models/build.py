"""One entry point for the compared models: ``build_model("unet" | "linknet" | "unet-resnet34", ...)``.

The comparison is only fair if the models are built the same way: same input, same head, same output
dtype. ``build_model`` applies the profile (U-Net width, the ResNet34 encoder weights that LinkNet and
the same-encoder control ``unet-resnet34`` share) and the head rule: two classes get a one-channel
sigmoid head, more a K-channel softmax. Taught in ``notebooks/05_training.ipynb``.
"""

from __future__ import annotations

import warnings

import keras

from .. import config
from ..checks import whole
from .linknet import EncoderWeightsError, build_linknet, build_unet_encoder
from .unet import build_unet

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
    """Build ``"unet"``, ``"linknet"`` or ``"unet-resnet34"`` for masks with ``num_classes`` classes.

    U-Net takes ``profile.unet_filters`` filters at level 1 and batch normalisation; LinkNet and
    ``unet-resnet34`` (sm's U-Net decoder on the same ResNet34 encoder, the same-encoder control) take
    ``profile.encoder_weights``. All end in the same head (see :func:`output_channels`) and tell
    ``model.encoder_pretrained`` (``True``, ``False``, or ``None`` for U-Net).

    Args:
        input_shape: ``(H, W, C)``; sides multiples of 32 (LinkNet) or ``None``.
        num_classes: classes in the masks (2 for membrane), ignored class included.
        profile: a :class:`~segutils.config.Profile`, its name, or ``None`` for the active one.
        missing_weights: when the encoder's ImageNet weights cannot be had (offline): ``"warn"`` builds a
            random encoder with an :class:`EncoderNotPretrainedWarning`, ``"raise"`` re-raises the error.
        bn_momentum: momentum of every BatchNorm layer, the same for both models (``None`` keeps the builders').
        **overrides: passed to the builder (e.g. ``filters=64``, ``encoder_weights=None``).

    Taught in ``notebooks/05_training.ipynb``.
    """
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
    """The encoder's layers of a LinkNet or ``unet-resnet34`` model. Taught in ``notebooks/05_training.ipynb``."""
    names = [layer.name for layer in model.layers]
    if "preprocess" not in names or not any(n.startswith("decoder_") for n in names):
        raise ValueError(f"{model.name!r} is not a build_linknet model (nor unet-resnet34): "
                         "no 'preprocess' or 'decoder_*' layers")
    start = names.index("preprocess") + 1
    stop = next(i for i, n in enumerate(names) if n.startswith("decoder_"))
    return model.layers[start:stop]


def any_size(model: keras.Model) -> keras.Model:
    """The same network and weights, taking images of any height and width (sides multiples of 32).

    A fully convolutional model built for fixed ``H x W`` inputs (as notebook 05 trains them) is rebuilt
    from its configuration with ``(None, None, C)`` inputs; one that already takes any size is returned.
    Taught in ``notebooks/07_inference.ipynb``.
    """
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
