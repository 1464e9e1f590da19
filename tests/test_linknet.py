"""LinkNet: counts against segmentation_models, grayscale input, encoder weights, saving, the paper's blocks."""

import keras
import numpy as np
import pytest

from segutils.models import EncoderWeightsError, build_linknet, build_linknet_scratch, linknet_decoder_block
from segutils.models.linknet import import_sm

SM_LINKNET_RESNET34 = {1: 21_791_386, 12: 21_792_981}  # sm.Linknet("resnet34", decoder_block_type="transpose")
SCRATCH_RESNET18_12_CLASSES = 11_546_444  # the paper (Chaurasia & Culurciello 2017) reports 11.5 M
SIZES = [(128, 128), (256, 256), (352, 480)]  # (H, W): 480x352 is W x H

def run(model, x):
    """Inference without tracing a tf.function (``predict`` costs seconds per new model)."""
    return keras.ops.convert_to_numpy(model(x, training=False))



@pytest.fixture(scope="module")
def sm():
    return import_sm()


@pytest.fixture(scope="module")
def linknets():
    """build_linknet for 1 and 12 classes (3 channels) and 1 class on grayscale, random encoder."""
    keras.backend.clear_session()
    return {
        (1, 3): build_linknet((None, None, 3), 1, encoder_weights=None),
        (12, 3): build_linknet((None, None, 3), 12, encoder_weights=None),
        (1, 1): build_linknet((None, None, 1), 1, encoder_weights=None),
    }


@pytest.fixture
def mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    yield
    keras.mixed_precision.set_global_policy("float32")


@pytest.fixture(scope="module")
def resnet34_encoder():
    """A standalone resnet34 encoder as classification_models builds it, with non-default weights."""
    from classification_models.tfkeras import Classifiers

    encoder = Classifiers.get("resnet34")[0](input_shape=(None, None, 3), weights=None, include_top=False)
    rng = np.random.default_rng(0)
    encoder.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in encoder.get_weights()])
    return encoder


def test_sm_preprocessing_of_resnet34_is_the_identity(sm):
    x = np.random.default_rng(0).uniform(0, 255, (1, 4, 4, 3)).astype("float32")
    np.testing.assert_array_equal(sm.get_preprocessing("resnet34")(x.copy()), x)


@pytest.mark.parametrize("classes", [1, 12])
def test_parameter_count_equals_sm_linknet(sm, linknets, classes):
    reference = sm.Linknet("resnet34", input_shape=(None, None, 3), classes=classes, encoder_weights=None,
                           decoder_block_type="transpose", activation="sigmoid" if classes == 1 else "softmax")
    assert reference.count_params() == SM_LINKNET_RESNET34[classes]
    assert linknets[(classes, 3)].count_params() == reference.count_params()
    model = linknets[(classes, 3)]
    assert sorted(tuple(w.shape) for w in model.weights) == sorted(tuple(w.shape) for w in reference.weights)
    named = {layer.name for layer in reference.layers if layer.weights and not layer.name.startswith("conv2d")}
    assert named <= {layer.name for layer in model.layers}  # sm's names, bar its unnamed 3x3 head


def test_grayscale_adds_no_parameters_and_no_custom_layers(linknets):
    gray, rgb = linknets[(1, 1)], linknets[(1, 3)]
    assert gray.count_params() == rgb.count_params()
    assert [layer.name for layer in gray.layers[:4]] == ["image", "gray_to_rgb", "preprocess", "bn_data"]
    assert isinstance(gray.get_layer("gray_to_rgb"), keras.layers.Concatenate)
    assert isinstance(gray.get_layer("preprocess"), keras.layers.Rescaling)
    assert all(type(layer).__module__.startswith("keras.") for layer in gray.layers)
    front = keras.Model(gray.input, gray.get_layer("preprocess").output)
    x = np.random.default_rng(0).random((1, 32, 32, 1), dtype="float32")
    np.testing.assert_allclose(run(front, x), np.repeat(x * 255, 3, axis=-1), rtol=1e-6)


@pytest.mark.parametrize("classes", [1, 12])
def test_output_shapes(linknets, classes):
    model = linknets[(classes, 3)]
    for height, width in SIZES:
        y = run(model, np.random.rand(1, height, width, 3).astype("float32"))
        assert y.shape == (1, height, width, classes) and y.dtype == np.float32


def test_grayscale_output_shape(linknets):
    y = run(linknets[(1, 1)], np.zeros((2, 352, 480, 1), "float32"))
    assert y.shape == (2, 352, 480, 1)


@pytest.mark.parametrize("key", [(1, 1), (12, 3)])
def test_save_and_load_round_trip(tmp_path, linknets, key):
    model = linknets[key]
    x = np.random.default_rng(1).random((1, 64, 64, key[1]), dtype="float32")
    model.save(tmp_path / "x.keras")
    loaded = keras.models.load_model(tmp_path / "x.keras")
    np.testing.assert_allclose(run(loaded, x), run(model, x), atol=1e-6)


