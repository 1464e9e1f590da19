"""Verified downloads: every file checked against the manifest's size and SHA-256, landing atomically.

Taught in ``notebooks/01_data.ipynb``."""

from __future__ import annotations

import hashlib
import os
import re
import urllib.parse
from pathlib import Path

from ..registry import ManifestEntry, info, read_manifest
from .transfer import DownloadError, Stop, fetch, run_all, sweep_stale_parts

ENV_DATA_DIR = "SEGUTILS_DATA_DIR"
ENV_MIRROR = "SEGUTILS_MIRROR"
#: Mirror sub-folder (the ``{name}`` of ``SEGUTILS_MIRROR``) that holds pretrained weights.
WEIGHTS = "weights"


def default_data_dir() -> Path:
    """``data/`` in a writable checkout of the repository, else ``~/.cache/segutils`` (or ``$XDG_CACHE_HOME``'s)."""
    repo = Path(__file__).resolve().parents[3]
    if (repo / "pyproject.toml").is_file() and (repo / "segutils").is_dir():
        target = repo / "data"
        if os.access(target if target.exists() else repo, os.W_OK):
            return target
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "segutils"


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """The cache folder (one ``<name>/`` per dataset): ``data_dir``, else ``SEGUTILS_DATA_DIR``, else the default."""
    chosen = data_dir or os.environ.get(ENV_DATA_DIR, "").strip()
    return Path(chosen).expanduser() if chosen else default_data_dir()


def mirror_url(name: str, mirror: str | os.PathLike | None = None) -> tuple[str, str] | None:
    """``(url, source)`` of the mirror for ``name`` (argument, else ``SEGUTILS_MIRROR``), or None."""
    source = "the mirror argument" if mirror else f"the mirror set by {ENV_MIRROR}"
    chosen = str(mirror or os.environ.get(ENV_MIRROR) or "").strip().replace("{name}", name)
    if not chosen:
        return None
    if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", chosen):  # a plain folder: a USB copy
        chosen = Path(chosen).expanduser().resolve().as_uri()
    return chosen.rstrip("/") + "/", source


def base_url(name: str, mirror: str | os.PathLike | None = None) -> tuple[str, str]:
    """``(url, source)``: the root URL files of ``name`` come from and what chose it."""
    return mirror_url(name, mirror) or (info(name).base_url, "the pinned source")


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def check_file(path: Path, entry: ManifestEntry, full: bool = True) -> str | None:
    """``None`` if ``path`` matches its manifest entry, else what is wrong; ``full=False``: not the SHA-256."""
    if not path.is_file():
        return "missing"
    size = path.stat().st_size
    if size != entry.size:
        return f"has {size} bytes, expected {entry.size}"
    if full and sha256_of(path) != entry.sha256:
        return "has the right size but the wrong SHA-256 (damaged or a different version)"
    return None


_ADVICE = {
    "offline": "Cannot reach the source: check your internet connection, or set {env} to a workshop mirror "
    "or a local copy (e.g. {env}=http://<instructor>:8000/{{name}}/ or {env}=/media/usb/data/{{name}}), "
    "then retry `make data`. Without a network, use the 'shapes' dataset: it needs no download.",
    "mirror_down": "The mirror {root} does not answer: it is down, its address or port is wrong, or this machine "
    "is not on its network. Ask the instructor whether it is still serving and check the address, or unset {env} "
    "to use the pinned source; then retry `make data`. Meanwhile the 'shapes' dataset needs no download.",
    "webpage": "The source answered with a web page instead of the files: on public, hotel or conference Wi-Fi, "
    "open a browser and log in to the network first; if {env} is set, check that it points at the dataset's root "
    "folder (the one holding the manifest paths). Then retry `make data`.",
    "ssl": "The secure connection failed (certificate check): on macOS run 'Install Certificates.command' "
    "from the Python folder; behind a company proxy, set SSL_CERT_FILE to its certificate bundle; or set "
    "{env} to a workshop mirror or local copy. Then retry `make data`.",
    "skipped": "",
    "http": "The server refused some files: if {env} is set, check it points at the dataset's root folder "
    "(the one holding the manifest paths) or unset it to use the pinned source; then retry `make data`.",
    "missing": "The local mirror lacks some files: check that {env} points at the dataset's root folder "
    "(the one holding the manifest paths), or unset it; then retry `make data`.",
    "truncated": "Transfers broke off (a flaky connection?): retry `make data`, which fetches only the files "
    "still missing; if it keeps failing, set {env} to a workshop mirror or local copy.",
    "checksum": "Files arrived with the wrong content (a damaged transfer or a mirror holding other "
    "versions): retry `make data`; if it persists, update the mirror or unset {env}.",
    "local": "Writing the files failed: set {data} (or data_dir=...) to a folder on a local disk that you can "
    "write to and that has space, e.g. {data}=~/segutils-data; then retry `make data`.",
}


