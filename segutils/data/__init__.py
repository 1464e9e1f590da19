"""Data: dataset registry, verified downloads, loading, synthetic shapes, the tf.data pipeline.

Taught in ``notebooks/01_data.ipynb``.
"""
