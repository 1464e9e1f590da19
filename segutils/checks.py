"""The package's one argument rule: a whole number, not a bool, of at least a minimum."""

from __future__ import annotations

from numbers import Integral

DIVIDE_HINT = "use // to divide: 256 // 4, not 256 / 4"


def is_whole(value, minimum: int = 1) -> bool:
    """True if ``value`` is an integer (``bool`` excluded) of at least ``minimum``."""
    return isinstance(value, Integral) and not isinstance(value, bool) and value >= minimum


def whole(value, name: str, minimum: int = 1, none_ok: bool = False, fix: str = "") -> int | None:
    """``value`` as an ``int`` if :func:`is_whole` (``None`` if ``none_ok``), else ValueError naming ``name``,
    the :data:`DIVIDE_HINT` for a float, and ``fix``."""
    if (value is None and none_ok) or is_whole(value, minimum):
        return None if value is None else int(value)
    hint = f" ({DIVIDE_HINT})" if isinstance(value, float) else ""
    allowed = f">= {minimum} (or None)" if none_ok else f">= {minimum}"
    fix = f": {fix}" if fix else ""
    raise ValueError(f"{name} must be a whole number {allowed}, got {value!r} ({type(value).__name__}){hint}{fix}")
