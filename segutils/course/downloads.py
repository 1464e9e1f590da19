"""Verified downloads (``make data``, ``course.fetch``, ``course.setup()``): every file checked against the
manifest's size and SHA-256, landing atomically; mirrors, retries, a progress bar, Ctrl-C that keeps what arrived.

``segutils.data.load`` never downloads: it reads what is on disk and says what to run when files are missing.
"""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path

from segutils.course.transfer import DownloadError, Stop, fetch_file, run_all, sweep_stale_parts
from segutils.data.registry import (
    DATASETS,
    ENV_DATA_DIR,
    ENV_MIRROR,
    DatasetInfo,
    ManifestEntry,
    check_file,
    data_root,
    info,
    mirror_url,
    read_manifest,
    registered,
)


def base_url(name: str, mirror: str | os.PathLike | None = None) -> tuple[str, str]:
    """``(url, source)``: the root URL files of ``name`` come from and what chose it."""
    return mirror_url(name, mirror) or (read_manifest(info(name).manifest)[0], "the pinned source")


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


def fetch(name: str, data_dir: str | os.PathLike | None = None, mirror: str | os.PathLike | None = None,
          workers: int = 8, progress: bool = True) -> Path:
    """Fetch and verify the files of ``membrane`` or ``camvid`` (only those missing or damaged); their folder.

    In a notebook: ``from segutils import course; course.fetch("membrane")``. A :class:`DownloadError` names the
    failed files, their URLs and the fix; Ctrl-C keeps the verified files."""
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

    files = f"{len(todo)} file" + "s" * (len(todo) != 1)
    bar = tqdm(total=sum(e.size for e in todo), unit="B", unit_scale=True, desc=f"{meta.name} ({files})",
               disable=not progress)
    stop, landed = Stop(), []

    def one(entry: ManifestEntry) -> dict | None:
        failure = fetch_file(entry, root + urllib.parse.quote(entry.path), dest / entry.path, bar, stop)
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


def downloadable(name) -> DatasetInfo | None:
    """The registered dataset ``name`` (any case) when it has files to download; None for a generated one
    (``shapes``, ``streets``) or a folder."""
    meta = DATASETS.get(registered(str(name)))
    return meta if meta is not None and meta.manifest is not None else None


def fetch_missing(name: str, data_dir: str | os.PathLike | None = None, progress: bool = True) -> Path | None:
    """:func:`fetch` a registered dataset when some of its files are not on disk (a size check, no SHA-256).

    None when it is not :func:`downloadable`; else the dataset's folder."""
    meta = downloadable(name)
    if meta is None:
        return None
    root = data_root(data_dir) / meta.name
    if any(check_file(root / e.path, e, full=False) for e in read_manifest(meta.manifest)[1]):
        return fetch(meta.name, data_dir, progress=progress)
    return root
