"""U-Net (Ronneberger, Fischer & Brox 2015) from small blocks, layers named after the paper's figure: level ``k``
(1 = full resolution) has ``enc{k}_conv1``, ``enc{k}_conv2``, ``enc{k}_pool`` and ``dec{k}_up``, ``dec{k}_concat``,
``dec{k}_conv1``, ``dec{k}_conv2``; then ``bottleneck_*``, ``head``, ``output``.
Taught in ``notebooks/02_unet.ipynb``."""

import keras
from keras import layers

from .. import _compat
from ..checks import DIVIDE_HINT, is_whole, whole

UPSAMPLING_MODES = ("transpose", "upsample_conv")


def check_input_shape(input_shape, who: str) -> tuple:
    """``input_shape`` as an ``(H, W, C)`` tuple of ints (sides may be None), else ValueError with the fix."""
    try:
        shape = tuple(input_shape)
    except TypeError:
        shape = ()
    if len(shape) == 3 and all(n is None or is_whole(n) for n in shape[:2]) and is_whole(shape[2]):
        return tuple(None if n is None else int(n) for n in shape)
    if len(shape) == 2:
        hint = "it has no channels: add them, (H, W, 1) for grayscale or (H, W, 3) for RGB"
    elif len(shape) == 3 and shape[2] in (0, None):
        hint = f"{shape[2]} channels: images have 1 (grayscale) or 3 (RGB)"
    elif any(isinstance(n, float) for n in shape):
        hint = f"sides are whole numbers: {DIVIDE_HINT}"
    else:
        hint = "pass three whole numbers >= 1 (sides may be None)"
    raise ValueError(f"{who} takes input_shape=(height, width, channels), e.g. (256, 256, 1), or (None, None, 1) "
                     f"for any size; got {input_shape!r}: {hint}.")


def check_input_size(input_shape, factor: int, why: str, fix: str = "") -> None:
    """Refuse sides that are not ``None`` or multiples of ``factor``, naming the nearest valid ones and ``fix``."""
    problems = []
    for axis, size in zip(("height", "width"), input_shape[:2], strict=True):
        if size is None or size % factor == 0:
            continue
        below, above = size // factor * factor, (size // factor + 1) * factor
        nearest = f"sizes: {below} or {above}" if below else f"size: {above}"
        problems.append(f"{axis} {size} (nearest valid {nearest})")
    if problems:
        raise ValueError(f"{why} down-samples by {factor}, so height and width must be multiples of {factor}; "
                         f"got {'; '.join(problems)}. {fix or 'Resize or crop the images, or use None for any size.'}")


def check_sides_on_call(model: keras.Model, factor: int, why: str) -> keras.Model:
    """Make ``model`` raise its own error for wrong channels or sides (:func:`check_input_size`), first, in one line."""
    plain = model.call
    fix = "Pad or crop the images to those sizes (segutils.predict.predict_masks pads and crops for you)."

    def call(inputs, *args, **kwargs):
        shape, channels = getattr(inputs, "shape", None), model.input_shape[-1]
        try:
            if shape is not None and len(shape) == 4 and channels and shape[-1] and shape[-1] != channels:
                how = "x.mean(-1, keepdims=True) makes grey" if channels == 1 else "np.repeat(x, 3, -1) makes RGB"
                raise ValueError(f"{model.name} takes images with {channels} channel(s), got {shape[-1]} (input "
                                 f"shape {tuple(shape)}): {how}")
            if shape is not None and len(shape) == 4:
                check_input_size(tuple(shape)[1:3], factor, why, fix)
        except ValueError as err:
            raise _compat.reraised_as_is(err) from None  # the same error, its message the first line
        return plain(inputs, *args, **kwargs)

    model.call = call
    return model


def double_conv(x, filters: int, name: str, batchnorm: bool = False):
    """Two 3x3 'same' convolutions ``{name}_conv1``, ``{name}_conv2`` with ReLU (and BatchNorm)."""
    for i in (1, 2):
        if batchnorm:
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv{i}")(x)
            x = layers.BatchNormalization(name=f"{name}_bn{i}")(x)
            x = layers.Activation("relu", name=f"{name}_relu{i}")(x)
        else:
            x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"{name}_conv{i}")(x)
    return x


def encoder_block(x, filters: int, name: str, batchnorm: bool = False, dropout: float = 0.0):
    """Contracting step: the bottleneck's double conv and dropout (the skip), then a 2x2 max-pool: ``(skip, down)``."""
    x = bottleneck(x, filters, batchnorm, dropout, name)
    return x, layers.MaxPooling2D(2, name=f"{name}_pool")(x)


