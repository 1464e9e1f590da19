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


def models_error(parser: argparse.ArgumentParser, models: str, flag: str = "--models") -> None:
    """A usage error (exit 2) unless ``models`` is comma-separated names ``build_model`` knows."""
    from segutils.models import MODEL_NAMES

    unknown = [m for m in models.split(",") if m not in MODEL_NAMES]
    if unknown:
        parser.error(f"{flag} {models!r}: {', '.join(map(repr, unknown))} unknown; give comma-separated names "
                     f"from {', '.join(MODEL_NAMES)}")
