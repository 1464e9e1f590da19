"""An unpacked workshop kit, checked: ``kit verify`` and what ``kit serve`` unpacks before serving.

The archive is unpacked and verified in a temporary folder first, so that a damaged copy replaces
nothing; every file is checked against the kit's ``MANIFEST.json`` (size and SHA-256). Built by
:mod:`segutils.course.kit`. Taught in notebooks/00_setup.ipynb.
"""

from __future__ import annotations

import json
import shutil
import tarfile
import tempfile
from pathlib import Path

from segutils.data.registry import sha256_of

#: The folder every file of the kit archive sits under.
ROOT = "segutils-kit"


class KitError(RuntimeError):
    """The kit cannot be built or is damaged; the message says what to do."""


def _listing(root: Path) -> list[dict]:
    """The ``files`` of ``root/MANIFEST.json``, each a relative path inside the kit; KitError if malformed."""
    try:
        listing = json.loads((root / "MANIFEST.json").read_text())["files"]
        entries = [(f["path"], f["size"], f["sha256"]) for f in listing]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise KitError(f"MANIFEST.json is unreadable or malformed ({type(err).__name__}: {err}): copy the kit "
                       "again, or rebuild it with `python -m segutils.course.kit build`") from None
    odd = [p for p, size, sha in entries if not isinstance(p, str) or not isinstance(size, int) or
           not isinstance(sha, str) or Path(p).is_absolute() or ".." in Path(p).parts]
    if odd:
        raise KitError(f"MANIFEST.json lists {odd[0]!r}, which is not a file inside the kit (each entry is a "
                       "relative path, a size and a SHA-256): copy the kit again")
    return listing


def verify(root) -> list[str]:
    """Problems of an unpacked kit at ``root`` against its MANIFEST.json, one line each (empty: all good).

    Taught in notebooks/00_setup.ipynb.
    """
    root = Path(root)
    try:
        listing = _listing(root)
    except KitError as err:
        return [str(err)]
    problems = []
    for f in listing:
        path = root / f["path"]
        if not path.is_file():
            problems.append(f"{f['path']}: missing")
        elif path.stat().st_size != f["size"] or sha256_of(path) != f["sha256"]:
            problems.append(f"{f['path']}: size or SHA-256 differs from MANIFEST.json")
    known = {f["path"] for f in listing} | {"MANIFEST.json", "SHA256SUMS"}
    extra = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    return problems + [f"{p}: not in MANIFEST.json" for p in extra if p not in known]


def _extract(archive: Path, into: Path) -> None:
    """Extract ``archive`` into the empty folder ``into``; KitError for a damaged archive or a stray member."""
    try:
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                parts = Path(member.name).parts
                if parts[:1] != (ROOT,) or ".." in parts or not (member.isfile() or member.isdir()):
                    raise KitError(f"{archive} holds {member.name!r}, which is not a file under {ROOT}/ (a path "
                                   "outside the kit, or a link): refused; copy the kit from its builder again")
            tar.extractall(into, filter="data")
    except (tarfile.TarError, EOFError, OSError) as err:
        raise KitError(f"{archive} cannot be unpacked ({type(err).__name__}: {err}; truncated or not a kit?): "
                       "copy it again") from None


def _differs(old: Path, new: Path) -> str:
    """Why the unpacked kit ``old`` is not ``new`` ('' when it holds the same files, intact)."""
    try:
        listing = {(f["path"], f["sha256"]) for f in _listing(old)}
    except KitError as err:
        return str(err)
    if listing != {(f["path"], f["sha256"]) for f in _listing(new)}:
        return "its MANIFEST.json lists other files"
    damaged = [p for p in verify(old) if not p.endswith(": not in MANIFEST.json")]
    return f"{len(damaged)} of its files differ, e.g. {damaged[0]}" if damaged else ""


def unpack(archive, dest=None, replace: bool = False) -> Path:
    """Unpack ``archive`` into ``dest`` (default: beside it) and return the kit's root folder.

    The archive is unpacked and verified in a temporary folder first: a kit already in ``dest``
    is replaced only once every file of the new one checks, and nothing is left behind otherwise.
    An unpacked kit that holds the same files stays as it is; one that differs is replaced only
    with ``replace`` (KitError otherwise), and then keeps the files it did not ship (your notes).

    Taught in notebooks/00_setup.ipynb.
    """
    archive = Path(archive).expanduser()
    dest = Path(dest).expanduser() if dest else archive.parent
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".kit-", dir=dest) as tmp:
        _extract(archive, Path(tmp))
        try:
            _listing(Path(tmp) / ROOT)
        except KitError as err:
            raise KitError(f"{archive}: {err}") from None
        problems = verify(Path(tmp) / ROOT)
        if problems:
            raise KitError(f"{archive} is damaged ({len(problems)} bad file{'s' * (len(problems) > 1)}, e.g. "
                           f"{problems[0]}): copy it again.")
        previous = Path(tmp) / "previous"  # the kit in dest, deleted with tmp once the new one is in place
        if (dest / ROOT).exists():
            why = _differs(dest / ROOT, Path(tmp) / ROOT)
            if not why:
                return dest / ROOT
            if not replace:
                raise KitError(f"{dest / ROOT} already holds a kit that differs from {archive.name} ({why}): left "
                               "as it is. Pass --replace to replace it (files you added there are kept), or unpack "
                               "the new kit elsewhere.")
            shipped = {f["path"] for f in _listing(Path(tmp) / ROOT)} | {"MANIFEST.json", "SHA256SUMS"}
            try:
                shipped |= {f["path"] for f in _listing(dest / ROOT)}
            except KitError:
                pass
            for added in (p for p in (dest / ROOT).rglob("*") if p.is_file()):
                relative = added.relative_to(dest / ROOT)
                if str(relative) not in shipped:  # the instructor's own files go into the new kit
                    (Path(tmp) / ROOT / relative).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(added, Path(tmp) / ROOT / relative)
            (dest / ROOT).rename(previous)
        try:
            (Path(tmp) / ROOT).rename(dest / ROOT)
        except OSError:
            previous.rename(dest / ROOT) if previous.exists() else None
            raise
    return dest / ROOT
