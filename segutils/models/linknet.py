"""LinkNet (Chaurasia & Culurciello 2017, arXiv:1707.03718): through segmentation_models and by hand.

Input convention, for every model of the course: images arrive from the data pipeline as
float32 in [0, 1], with 1 (grayscale) or 3 (RGB) channels. Each model normalises inside
itself, exactly once. :func:`build_linknet` starts with a ``preprocess`` Rescaling layer that
maps [0, 1] to the 0..255 range the pretrained encoder saw, folded together with
``sm.get_preprocessing(backbone)`` when that is a per-channel affine map. For ``resnet18/34``
that preprocessing is the identity (``preprocess_input`` returns ``x``): the encoder's own first
layer, the BatchNorm ``bn_data``, holds the ImageNet mean and variance. A grayscale input is
repeated to three channels by ``gray_to_rgb`` (a Concatenate of the input with itself), so the
ImageNet weights apply. Both are built-in Keras layers: ``keras.models.load_model`` needs no
``custom_objects`` and no ``segutils``. The model is flat: the encoder's layers keep their
``segmentation_models`` names (``bn_data``, ``stage2_unit1_relu1``, ... ``relu1``); the last
layer, ``output``, is float32 even under ``mixed_float16``.

Encoder weights: ``"imagenet"`` downloads the ``*_no_top.h5`` file of ``classification_models``
into the Keras cache (``~/.keras/models``) or uses the copy found there; a path loads an
encoder-only file in either format: the legacy ``.h5`` that ``classification_models`` ships, or a
``.weights.h5`` saved with ``encoder.save_weights`` from a ``include_top=False`` backbone.
(To restore a whole trained LinkNet, use ``model.load_weights`` after building.)

Taught in ``notebooks/03_linknet.ipynb``.
"""

from __future__ import annotations

import contextlib
import io
import os

import keras
import numpy as np
from keras import layers

from .unet import check_input_size, final_activation, output_layer


class EncoderWeightsError(RuntimeError):
    """The pretrained encoder weights could not be downloaded (offline, proxy, firewall)."""


def import_sm():
    """``segmentation_models``, imported quietly (it prints its framework on import).

    Importing it through ``segutils`` also guarantees ``SM_FRAMEWORK=tf.keras`` is set first.
    """
    with contextlib.redirect_stdout(io.StringIO()):
        import segmentation_models as sm
    return sm


def imagenet_weights_info(backbone: str) -> dict | None:
    """``name``, ``url`` and ``md5`` of the ImageNet no-top encoder file, or None if unknown.

    From ``classification_models.weights.WEIGHTS_COLLECTION`` (ResNets, SE-ResNets, ResNeXts).
    """
    from classification_models.weights import WEIGHTS_COLLECTION

    for entry in WEIGHTS_COLLECTION:
        if (entry["model"], entry["dataset"], entry["include_top"]) == (backbone, "imagenet", False):
            return entry
    return None


