"""Benchmarks: ``python -m segutils.course.bench pipeline`` and ``python -m segutils.course.bench models``."""
