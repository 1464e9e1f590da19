"""Data: registry, loading (files already on disk; ``make data`` or ``course.fetch`` downloads them), synthetic
shapes, the tf.data pipeline. Taught in ``notebooks/01_data.ipynb``."""

import importlib

from .loading import DataError, Split, load
from .registry import DATASETS, DatasetInfo, info
from .shapes import make_shapes

_PIPELINE = {"make_dataset": "pipeline", "describe": "pipeline", "MaskFormat": "pipeline", "ImageFormat": "pipeline",
             "AugmentConfig": "augment"}


def __getattr__(name: str):  # lazy: the pipeline's names import TensorFlow, so loading data starts without it
    if name not in _PIPELINE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_PIPELINE[name]}"), name)
