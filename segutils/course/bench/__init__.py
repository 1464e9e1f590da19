"""Benchmarks: ``python -m segutils.course.bench pipeline``, ``models``, ``train`` and ``infer``."""

def print_header(header: str, note: str = "") -> None:
    """A results table's column names (and a ``note`` after them), underlined to their width."""
    print(header + note)
    print("-" * len(header))