def keras_cache_dir() -> str:
    """Where ``keras.utils.get_file(..., cache_subdir="models")`` looks first."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "models")


def encoder_weights_path(backbone: str, encoder_weights, mirror=None) -> str | None:
    """Resolve ``encoder_weights`` (``"imagenet"``, None or a path) to what sm should load.

    ``"imagenet"`` files come from ``mirror`` (else ``SEGUTILS_MIRROR``) first, then GitHub.

    Raises:
        EncoderWeightsError: the ImageNet download failed; the message says how to fix it.
        FileNotFoundError: ``encoder_weights`` is a path that does not exist.
    """
    if encoder_weights is None:
        return None
    if encoder_weights == "imagenet":
        info = imagenet_weights_info(backbone)
        if info is None:  # weights from another table (EfficientNet, keras-applications): sm fetches them
            return "imagenet"
        from segutils.data.downloads import WEIGHTS, mirror_url

        root = mirror_url(WEIGHTS, mirror)
        origins = ([root[0] + info["name"]] if root else []) + [info["url"]]
        os.makedirs(keras_cache_dir(), exist_ok=True)  # else Keras silently falls back to /tmp/.keras
        errors = []
        for origin in origins:
            try:
                return keras.utils.get_file(
                    info["name"], origin, cache_dir=os.path.dirname(keras_cache_dir()), cache_subdir="models",
                    file_hash=info["md5"], hash_algorithm="md5",
                )
            except Exception as err:  # noqa: BLE001 - try the next origin, then explain
                errors.append(f"{origin} ({type(err).__name__}: {err})")
        raise EncoderWeightsError(
            f"Could not download the ImageNet weights of the {backbone} encoder, {info['name']}, from "
            + " nor from ".join(errors)
            + ".\nFixes:\n"
            f"  1. copy that file (md5 {info['md5']}) to {os.path.join(keras_cache_dir(), info['name'])} "
            "(the Keras cache) and run again, or run `make data` while online;\n"
            f"  2. in a workshop, set SEGUTILS_MIRROR to the instructor's mirror "
            f"(it serves {WEIGHTS}/{info['name']});\n"
            f"  3. or pass its path: build_linknet(..., encoder_weights='/path/to/{info['name']}');\n"
            "  4. or train the encoder from scratch: encoder_weights=None."
        )
    path = os.fspath(encoder_weights)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"encoder_weights={path!r} is not a file. Pass 'imagenet', None, or the path of an encoder "
            "weights file (.h5 from classification_models, or .weights.h5)."
        )
    return path


def preprocessing_affine(backbone: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel ``(scale, offset)`` with ``sm.get_preprocessing(backbone)(x) == x * scale + offset``.

    Measured on probe images in 0..255. ResNets give ``(1, 0)``: the identity.

    Raises:
        ValueError: the preprocessing mixes or reorders channels (e.g. 'caffe' mode, RGB to BGR).
    """
    fn = import_sm().get_preprocessing(backbone)
    probes = np.zeros((5, 1, 1, 3), "float32")
    probes[1:4, 0, 0] = 255.0 * np.eye(3)
    probes[4] = 127.0
    out = np.asarray(fn(probes.copy()), "float64")[:, 0, 0]
    offset, matrix = out[0], (out[1:4] - out[0]) / 255.0
    scale = np.diag(matrix)
    if not (np.allclose(matrix, np.diag(scale), atol=1e-6) and np.allclose(out[4], offset + 127 * scale)):
        raise ValueError(
            f"The preprocessing of {backbone!r} is not a per-channel scale and offset (it mixes or "
            "reorders channels), so build_linknet cannot fold it into a Rescaling layer. Use a ResNet, "
            "SE-ResNet, ResNeXt or EfficientNet backbone."
        )
    return scale, offset


def _rewire(obj, old: str, new: list):
    """Replace references to layer ``old`` in a functional config by ``new`` (``[name, node, index]``)."""
    if isinstance(obj, dict):
        if obj.get("keras_history", [None])[0] == old:
            return {**obj, "keras_history": list(new)}
        return {k: _rewire(v, old, new) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_rewire(v, old, new) for v in obj)
    return obj


def prepend(prefix: keras.Model, core: keras.Model, name: str) -> keras.Model:
    """One flat model ``core(prefix(x))`` that shares ``core``'s weights and layer names.

    Calling ``core`` on ``prefix``'s output would nest it as a single layer; instead the
    functional configs are joined (``core``'s input replaced by ``prefix``'s output) and the
    weights copied layer by layer.
    """
    pre, body = prefix.get_config(), core.get_config()
    old = body["input_layers"][0] if isinstance(body["input_layers"][0], list) else body["input_layers"]
    new = pre["output_layers"][0] if isinstance(pre["output_layers"][0], list) else pre["output_layers"]
    stack = pre["layers"] + [_rewire(cfg, old[0], new) for cfg in body["layers"] if cfg["name"] != old[0]]
    model = keras.Model.from_config({**body, "name": name, "layers": stack, "input_layers": pre["input_layers"]})
    for layer in core.layers:
        if layer.weights:
            model.get_layer(layer.name).set_weights(layer.get_weights())
    return model


