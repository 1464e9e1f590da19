"""LinkNet (Chaurasia & Culurciello 2017) through segmentation_models, flat, with sm's layer names, a float32
``output``, and ``gray_to_rgb`` and ``preprocess`` (a Rescaling that folds in ``sm.get_preprocessing``) turning [0, 1]
images into what the encoder expects; and the paper's by hand. Taught in ``notebooks/03_linknet.ipynb``."""

import contextlib
import io
import warnings
from collections import Counter

import keras
import numpy as np
from keras import layers

from . import weights
from .unet import check_input_shape, check_input_size, check_sides_on_call, final_activation, output_layer


def import_sm():
    """``segmentation_models``, imported quietly (it prints its framework) after ``SM_FRAMEWORK=tf.keras``."""
    with contextlib.redirect_stdout(io.StringIO()):
        import segmentation_models as sm
    return sm


def load_encoder_weights(core: keras.Model, found: weights.WeightsFile, backbone: str) -> None:
    """Load an encoder-only weights file into ``core``'s encoder; EncoderWeightsError if it holds anything else."""
    stop = next(i for i, layer in enumerate(core.layers) if layer.name.startswith("decoder_"))
    encoder = [layer for layer in core.layers[:stop] if layer.weights]
    expected = [tuple(tuple(w.shape) for w in layer.weights) for layer in encoder]
    if (list(found.layers) if found.names else sorted(found.layers)) != (expected if found.names else sorted(expected)):
        held, need = Counter(found.layers), Counter(expected)
        numbers = sum(int(np.prod(shape)) for layer in expected for shape in layer)
        what = f"the weights of {len(found.layers)} layers ({found.numbers:,} numbers)"
        if len(found.layers) > len(expected) and not need - held:
            extra = [n for n in found.names if n not in {layer.name for layer in encoder}][:2]
            what = f"a whole model: {what}, the encoder's {len(expected)} and {len(found.layers) - len(expected)} " \
                   "more" + (f" ({', '.join(extra)}, ...)" if extra else "")
            fix = "To restore a whole trained model, build it with encoder_weights=None and call " \
                  "model.load_weights(path), or keras.models.load_model(path) for a saved model."
        else:
            what += f", where the {backbone} encoder has {len(expected)} layers with weights ({numbers:,} numbers)"
            fix = f"Pass the file of the {backbone} encoder, or build with the backbone the file was saved from."
        raise weights.weights_file_error(found.path, what, backbone, fix)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            keras.Model(core.input, core.layers[stop - 1].output).load_weights(found.path)
        except Exception as err:  # noqa: BLE001 - one error that names the file and the fix
            what = f"a file Keras cannot load into the encoder ({type(err).__name__}: {str(err)[:300]})"
            fix = "Save encoder weights with encoder.save_weights('x.weights.h5'), or use classification_models' .h5."
            raise weights.weights_file_error(found.path, what, backbone, fix) from err


