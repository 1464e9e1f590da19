"""Export a trained model by Keras' ``model.export`` (SavedModel, ONNX, LiteRT), load it back without Keras and
compare its predictions with Keras'. Taught in ``notebooks/07_inference.ipynb``."""

import contextlib
import importlib.util
import logging
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow as tf

from .checks import writable
from .speed import median_ms

#: The formats :func:`export_model` writes, in the order of the notebook's table.
FORMATS = ("saved_model", "onnx", "litert", "litert_fp16", "litert_int8")
#: File or directory name of each format inside the export directory.
FILENAMES = {"saved_model": "saved_model", "onnx": "model.onnx", "litert": "model.tflite",
             "litert_fp16": "model_fp16.tflite", "litert_int8": "model_int8.tflite"}
#: Largest absolute difference from Keras' outputs each format is held to (of a trained model): SavedModel runs
#: the same graph; ONNX and LiteRT sum float32 in another order; float16 keeps 11 bits, int8 256 levels a tensor.
TOLERANCE = {"saved_model": 1e-6, "onnx": 1e-4, "litert": 1e-4, "litert_fp16": 5e-2, "litert_int8": 2.5e-1}
#: What each format needs besides TensorFlow, to export it and to run it back.
NEEDS = {"onnx": ("tf2onnx", "onnx", "onnxruntime")}
#: LiteRT converter settings: the default optimisation stores int8 weights; with float16 supported, float16 weights.
LITERT_OPTIONS = {
    "litert_int8": {"optimizations": [tf.lite.Optimize.DEFAULT]},
    "litert_fp16": {"optimizations": [tf.lite.Optimize.DEFAULT], "target_spec": {"supported_types": [tf.float16]}},
}


class ExportUnavailable(RuntimeError):
    """A format cannot be written or run here; the message says why and what to install."""


def check_available(fmt: str) -> None:
    """Raise :class:`ExportUnavailable` if ``fmt`` is unknown or its packages are missing."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose from {FORMATS}")
    missing = [name for name in NEEDS.get(fmt, ()) if importlib.util.find_spec(name) is None]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise ExportUnavailable(f"{fmt} export needs {', '.join(missing)}, which {verb} not installed. Install the "
                                f"locked versions with `pip install -c constraints.txt {' '.join(missing)}` "
                                "(`make test` installs them with the test extras).")


def export_model(model, directory, fmt: str, overwrite: bool = False) -> Path:
    """Write ``model`` (its input signature kept) in format ``fmt`` under ``directory``; returns the path written.
    Raises :class:`ExportUnavailable` when packages are missing, FileExistsError over an earlier export unless
    ``overwrite``."""
    check_available(fmt)
    path = Path(directory).expanduser() / FILENAMES[fmt]
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} holds an earlier {fmt} export: pass overwrite=True to replace it, "
                              "or export into another directory")
    part, old = (path.with_name(f".{tag}-{path.name}") for tag in ("part", "old"))  # written beside, then swapped
    writable(path.parent, f"the {fmt} export")
    for stale in (part, old):
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink(missing_ok=True)
    shape = [1] + [32 if side is None else side for side in model.input_shape[1:]]  # unknown sides as 32
    model(np.zeros(shape, np.float32), training=False)  # so that Keras' export sees it was called
    kind = {"saved_model": "tf_saved_model", "onnx": "onnx"}.get(fmt, "litert")
    try:
        with _quiet():
            model.export(str(part), format=kind, verbose=False, **LITERT_OPTIONS.get(fmt, {}))
        if path.exists():
            path.rename(old)
        part.rename(path)
    finally:  # a failed export leaves the earlier one in place
        if old.exists() and not path.exists():
            old.rename(path)
        for stale in (part, old):
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink(missing_ok=True)
    return path


@contextlib.contextmanager
def _quiet():
    """Hide TensorFlow's 'Assets written to' lines and the FutureWarning of Keras' tf2onnx patch."""
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():  # Keras' tf2onnx patch probes np.object, which NumPy 2 warns about
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        logger.setLevel(level)


def size_bytes(path) -> int:
    """Bytes of a file, or of every file under a folder (a SavedModel)."""
    path = Path(path)
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def load_exported(path, fmt: str) -> Callable[[np.ndarray], np.ndarray]:
    """An exported artifact loaded back without Keras, as ``predict(float32 (B, H, W, C) images) -> outputs``."""
    check_available(fmt)
    path = str(Path(path).expanduser())
    if fmt == "saved_model":
        loaded = tf.saved_model.load(path)  # the closure keeps it (and its variables) alive
        return lambda images: loaded.serve(np.asarray(images, np.float32)).numpy()
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return lambda images: session.run(None, {name: np.asarray(images, np.float32)})[0]
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # TensorFlow's own, deprecated in favour of ai_edge_litert
        Interpreter = tf.lite.Interpreter
    interpreter = Interpreter(model_path=path)
    interpreter.allocate_tensors()

    def predict(images):
        images = np.asarray(images, np.float32)
        (given,) = interpreter.get_input_details()
        if tuple(given["shape"]) != images.shape:  # a dynamic-size model is resized to each new shape
            interpreter.resize_tensor_input(given["index"], images.shape)
            interpreter.allocate_tensors()
        interpreter.set_tensor(given["index"], images)
        interpreter.invoke()
        return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy()

    return predict


def compare_exports(model, images, directory, formats=FORMATS, repeats: int = 5,
                    overwrite: bool = False) -> list[dict]:
    """Export ``model`` in each of ``formats``, load it back and run it on ``images`` (float32 ``(B, H, W, C)`` in
    [0, 1]), ``repeats`` timed calls; ``overwrite`` as in :func:`export_model`. Returns one row per format, Keras
    first: ``format``, ``path``, ``bytes``, ``ms`` (median for the batch), ``max_abs_diff`` (from Keras' outputs),
    ``tolerance``, ``outputs`` and ``error`` (``None``, or why the format could not be produced; then the other
    fields are ``None``). Taught in ``notebooks/07_inference.ipynb``."""
    images = np.asarray(images, np.float32)
    directory = writable(directory, "the exports")
    if (directory / "model.keras").exists() and not overwrite:
        raise FileExistsError(f"{directory} holds an earlier export (model.keras): pass overwrite=True to replace "
                              "it, or export into another directory")
    model.save(directory / "model.keras")
    reference = np.asarray(model.predict_on_batch(images))
    rows = [dict(format="keras", path=directory / "model.keras", bytes=size_bytes(directory / "model.keras"),
                 ms=median_ms(lambda: model.predict_on_batch(images), repeats), max_abs_diff=0.0,
                 tolerance=0.0, outputs=reference, error=None)]
    for fmt in formats:
        row = dict(format=fmt, path=None, bytes=None, ms=None, max_abs_diff=None, tolerance=TOLERANCE[fmt],
                   outputs=None, error=None)
        try:
            row["path"] = export_model(model, directory, fmt, overwrite)
            predict = load_exported(row["path"], fmt)
        except ExportUnavailable as err:
            row["error"] = str(err)
        else:
            outputs = np.asarray(predict(images))
            row.update(bytes=size_bytes(row["path"]), ms=median_ms(lambda p=predict: p(images), repeats),
                       max_abs_diff=float(np.abs(outputs - reference).max()), outputs=outputs)
        rows.append(row)
    return rows
