"""Benchmarks: ``python -m segutils.bench pipeline`` and ``python -m segutils.bench models``."""
