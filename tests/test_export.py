"""Export through model.export: SavedModel, ONNX and LiteRT load back and predict like the Keras model."""

import importlib.util

import keras
import numpy as np
import pytest

from segutils import export
from segutils.models import build_unet


@pytest.fixture(scope="module")
def unet():
    keras.utils.set_random_seed(0)
    return build_unet((None, None, 1), 1, filters=4, depth=2)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((2, 64, 48, 1), dtype="float32")


@pytest.fixture(scope="module")
def exported(unet, tmp_path_factory):
    directory = tmp_path_factory.mktemp("export")
    return {fmt: export.export_model(unet, directory, fmt) for fmt in export.FORMATS}


@pytest.mark.parametrize("fmt", export.FORMATS)
def test_each_format_loads_back_and_predicts_like_keras(unet, images, exported, fmt):
    predict = export.load_exported(exported[fmt], fmt)
    expected = unet.predict_on_batch(images)
    outputs = predict(images)
    assert outputs.shape == (2, 64, 48, 1) and outputs.dtype == np.float32
    assert np.abs(outputs - expected).max() <= export.TOLERANCE[fmt]
    # exported for any size: a second, different shape works too (LiteRT resizes its input)
    other = np.random.default_rng(1).random((1, 32, 96, 1), dtype="float32")
    assert np.abs(predict(other) - unet.predict_on_batch(other)).max() <= export.TOLERANCE[fmt]


def test_files_and_their_sizes(exported):
    assert exported["saved_model"].is_dir() and (exported["saved_model"] / "saved_model.pb").is_file()
    assert [exported[f].name for f in ("onnx", "litert", "litert_fp16")] == [
        "model.onnx",
        "model.tflite",
        "model_fp16.tflite",
    ]
    sizes = {fmt: export.size_bytes(path) for fmt, path in exported.items()}
    folder = sum(p.stat().st_size for p in exported["saved_model"].rglob("*") if p.is_file())
    assert sizes["saved_model"] == folder
    # 7,397 float32 parameters are 29.6 kB of the 38 kB file: float16 weights save about a third of it
    assert sizes["litert"] > 4 * 7_397
    assert sizes["litert_fp16"] < 0.75 * sizes["litert"]
    assert sizes["litert_int8"] < sizes["litert"]


def test_the_tiny_unet_has_the_parameters_the_size_test_assumes(unet):
    # 188 (enc1) + 880 (enc2) + 3,488 (bottleneck) + 2,264 (dec2) + 572 (dec1) + 5 (head)
    assert unet.count_params() == 7_397


def test_unknown_format_is_a_value_error():
    with pytest.raises(ValueError, match=r"unknown export format 'tflite'; choose from \('saved_model', 'onnx'"):
        export.check_available("tflite")


def test_a_missing_package_says_what_to_install(monkeypatch, unet, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "tf2onnx" else real(name))
    with pytest.raises(export.ExportUnavailable) as caught:
        export.export_model(unet, tmp_path, "onnx")
    assert str(caught.value) == (
        "onnx export needs tf2onnx, which is not installed. Install the locked versions with "
        "`pip install -c constraints.txt tf2onnx` (`make test` installs them with the test extras)."
    )
    assert not (tmp_path / "model.onnx").exists()


def test_compare_exports_makes_the_table(monkeypatch, unet, images, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "onnxruntime" else real(name))
    rows = export.compare_exports(unet, images, tmp_path, formats=("onnx", "litert"), repeats=2)
    assert [r["format"] for r in rows] == ["keras", "onnx", "litert"]
    keras_row, onnx_row, litert_row = rows
    assert keras_row["bytes"] == (tmp_path / "model.keras").stat().st_size and keras_row["max_abs_diff"] == 0
    assert onnx_row["error"].startswith("onnx export needs onnxruntime, which is not installed")
    assert onnx_row["bytes"] is None and onnx_row["outputs"] is None
    assert litert_row["error"] is None and litert_row["bytes"] == (tmp_path / "model.tflite").stat().st_size
    assert litert_row["ms"] > 0 and litert_row["max_abs_diff"] <= export.TOLERANCE["litert"]
    np.testing.assert_allclose(litert_row["outputs"], keras_row["outputs"], atol=export.TOLERANCE["litert"])


@pytest.mark.parametrize("how", ["freshly built", "loaded"])
def test_onnx_export_of_a_model_keras_never_called(how, tmp_path):
    keras.utils.set_random_seed(0)
    model = build_unet((None, None, 1), 1, filters=4, depth=2)
    if how == "loaded":
        model.save(tmp_path / "m.keras")
        model = keras.models.load_model(tmp_path / "m.keras")
    path = export.export_model(model, tmp_path / "out", "onnx")  # Keras alone: "The model provided has never called"
    images = np.random.default_rng(0).random((1, 32, 64, 1), dtype="float32")
    outputs = export.load_exported(path, "onnx")(images)
    assert np.abs(outputs - model.predict_on_batch(images)).max() <= export.TOLERANCE["onnx"]


def test_an_earlier_export_is_not_overwritten_without_overwrite_true(unet, images, tmp_path):
    first = export.export_model(unet, tmp_path, "litert")
    first.write_bytes(b"an earlier export")
    with pytest.raises(FileExistsError, match=rf"^{first} holds an earlier litert export: pass overwrite=True to "
                                              "replace it, or export into another directory$"):
        export.export_model(unet, tmp_path, "litert")
    assert first.read_bytes() == b"an earlier export"
    assert export.export_model(unet, tmp_path, "litert", overwrite=True) == first
    assert first.stat().st_size > 4 * 7_397
    saved = export.export_model(unet, tmp_path, "saved_model")
    with pytest.raises(FileExistsError, match="holds an earlier saved_model export"):
        export.export_model(unet, tmp_path, "saved_model")
    assert export.export_model(unet, tmp_path, "saved_model", overwrite=True) == saved
    export.compare_exports(unet, images, tmp_path / "table", formats=(), repeats=1)
    with pytest.raises(FileExistsError, match=r"holds an earlier export \(model.keras\): pass overwrite=True"):
        export.compare_exports(unet, images, tmp_path / "table", formats=(), repeats=1)
    rows = export.compare_exports(unet, images, tmp_path, formats=("litert",), repeats=1, overwrite=True)
    assert rows[1]["error"] is None and rows[1]["max_abs_diff"] <= export.TOLERANCE["litert"]