@pytest.mark.parametrize("filename", ["encoder.weights.h5", "encoder.h5"])
def test_encoder_weights_from_a_file(tmp_path, resnet34_encoder, filename):
    """A path loads an encoder-only file, Keras 3 (.weights.h5) or legacy (.h5, like ImageNet's)."""
    path = tmp_path / filename
    if filename.endswith(".weights.h5"):
        resnet34_encoder.save_weights(path)
    else:
        resnet34_encoder.save(path)  # legacy HDF5: the format classification_models ships
    model = build_linknet((None, None, 1), 1, encoder_weights=str(path))
    compared = 0
    for layer in (layer for layer in resnet34_encoder.layers if layer.weights):
        for expected, got in zip(layer.get_weights(), model.get_layer(layer.name).get_weights(), strict=True):
            np.testing.assert_array_equal(got, expected)
            compared += 1
    assert compared == 176


def test_missing_weights_file():
    with pytest.raises(FileNotFoundError, match="not a file"):
        build_linknet((64, 64, 3), 1, encoder_weights="/nonexistent/resnet34.h5")


def test_offline_imagenet_download_raises_a_helpful_error(monkeypatch):
    calls = []

    def offline(fname, origin, **kwargs):
        calls.append((fname, origin))
        raise Exception(f"URL fetch failure on {origin}: None -- [Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    monkeypatch.setenv("KERAS_HOME", "/somewhere/.keras")
    monkeypatch.delenv("SEGUTILS_MIRROR", raising=False)
    with pytest.raises(EncoderWeightsError) as err:
        build_linknet((64, 64, 1), 1, encoder_weights="imagenet")
    assert isinstance(err.value, RuntimeError)
    message = str(err.value)
    url = "https://github.com/qubvel/classification_models/releases/download/0.0.1/resnet34_imagenet_1000_no_top.h5"
    assert calls == [("resnet34_imagenet_1000_no_top.h5", url)]
    assert url in message and "/somewhere/.keras/models/resnet34_imagenet_1000_no_top.h5" in message
    assert "encoder_weights=None" in message and "encoder_weights='/path/to/" in message
    assert "Temporary failure in name resolution" in message


def test_encoder_freeze_leaves_decoder_and_batchnorm_trainable(linknets):
    frozen = build_linknet((64, 64, 3), 1, encoder_weights=None, encoder_freeze=True)
    assert not frozen.get_layer("conv0").trainable and frozen.get_layer("bn0").trainable
    assert frozen.get_layer("decoder_stage0a_conv").trainable
    trainable = sum(int(np.prod(w.shape)) for w in frozen.trainable_weights)
    assert 0 < trainable < sum(int(np.prod(w.shape)) for w in linknets[(1, 3)].trainable_weights)


def test_bad_inputs():
    with pytest.raises(ValueError, match="height 100 \\(nearest valid sizes: 96 or 128\\)"):
        build_linknet((100, 128, 3), 1, encoder_weights=None)
    with pytest.raises(ValueError, match="1 or 3 input channels"):
        build_linknet((64, 64, 2), 1, encoder_weights=None)
    with pytest.raises(ValueError, match="per-channel"):
        build_linknet((64, 64, 3), 1, backbone="vgg16", encoder_weights=None)


def test_mixed_precision_output_is_float32(mixed_precision):
    model = build_linknet((64, 64, 1), 2, encoder_weights=None)
    assert model.get_layer("conv0").compute_dtype == "float16"
    assert model.output.dtype == "float32"
    scratch = build_linknet_scratch((64, 64, 1), 2)
    assert scratch.get_layer("init_conv").compute_dtype == "float16" and scratch.output.dtype == "float32"


# --- the paper's LinkNet, by hand -------------------------------------------------------------


def decoder_block_params(m, n):
    """1x1 m->m/4, 3x3 m/4->m/4, 1x1 m/4->n, no bias; BatchNorm has 4 numbers per channel."""
    q = m // 4
    return m * q + 9 * q * q + q * n + 4 * (q + q + n)


@pytest.mark.parametrize("m,n,strides", [(256, 128, 2), (512, 256, 2), (64, 64, 1)])
def test_decoder_block_shape_and_parameters(m, n, strides):
    x = keras.Input((8, 8, m))
    skip = keras.Input((8 * strides, 8 * strides, n))
    y = linknet_decoder_block(x, skip, n, "dec", strides=strides)
    assert y.shape == (None, 8 * strides, 8 * strides, n)
    block = keras.Model([x, skip], y)
    assert block.count_params() == decoder_block_params(m, n)
    assert decoder_block_params(256, 128) == 62_464
    assert isinstance(block.get_layer("dec_tconv2"), keras.layers.Conv2DTranspose)
    assert isinstance(block.get_layer("dec_add"), keras.layers.Add)


def test_scratch_linknet_resnet18_matches_the_paper_size():
    model = build_linknet_scratch((352, 480, 3), 12)
    assert model.count_params() == SCRATCH_RESNET18_12_CLASSES
    assert abs(model.count_params() - 11.5e6) / 11.5e6 < 0.02
    decoder = sum(layer.count_params() for layer in model.layers if layer.name.startswith("dec"))
    assert decoder == sum(decoder_block_params(m, n) for m, n in [(512, 256), (256, 128), (128, 64), (64, 64)])


@pytest.mark.parametrize("classes", [1, 12])
def test_scratch_output_shapes(classes):
    model = build_linknet_scratch((None, None, 3), classes)
    for height, width in SIZES:
        assert run(model, np.zeros((1, height, width, 3), "float32")).shape == (
            1, height, width, classes)


def test_scratch_save_and_load_round_trip(tmp_path):
    model = build_linknet_scratch((64, 64, 1), 3)
    x = np.random.default_rng(2).random((2, 64, 64, 1), dtype="float32")
    model.save(tmp_path / "x.keras")
    loaded = keras.models.load_model(tmp_path / "x.keras")
    np.testing.assert_allclose(run(loaded, x), run(model, x), atol=1e-6)


@pytest.fixture
def fake_weights(tmp_path, monkeypatch):
    """A weights file on a workshop mirror folder, registered under a made-up pinned URL."""
    import hashlib

    from segutils.models import weights

    served = tmp_path / "mirror" / "weights" / "resnet34_imagenet_1000_no_top.h5"
    served.parent.mkdir(parents=True)
    served.write_bytes(b"not really weights, but the md5 matches" * 100)
    entry = {
        "name": served.name,
        "url": "http://127.0.0.1:9/unreachable/" + served.name,  # port 9 (discard): refused at once
        "md5": hashlib.md5(served.read_bytes()).hexdigest(),
    }
    monkeypatch.setattr(weights, "imagenet_weights_info", lambda backbone: entry)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("SEGUTILS_DATA_DIR", str(tmp_path / "data"))
    return served


def test_imagenet_weights_come_from_the_workshop_mirror_first(fake_weights, monkeypatch):
    from segutils.models.weights import encoder_weights_path

    monkeypatch.setenv("SEGUTILS_MIRROR", str(fake_weights.parents[1] / "{name}"))
    path = encoder_weights_path("resnet34", "imagenet")
    assert path == str(fake_weights.parents[2] / "keras" / "models" / fake_weights.name)
    assert open(path, "rb").read() == fake_weights.read_bytes()


def test_without_mirror_or_network_the_error_lists_every_origin(fake_weights, monkeypatch):
    from segutils.models.weights import encoder_weights_path

    monkeypatch.setenv("SEGUTILS_MIRROR", str(fake_weights.parents[2] / "empty" / "{name}"))
    with pytest.raises(EncoderWeightsError) as err:
        encoder_weights_path("resnet34", "imagenet")
    message = str(err.value)
    assert (fake_weights.parents[2] / "empty" / "weights").as_uri() + "/" + fake_weights.name in message
    assert "http://127.0.0.1:9/unreachable/" + fake_weights.name in message
    assert "SEGUTILS_MIRROR to the instructor's mirror (it serves weights/resnet34_imagenet_1000_no_top.h5)" in message


def test_make_data_prefetches_weights_into_the_data_folder_as_a_mirror(fake_weights, monkeypatch):
    from segutils.course.data import PREFETCHERS

    monkeypatch.setenv("SEGUTILS_MIRROR", str(fake_weights.parents[1] / "{name}"))
    copy = PREFETCHERS["resnet34 ImageNet encoder weights"](progress=False)
    assert copy == fake_weights.parents[2] / "data" / "weights" / fake_weights.name
    assert copy.read_bytes() == fake_weights.read_bytes()
    assert not list(copy.parent.glob("*.part"))


def test_download_all_puts_weights_in_the_data_dir_and_mirror_it_names(fake_weights, monkeypatch, tmp_path):
    import hashlib
    import sys

    from segutils.course.data import main

    monkeypatch.setattr(sys.modules["segutils.course.data"], "DOWNLOAD_ALL", ())
    monkeypatch.delenv("SEGUTILS_MIRROR", raising=False)
    mirror = str(fake_weights.parents[1] / "{name}")
    assert main(["download-all", "--data-dir", str(tmp_path / "cli"), "--mirror", mirror, "--quiet"]) == 0
    copy = tmp_path / "cli" / "weights" / fake_weights.name
    assert hashlib.md5(copy.read_bytes()).hexdigest() == hashlib.md5(fake_weights.read_bytes()).hexdigest()
    assert not (tmp_path / "data" / "weights").exists()  # SEGUTILS_DATA_DIR lost to --data-dir
    assert sorted(p.name for p in copy.parent.iterdir()) == [fake_weights.name]  # no .part left