def preprocessing_affine(backbone: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel ``(scale, offset)`` with ``sm.get_preprocessing(backbone)(x) == x * scale + offset`` on 0..255."""
    fn = import_sm().get_preprocessing(backbone)
    probes = np.zeros((5, 1, 1, 3), "float32")
    probes[1:4, 0, 0] = 255.0 * np.eye(3)
    probes[4] = 127.0
    out = np.asarray(fn(probes.copy()), "float64")[:, 0, 0]
    offset, matrix = out[0], (out[1:4] - out[0]) / 255.0
    scale = np.diag(matrix)
    if not (np.allclose(matrix, np.diag(scale), atol=1e-6) and np.allclose(out[4], offset + 127 * scale)):
        raise ValueError(f"The preprocessing of {backbone!r} is not a per-channel scale and offset (it mixes or "
                         "reorders channels), so build_linknet cannot fold it into a Rescaling layer. Use a ResNet, "
                         "SE-ResNet, ResNeXt or EfficientNet backbone.")
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
    """One flat model ``core(prefix(x))``: the configs joined (calling ``core`` would nest it), the weights copied."""
    pre, body = prefix.get_config(), core.get_config()
    old = body["input_layers"][0] if isinstance(body["input_layers"][0], list) else body["input_layers"]
    new = pre["output_layers"][0] if isinstance(pre["output_layers"][0], list) else pre["output_layers"]
    stack = pre["layers"] + [_rewire(cfg, old[0], new) for cfg in body["layers"] if cfg["name"] != old[0]]
    model = keras.Model.from_config({**body, "name": name, "layers": stack, "input_layers": pre["input_layers"]})
    for layer in core.layers:
        if layer.weights:
            model.get_layer(layer.name).set_weights(layer.get_weights())
    return model


def build_linknet(input_shape, num_classes: int, backbone: str = "resnet34", encoder_weights="imagenet",
                  encoder_freeze: bool = False, decoder_block_type: str = "transpose",
                  logits: bool = False) -> keras.Model:
    """``linknet_{backbone}``: ``sm.Linknet`` for ``input_shape`` ``(H, W, 1 or 3)`` and ``num_classes``;
    ``encoder_weights``: ``"imagenet"``, None, or an encoder-only weights file; ``encoder_freeze`` freezes the
    encoder but BatchNorm; ``decoder_block_type``: ``"transpose"`` or ``"upsampling"``; ``logits``: no activation."""
    return build_on_encoder("Linknet", input_shape, num_classes, backbone, encoder_weights, logits,
                            encoder_freeze=encoder_freeze, decoder_block_type=decoder_block_type)


def build_unet_encoder(input_shape, num_classes: int, backbone: str = "resnet34", encoder_weights="imagenet",
                       logits: bool = False) -> keras.Model:
    """``unet_{backbone}``: sm's U-Net decoder on LinkNet's encoder, as :func:`build_linknet`."""
    return build_on_encoder("Unet", input_shape, num_classes, backbone, encoder_weights, logits)


def build_on_encoder(kind: str, input_shape, num_classes: int, backbone: str, encoder_weights, logits: bool,
                     **sm_kwargs) -> keras.Model:
    """``sm.<kind>`` (``"Linknet"`` or ``"Unet"``) on ``backbone``, flat, with the course's input and output layers."""
    sm = import_sm()
    name = f"{kind.lower()}_{backbone}"
    who = "build_linknet" if kind == "Linknet" else "build_unet_encoder"
    height, width, channels = check_input_shape(input_shape, who)
    if channels not in (1, 3):
        raise ValueError(f"{name} needs 1 or 3 input channels, got input_shape={tuple(input_shape)}")
    check_input_size((height, width), 32, f"{kind}-{backbone}")
    scale, offset = preprocessing_affine(backbone)
    source = weights.encoder_weights_path(backbone, encoder_weights)
    found = weights.read_weights_file(source, backbone) if source not in (None, "imagenet") else None
    try:
        core = getattr(sm, kind)(backbone, input_shape=(height, width, 3), classes=num_classes, **sm_kwargs,
                                 activation=final_activation(num_classes, logits),
                                 encoder_weights=None if found is not None else source)
    except Exception as err:
        if source == "imagenet" and "URL fetch failure" in str(err):
            raise weights.EncoderWeightsError(f"Could not download the ImageNet weights of the {backbone} encoder "
                                              f"({err}). Put the file in {weights.keras_cache_dir()}, or use "
                                              "encoder_weights=None.") from err
        raise
    if found is not None:
        load_encoder_weights(core, found, backbone)

    image = keras.Input((height, width, channels), name="image")
    x = layers.Concatenate(name="gray_to_rgb")([image] * 3) if channels == 1 else image
    x = layers.Rescaling([255.0 * float(s) for s in scale], [float(o) for o in offset], name="preprocess")(x)
    model = prepend(keras.Model(image, x), core, name=name)
    out = layers.Activation("linear", dtype="float32", name="output")(model.output)
    model = keras.Model(model.input, out, name=name)
    return check_sides_on_call(model, 32, f"{kind}-{backbone}")


def linknet_decoder_block(x, skip, filters: int, name: str, strides: int = 2):
    """The paper's decoder block: 1x1 conv to m/4, 3x3 transposed conv (``strides``), 1x1 conv to ``filters``,
    each with BN and ReLU, plus ``skip``."""
    x = _conv_bn_relu(x, x.shape[-1] // 4, 1, 1, name, index=1)
    x = _conv_bn_relu(x, x.shape[-1], 3, strides, name, conv=layers.Conv2DTranspose, index=2)
    x = _conv_bn_relu(x, filters, 1, 1, name, index=3)
    return x if skip is None else layers.Add(name=f"{name}_add")([x, skip])


def _conv_bn_relu(x, filters: int, kernel: int, strides: int, name: str, relu: bool = True, conv=layers.Conv2D,
                  index=""):
    kind = "tconv" if conv is layers.Conv2DTranspose else "conv"
    x = conv(filters, kernel, strides=strides, padding="same", use_bias=False, name=f"{name}_{kind}{index}")(x)
    x = layers.BatchNormalization(name=f"{name}_bn{index}")(x)
    return layers.Activation("relu", name=f"{name}_relu{index}")(x) if relu else x


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
    """The paper's LinkNet, ``linknet_scratch``: a ResNet18 encoder (``blocks=(3, 4, 6, 3)``: 34),
    four :func:`linknet_decoder_block`, and the final block."""
    input_shape = check_input_shape(input_shape, "build_linknet_scratch")
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