def bottleneck(x, filters: int, batchnorm: bool = False, dropout: float = 0.0, name: str = "bottleneck"):
    """The bottom of the U: double conv at the lowest resolution, optional dropout."""
    x = double_conv(x, filters, name, batchnorm)
    if dropout:
        x = layers.Dropout(dropout, name=f"{name}_drop")(x)
    return x


def decoder_block(x, skip, filters: int, name: str, batchnorm: bool = False, upsampling: str = "transpose"):
    """Up-sample x2 to ``filters`` (``"transpose"``: the paper's 2x2 up-convolution; ``"upsample_conv"``:
    UpSampling2D then a 2x2 conv, as many parameters, 4x the multiply-adds), concatenate ``[skip, up]``, double conv."""
    if upsampling == "transpose":
        up = layers.Conv2DTranspose(filters, 2, strides=2, padding="same", name=f"{name}_up")(x)
    elif upsampling == "upsample_conv":
        up = layers.UpSampling2D(2, name=f"{name}_up")(x)
        up = layers.Conv2D(filters, 2, padding="same", activation="relu", name=f"{name}_upconv")(up)
    else:
        raise ValueError(f"upsampling must be one of {UPSAMPLING_MODES}, got {upsampling!r}")
    x = layers.Concatenate(name=f"{name}_concat")([skip, up])
    return double_conv(x, filters, name, batchnorm)


def final_activation(num_classes: int, logits: bool = False) -> str:
    """``"sigmoid"`` for one class, ``"softmax"`` for more, ``"linear"`` when ``logits``."""
    return "linear" if logits else ("sigmoid" if num_classes == 1 else "softmax")


def output_layer(x, num_classes: int, logits: bool = False):
    """The :func:`final_activation`, always float32 (even under ``mixed_float16``) and named ``output``."""
    return layers.Activation(final_activation(num_classes, logits), dtype="float32", name="output")(x)


def build_unet(input_shape=(256, 256, 1), num_classes: int = 1, filters: int = 64, depth: int = 4,
               batchnorm: bool = False, dropout: float = 0.5, upsampling: str = "transpose",
               logits: bool = False) -> keras.Model:
    """``unet``: ``depth`` levels of ``filters * 2**(k-1)`` channels, a bottleneck, a 1x1 head (sigmoid for one
    class, softmax for more, ``logits`` neither); sides multiples of ``2**depth`` or None. ``batchnorm``,
    ``dropout`` and ``upsampling="upsample_conv"`` are not the paper's."""
    whole(depth, "depth")
    whole(num_classes, "num_classes", fix="output channels: 1 for a sigmoid (two classes), K for a softmax")
    input_shape = check_input_shape(input_shape, "build_unet")
    check_input_size(input_shape, 2**depth, f"U-Net with depth={depth}")

    inputs = keras.Input(input_shape, name="image")
    x, skips = inputs, []
    for k in range(1, depth + 1):
        skip, x = encoder_block(x, filters * 2 ** (k - 1), f"enc{k}", batchnorm, dropout if k == depth else 0)
        skips.append(skip)
    x = bottleneck(x, filters * 2**depth, batchnorm, dropout)
    for k in range(depth, 0, -1):
        x = decoder_block(x, skips[k - 1], filters * 2 ** (k - 1), f"dec{k}", batchnorm, upsampling)
    x = layers.Conv2D(num_classes, 1, name="head")(x)
    model = keras.Model(inputs, output_layer(x, num_classes, logits), name="unet")
    return check_sides_on_call(model, 2**depth, f"U-Net with depth={depth}")


def unet_levels(model: keras.Model) -> list[dict]:
    """Per level (1..depth, ``"bottleneck"``) of a U-Net: sides, channels, encoder and decoder parameters."""
    depth = sum(1 for layer in model.layers if layer.name.endswith("_pool") and layer.name.startswith("enc"))

    def params(prefix: str) -> int:
        return sum(layer.count_params() for layer in model.layers if layer.name.startswith(prefix))

    rows = []
    for level in [*range(1, depth + 1), "bottleneck"]:
        prefix = "bottleneck" if level == "bottleneck" else f"enc{level}"
        _, height, width, channels = model.get_layer(f"{prefix}_conv2").output.shape
        decoder = 0 if level == "bottleneck" else params(f"dec{level}_")
        rows.append(dict(level=level, height=height, width=width, channels=channels,
                         encoder_params=params(f"{prefix}_"), decoder_params=decoder))
    return rows