def _error(name, failures: list[dict], total: int, root: str, source: str, dest: Path, reason: str) -> DownloadError:
    real = [f for f in failures if f["kind"] != "skipped"] or failures
    lines = [f"Could not download {len(failures)} of {total} files of {name!r} from {root} ({source}) into {dest}:"]
    lines += [f"  - {f['path']}: {f['kind']}: {f['detail']} ({f['url']})" for f in real[:5]]
    if len(failures) > len(real[:5]):
        skipped = len(failures) - len(real)
        not_tried = f" ({skipped} not tried once {reason})" if skipped else ""
        lines.append(f"  ... and {len(failures) - len(real[:5])} more{not_tried}")
    mirrored = source != "the pinned source"
    kinds = dict.fromkeys("mirror_down" if f["kind"] == "offline" and mirrored else f["kind"] for f in real)
    lines += [_ADVICE[k].format(env=ENV_MIRROR, data=ENV_DATA_DIR, root=root) for k in kinds if _ADVICE[k]]
    lines.append("Files already downloaded and verified are kept; nothing good was replaced.")
    return DownloadError("\n".join(lines), failures)


def _writable(dest: Path) -> None:
    """DownloadError with the local-disk advice unless ``dest`` can be created and written."""
    probe = dest / f".write-test.{os.getpid()}.part"
    try:
        dest.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        advice = _ADVICE["local"].format(data=ENV_DATA_DIR)
        message = f"Cannot create or write the data folder {dest} ({type(err).__name__}: {err}). {advice}"
        raise DownloadError(message) from None


def _interrupted(name: str, dest: Path, kept: int | None, total: int) -> KeyboardInterrupt:
    count = f" ({kept} of {total})" if kept is not None else ""
    return KeyboardInterrupt(f"Download of {name!r} stopped by Ctrl-C: the files already verified{count} are kept "
                             f"in {dest}; run the download again to fetch the rest.")


def download(name: str, data_dir: str | os.PathLike | None = None, mirror: str | os.PathLike | None = None,
             workers: int = 8, progress: bool = True) -> Path:
    """Fetch and verify the files of ``membrane`` or ``camvid``; their folder.

    A :class:`DownloadError` names the failed files, their URLs and the fix; Ctrl-C keeps the verified files.
    Taught in ``notebooks/01_data.ipynb``."""
    meta = info(name)
    if meta.manifest is None:
        raise ValueError(f"{meta.name!r} has no files to download: it is generated or read from your folder.")
    _, entries = read_manifest(meta.manifest)
    dest = data_root(data_dir) / meta.name
    root, source = base_url(meta.name, mirror)
    sweep_stale_parts(dest)  # left by a download that was killed
    try:
        checks = run_all(lambda e: check_file(dest / e.path, e), entries, workers, Stop())
    except KeyboardInterrupt:
        raise _interrupted(meta.name, dest, None, len(entries)) from None
    todo = [e for e, problem in zip(entries, checks, strict=True) if problem]
    if not todo:
        return dest
    _writable(dest)
    from tqdm.auto import tqdm

    bar = tqdm(total=sum(e.size for e in todo), unit="B", unit_scale=True, desc=f"{meta.name} ({len(todo)} files)",
               disable=not progress)
    stop, landed = Stop(), []

    def one(entry: ManifestEntry) -> dict | None:
        failure = fetch(entry, root + urllib.parse.quote(entry.path), dest / entry.path, bar, stop)
        if failure is None:
            landed.append(entry.path)
        return failure

    try:
        failures = [f for f in run_all(one, todo, workers, stop) if f]
    except KeyboardInterrupt:
        raise _interrupted(meta.name, dest, len(entries) - len(todo) + len(landed), len(entries)) from None
    finally:
        bar.close()
    if failures:
        raise _error(meta.name, failures, len(entries), root, source, dest, stop.reason)
    return dest