def build_linknet(
    input_shape,
    num_classes: int,
    backbone: str = "resnet34",
    encoder_weights="imagenet",
    encoder_freeze: bool = False,
    decoder_block_type: str = "transpose",
    logits: bool = False,
) -> keras.Model:
    """LinkNet with a pretrained encoder, built by ``segmentation_models.Linknet``.

    ``sm.Linknet`` is built for 3 channels, then prefixed by ``gray_to_rgb`` (if C = 1) and
    ``preprocess``, and suffixed by the float32 ``output`` layer: these add 0 parameters. sm's
    decoder has 5 blocks (4 skips: ``stage4_unit1_relu1``, ``stage3_unit1_relu1``,
    ``stage2_unit1_relu1``, ``relu0``) and a 3x3 head, unlike the paper's 4 blocks and final block.

    Args:
        input_shape: ``(H, W, C)`` with C in {1, 3}; H, W multiples of 32 or None.
        num_classes: output channels; 1 gives a sigmoid, more a softmax.
        backbone: any sm backbone with per-channel affine preprocessing (see module docstring).
        encoder_weights: ``"imagenet"``, None (random) or the path of an encoder weights file.
        encoder_freeze: make the encoder's layers, except BatchNorm, non-trainable (warm-up).
        decoder_block_type: ``"transpose"`` (4x4 transposed conv) or ``"upsampling"``.
        logits: return raw scores instead of probabilities.

    Returns:
        A flat ``keras.Model`` named ``linknet_{backbone}``, float32 [0, 1] in, ``(B, H, W,
        num_classes)`` out.

    Raises:
        EncoderWeightsError: ``"imagenet"`` and the download failed (offline).
        ValueError: C not 1 or 3, or H, W not multiples of 32.
    """
    sm = import_sm()
    height, width, channels = tuple(input_shape)
    if channels not in (1, 3):
        raise ValueError(f"build_linknet needs 1 or 3 input channels, got input_shape={tuple(input_shape)}")
    check_input_size((height, width), 32, f"LinkNet-{backbone}")
    scale, offset = preprocessing_affine(backbone)
    weights = encoder_weights_path(backbone, encoder_weights)
    activation = final_activation(num_classes, logits)
    try:
        core = sm.Linknet(
            backbone, input_shape=(height, width, 3), classes=num_classes, activation=activation,
            encoder_weights=weights, encoder_freeze=encoder_freeze, decoder_block_type=decoder_block_type,
        )
    except Exception as err:
        if weights == "imagenet" and "URL fetch failure" in str(err):
            raise EncoderWeightsError(
                f"Could not download the ImageNet weights of the {backbone} encoder ({err}). Put the file "
                f"in {keras_cache_dir()}, or use encoder_weights=None."
            ) from err
        raise

    image = keras.Input((height, width, channels), name="image")
    x = layers.Concatenate(name="gray_to_rgb")([image] * 3) if channels == 1 else image
    if np.allclose(scale, scale[0]) and np.allclose(offset, offset[0]):  # one number, e.g. 255 and 0
        x = layers.Rescaling(255.0 * float(scale[0]), float(offset[0]), name="preprocess")(x)
    else:
        x = layers.Rescaling([255.0 * float(s) for s in scale], [float(o) for o in offset], name="preprocess")(x)
    model = prepend(keras.Model(image, x), core, name=f"linknet_{backbone}")
    out = layers.Activation("linear", dtype="float32", name="output")(model.output)
    return keras.Model(model.input, out, name=f"linknet_{backbone}")


def linknet_decoder_block(x, skip, filters: int, name: str, strides: int = 2):
    """The paper's decoder block (Fig. 3): ``m`` channels in, ``n = filters`` out, then ``+ skip``.

    1x1 conv m -> m/4, BN, ReLU; 3x3 transposed conv m/4 -> m/4 with stride 2, BN, ReLU;
    1x1 conv m/4 -> n, BN, ReLU; add ``skip`` (the encoder's input at this level) if given.
    Convs have no bias (BatchNorm follows), so the block has
    ``m*m/4 + 9*(m/4)**2 + (m/4)*n`` weights and ``4*(m/4 + m/4 + n)`` BatchNorm parameters
    (m=256, n=128: 61,440 + 1,024 = 62,464).

    Args:
        x: ``(B, H, W, m)``.
        skip: ``(B, H*strides, W*strides, n)`` or None.
        filters: ``n``.
        name: prefix of the layers (``{name}_conv1``, ``{name}_tconv2``, ``{name}_conv3``, ``{name}_add``).
        strides: 2 (the paper), or 1 where the encoder level did not down-sample.

    Returns:
        ``(B, H*strides, W*strides, n)``.
    """
    mid = x.shape[-1] // 4
    for i, (conv, kernel, ch) in enumerate(((layers.Conv2D, 1, mid), (layers.Conv2DTranspose, 3, mid),
                                            (layers.Conv2D, 1, filters)), start=1):
        kind = "tconv" if conv is layers.Conv2DTranspose else "conv"
        step = strides if i == 2 else 1
        x = conv(ch, kernel, strides=step, padding="same", use_bias=False, name=f"{name}_{kind}{i}")(x)
        x = layers.BatchNormalization(name=f"{name}_bn{i}")(x)
        x = layers.Activation("relu", name=f"{name}_relu{i}")(x)
    return x if skip is None else layers.Add(name=f"{name}_add")([x, skip])


