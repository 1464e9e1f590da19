"""Data: dataset registry, verified downloads, loading, synthetic shapes, the tf.data pipeline.

Taught in ``notebooks/01_data.ipynb``.
"""

import importlib

from .fetch.downloads import DownloadError, download  # noqa: F401
from .loading import DataError, Split, load  # noqa: F401
from .registry import DATASETS, DatasetInfo, info  # noqa: F401

# Synthetic shapes (NumPy only) and the tf.data pipeline; the pipeline's names load TensorFlow
# on first use, so `python -m segutils.course.data` (downloads) starts without it.
from .shapes import make_shapes  # noqa: F401

_PIPELINE = {"make_dataset": "pipeline", "describe": "pipeline", "MaskFormat": "pipeline", "ImageFormat": "pipeline",
             "AugmentConfig": "augment"}


def __getattr__(name: str):
    if name not in _PIPELINE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_PIPELINE[name]}"), name)
