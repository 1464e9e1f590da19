"""The package's argument rules: a whole number, not a bool, of at least a minimum; a folder that can be written."""

import tempfile
from numbers import Integral
from pathlib import Path

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


def writable(folder, what: str) -> Path:
    """``folder`` with ``~`` expanded, created if missing; an OSError naming it, why and the fix if it cannot be
    written (read-only, or a file where a folder should be). Nothing is left in it."""
    folder = Path(folder).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as err:
        blocking = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
        why = f"{blocking} is a file, not a folder" if blocking else err.strerror or str(err)
        raise OSError(f"cannot write {what} into {folder}: {why}. Choose a folder you can write to (or move the "
                      "file out of the way).") from None
    return folder
