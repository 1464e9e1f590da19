"""Benchmarks: ``python -m segutils.course.bench pipeline``, ``models``, ``train`` and ``infer``."""

import argparse


def whole(minimum: int = 1):
    """An argparse ``type``: a whole number >= ``minimum`` (``--size 0`` or ``--steps -1`` is a usage error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"takes a whole number >= {minimum}, got {text!r}")
        return value

    return parse


def print_header(header: str, note: str = "") -> None:
    """A results table's column names (and a ``note`` after them), underlined to their width."""
    print(header + note)
    print("-" * len(header))