def _conv_bn_relu(x, filters: int, kernel: int, strides: int, name: str, relu: bool = True, conv=layers.Conv2D):
    x = conv(filters, kernel, strides=strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x) if relu else x


def residual_block(x, filters: int, strides: int, name: str):
    """ResNet basic block (He et al. 2016): two 3x3 conv-BN, a 1x1 projection when the shape changes."""
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        shortcut = _conv_bn_relu(x, filters, 1, strides, f"{name}_sc", relu=False)
    y = _conv_bn_relu(x, filters, 3, strides, f"{name}_a")
    y = _conv_bn_relu(y, filters, 3, 1, f"{name}_b", relu=False)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.Activation("relu", name=f"{name}_relu")(y)


def build_linknet_scratch(input_shape, num_classes: int, blocks=(2, 2, 2, 2), logits: bool = False) -> keras.Model:
    """The paper's LinkNet on a plain-Keras ResNet encoder (ResNet18 by default), no pretrained weights.

    Initial block: 7x7 conv /2, BN, ReLU, 3x3 max-pool /2. Encoder ``enc1..enc4``: ResNet stages of
    64, 128, 256, 512 channels (``enc1`` keeps the resolution, the others halve it). Decoder
    ``dec4..dec1``: :func:`linknet_decoder_block` with (m, n) = (512, 256), (256, 128),
    (128, 64), (64, 64), each adding the input of its encoder (``dec1`` has stride 1, like
    ``enc1``). Final block: 3x3 transposed conv /2 to 32, 3x3 conv 32, 2x2 transposed conv /2 to
    ``num_classes``. With 3 channels and 12 classes: 11,546,444 parameters (paper: 11.5 M).

    Args:
        input_shape: ``(H, W, C)``, H and W multiples of 32 or None; float32 in [0, 1].
        num_classes: output channels; 1 gives a sigmoid, more a softmax.
        blocks: residual blocks per stage; (3, 4, 6, 3) gives ResNet34.
        logits: return raw scores instead of probabilities.

    Returns:
        A ``keras.Model`` named ``linknet_scratch``.
    """
    input_shape = tuple(input_shape)
    check_input_size(input_shape, 32, "LinkNet")
    inputs = keras.Input(input_shape, name="image")
    x = _conv_bn_relu(inputs, 64, 7, 2, "init")
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="init_pool")(x)
    stage_inputs = []
    for k, (filters, reps) in enumerate(zip((64, 128, 256, 512), blocks, strict=True), start=1):
        stage_inputs.append(x)
        for j in range(1, reps + 1):
            x = residual_block(x, filters, 2 if (j == 1 and k > 1) else 1, f"enc{k}_block{j}")
    for k in range(4, 0, -1):
        skip = stage_inputs[k - 1]
        x = linknet_decoder_block(x, skip, skip.shape[-1], f"dec{k}", strides=1 if k == 1 else 2)
    x = _conv_bn_relu(x, 32, 3, 2, "final1", conv=layers.Conv2DTranspose)
    x = _conv_bn_relu(x, 32, 3, 1, "final2")
    x = layers.Conv2DTranspose(num_classes, 2, strides=2, padding="same", name="final3_tconv")(x)
    return keras.Model(inputs, output_layer(x, num_classes, logits), name="linknet_scratch")
