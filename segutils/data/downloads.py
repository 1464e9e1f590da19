"""Verified downloads: every file is checked against the manifest's size and SHA-256.

Files download in parallel and land atomically (a temporary name in the same folder,
renamed only after the check), so a cached file is either complete and correct or
absent; a bad download never replaces anything. Files already present and correct are
skipped.

Where files go (first match wins): the ``data_dir`` argument; ``SEGUTILS_DATA_DIR``;
``data/`` at the repository root when segutils runs from a writable checkout; else
``~/.cache/segutils`` (``$XDG_CACHE_HOME/segutils``). Each dataset gets ``<dir>/<name>/``.

Where files come from: the pinned URL in the manifest, unless the ``mirror`` argument or
``SEGUTILS_MIRROR`` names a mirror: an ``http(s)://`` or ``file://`` URL, or a plain
local folder (a USB copy), laid out like the manifest paths. A ``{name}`` in it is
replaced by the dataset name, so one setting serves several datasets, e.g.
``SEGUTILS_MIRROR=http://192.168.1.10:8000/{name}/`` while the instructor runs
``python -m http.server`` in their ``data/`` folder. Taught in ``notebooks/01_data.ipynb``.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .registry import ManifestEntry, info, read_manifest

ENV_DATA_DIR = "SEGUTILS_DATA_DIR"
ENV_MIRROR = "SEGUTILS_MIRROR"
CONNECT_TIMEOUT = 5.0  # seconds to open a connection: offline shows up fast
READ_TIMEOUT = 30.0  # seconds a started transfer may stall
RETRIES = 2  # extra attempts after a transfer broke off mid-way (not after a failed connect)
CHUNK = 1 << 16

#: Datasets that ``python -m segutils.data download-all`` (``make data``) fetches.
DOWNLOAD_ALL = ("membrane", "camvid")


def _prefetch_encoder_weights(data_dir=None, mirror=None, progress: bool = True) -> Path:
    """:func:`segutils.data.weights.prefetch_encoder_weights` (imported on use: it needs Keras)."""
    from .weights import prefetch_encoder_weights

    return prefetch_encoder_weights(data_dir, mirror, progress)


#: Mirror sub-folder (the ``{name}`` of ``SEGUTILS_MIRROR``) that holds pretrained weights.
WEIGHTS = "weights"

#: More things ``download-all`` fetches after the datasets, by name: each is called as
#: ``fetch(data_dir=..., mirror=..., progress=bool)``.
PREFETCHERS: dict[str, Callable[..., object]] = {"resnet34 ImageNet encoder weights": _prefetch_encoder_weights}


class DownloadError(RuntimeError):
    """Some files could not be downloaded or failed their check; ``failures`` lists them."""

    def __init__(self, message: str, failures: list[dict] | None = None):
        super().__init__(message)
        self.failures = failures or []


def default_data_dir() -> Path:
    """``data/`` in a writable checkout of the repository, else the user cache folder."""
    repo = Path(__file__).resolve().parents[2]
    if (repo / "pyproject.toml").is_file() and (repo / "segutils").is_dir():
        target = repo / "data"
        if os.access(target if target.exists() else repo, os.W_OK):
            return target
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "segutils"


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """The cache folder: ``data_dir``, else ``SEGUTILS_DATA_DIR``, else :func:`default_data_dir`."""
    chosen = data_dir or os.environ.get(ENV_DATA_DIR, "").strip()
    return Path(chosen).expanduser() if chosen else default_data_dir()


def mirror_url(name: str, mirror: str | os.PathLike | None = None) -> tuple[str, str] | None:
    """``(url, source)`` of the mirror root for ``name`` (argument, else ``SEGUTILS_MIRROR``), or None."""
    chosen, source = (mirror, "the mirror argument") if mirror else (os.environ.get(ENV_MIRROR, ""), "")
    chosen = str(chosen).strip()
    if not chosen:
        return None
    chosen = chosen.replace("{name}", name)
    if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", chosen):  # a plain folder: a USB copy
        chosen = Path(chosen).expanduser().resolve().as_uri()
    return chosen.rstrip("/") + "/", source or f"the mirror set by {ENV_MIRROR}"


def base_url(name: str, mirror: str | os.PathLike | None = None) -> tuple[str, str]:
    """``(url, source)``: the root URL files of ``name`` come from and what chose it."""
    return mirror_url(name, mirror) or (info(name).base_url, "the pinned source")


class _HTTPConnection(http.client.HTTPConnection):
    """Connects within CONNECT_TIMEOUT, then allows READ_TIMEOUT per read."""

    def connect(self):
        self.timeout = CONNECT_TIMEOUT
        super().connect()
        self.sock.settimeout(READ_TIMEOUT)


class _HTTPSConnection(http.client.HTTPSConnection):
    def connect(self):
        self.timeout = CONNECT_TIMEOUT
        super().connect()
        self.sock.settimeout(READ_TIMEOUT)


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_HTTPConnection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_HTTPSConnection, req, context=self._context)


_opener = urllib.request.build_opener(_HTTPHandler, _HTTPSHandler)


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_file(path: Path, entry: ManifestEntry, full: bool = True) -> str | None:
    """``None`` if ``path`` matches its manifest entry, else what is wrong with it.

    ``full=False`` checks presence and size only (cheap, for every load); ``download`` and
    ``verify`` check the SHA-256 too.
    """
    if not path.is_file():
        return "missing"
    size = path.stat().st_size
    if size != entry.size:
        return f"has {size} bytes, expected {entry.size}"
    if full and sha256_of(path) != entry.sha256:
        return "has the right size but the wrong SHA-256 (damaged or a different version)"
    return None


def verify(name: str, data_dir: str | os.PathLike | None = None) -> list[str]:
    """Problems of the cached copy of ``name``, one line per bad file (empty: all good).

    Taught in ``notebooks/01_data.ipynb``.
    """
    root = data_root(data_dir) / info(name).name
    problems = [(e.path, check_file(root / e.path, e)) for e in read_manifest(info(name).manifest)[1]]
    return [f"{path}: {problem}" for path, problem in problems if problem]


def _kind(err: BaseException) -> str:
    """Sort an exception into offline / ssl / http / missing / truncated / local."""
    if isinstance(err, urllib.error.HTTPError):
        return "http"
    if isinstance(err, urllib.error.URLError):  # raised while connecting or opening
        if isinstance(err.reason, (FileNotFoundError, NotADirectoryError)):
            return "missing"
        if isinstance(err.reason, (http.client.HTTPException, ConnectionResetError)):
            return "truncated"  # the server hung up on an open connection: worth a retry
        return "ssl" if isinstance(err.reason, ssl.SSLError) else "offline"
    if isinstance(err, (http.client.HTTPException, ConnectionError, TimeoutError, ssl.SSLError)):
        return "truncated"  # the transfer started, then broke off
    return "local"  # writing the file failed


def _fetch(entry: ManifestEntry, url: str, dest: Path, bar, abort: threading.Event) -> dict | None:
    """Download one file to ``dest`` through a checked temporary file; a failure dict or ``None``."""
    failure = None
    for attempt in range(RETRIES + 1):
        if abort.is_set():
            return {
                "path": entry.path,
                "url": url,
                "kind": "skipped",
                "detail": "not tried (source unreachable)",
            }
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}-{threading.get_ident()}.part")
        received, shown, digest = 0, 0, hashlib.sha256()
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            with _opener.open(url) as response, open(tmp, "wb") as out:
                while chunk := response.read(CHUNK):
                    received += len(chunk)
                    if received > entry.size:
                        break
                    digest.update(chunk)
                    out.write(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
                        shown += len(chunk)
            if received != entry.size:
                got = f"more than {entry.size}" if received > entry.size else str(received)
                failure = {"kind": "truncated", "detail": f"received {got} bytes, expected {entry.size}"}
            elif digest.hexdigest() != entry.sha256:
                failure = {
                    "kind": "checksum",
                    "detail": f"SHA-256 {digest.hexdigest()[:16]}... but the manifest says {entry.sha256[:16]}...",
                }
            else:
                os.replace(tmp, dest)
                return None
        except Exception as err:  # noqa: BLE001 - every failure is reported with its file
            kind = _kind(err)
            detail = f"HTTP {err.code} {err.reason}" if kind == "http" else f"{type(err).__name__}: {err}"
            failure = {"kind": kind, "detail": detail}
            if kind in ("offline", "ssl"):
                abort.set()  # no point trying the other files
        finally:
            tmp.unlink(missing_ok=True)
        if bar is not None and shown:
            bar.update(-shown)  # the retry or the failure takes these bytes back
        transient = failure["kind"] in ("truncated", "checksum") or failure["detail"].startswith("HTTP 5")
        if not transient or attempt == RETRIES:
            break
        time.sleep(0.2 * (attempt + 1))
    return {"path": entry.path, "url": url, **failure}


_ADVICE = {
    "offline": "Cannot reach the source: check your internet connection, or set {env} to a workshop mirror "
    "or a local copy (e.g. {env}=http://<instructor>:8000/{{name}}/ or {env}=/media/usb/data/{{name}}), "
    "then retry `make data`. Without a network, use the 'shapes' dataset: it needs no download.",
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
    "local": "Writing the files failed: check that the data folder is writable and the disk has space, "
    "or set {data} to another folder; then retry `make data`.",
}


def _error(name: str, failures: list[dict], total: int, root: str, source: str, dest: Path) -> DownloadError:
    real = [f for f in failures if f["kind"] != "skipped"] or failures
    lines = [f"Could not download {len(failures)} of {total} files of {name!r} from {root} ({source}) into {dest}:"]
    lines += [f"  - {f['path']}: {f['kind']}: {f['detail']} ({f['url']})" for f in real[:5]]
    if len(failures) > len(real[:5]):
        skipped = len(failures) - len(real)
        not_tried = f" ({skipped} not tried once the source proved unreachable)" if skipped else ""
        lines.append(f"  ... and {len(failures) - len(real[:5])} more{not_tried}")
    kinds = dict.fromkeys(f["kind"] for f in real)
    lines += [_ADVICE[k].format(env=ENV_MIRROR, data=ENV_DATA_DIR) for k in kinds if _ADVICE[k]]
    lines.append("Files already downloaded and verified are kept; nothing good was replaced.")
    return DownloadError("\n".join(lines), failures)


def download(
    name: str,
    data_dir: str | os.PathLike | None = None,
    mirror: str | os.PathLike | None = None,
    workers: int = 8,
    progress: bool = True,
) -> Path:
    """Fetch and verify every file of a registry dataset; return its local folder.

    Taught in ``notebooks/01_data.ipynb``.

    Args:
        name: ``membrane`` or ``camvid`` (``shapes`` needs no download).
        data_dir: cache folder; default ``SEGUTILS_DATA_DIR`` or :func:`default_data_dir`.
        mirror: root URL or folder to fetch from instead of the pinned source;
            default ``SEGUTILS_MIRROR``. ``{name}`` in it becomes the dataset name.
        workers: parallel downloads.
        progress: show a tqdm progress bar in bytes.

    Returns:
        ``<data_dir>/<name>/``, holding every manifest file, each checked.

    Raises:
        DownloadError: naming the files that failed, their URLs and what to do.
    """
    meta = info(name)
    if meta.manifest is None:
        raise ValueError(f"{meta.name!r} has no files to download: it is generated or read from your folder.")
    _, entries = read_manifest(meta.manifest)
    dest = data_root(data_dir) / meta.name
    root, source = base_url(meta.name, mirror)
    with ThreadPoolExecutor(max(1, workers)) as pool:
        checks = list(pool.map(lambda e: check_file(dest / e.path, e), entries))
    todo = [e for e, problem in zip(entries, checks, strict=True) if problem]
    if not todo:
        return dest
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(
            total=sum(e.size for e in todo),
            unit="B",
            unit_scale=True,
            desc=f"{meta.name} ({len(todo)} files)",
        )
    abort = threading.Event()
    try:
        with ThreadPoolExecutor(max(1, workers)) as pool:
            jobs = [pool.submit(_fetch, e, root + urllib.parse.quote(e.path), dest / e.path, bar, abort) for e in todo]
            failures = [f for f in (job.result() for job in jobs) if f]
    finally:
        if bar is not None:
            bar.close()
    if failures:
        raise _error(meta.name, failures, len(entries), root, source, dest)
    return dest
