"""Data: dataset registry, verified downloads, loading, synthetic shapes, the tf.data pipeline.

Taught in ``notebooks/01_data.ipynb``.
"""

from .download import DownloadError, download  # noqa: F401
from .loading import DataError, Split, load  # noqa: F401
from .registry import DATASETS, DatasetInfo, info  # noqa: F401
