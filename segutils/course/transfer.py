"""One checked file transfer (to a hidden ``.part``, renamed once checked) and the threads that run them.

Behind :func:`segutils.course.downloads.fetch` (``make data``, ``course.setup()``)."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import itertools
import os
import re
import signal
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from segutils.data.registry import ManifestEntry, titled

CONNECT_TIMEOUT = 5.0  # seconds to open a connection: offline shows up fast
READ_TIMEOUT = 30.0  # seconds a started transfer may stall
RETRIES = 2  # extra attempts after a transfer broke off mid-way (not after a failed connect)
CHUNK = 1 << 16
STOP_GRACE = 1.0  # seconds Ctrl-C waits for the open transfers to clean up
PART = re.compile(r"^\..+\.(\d+)(-\d+)?\.part$")  # .<name>.<pid>[-<thread>].part
WEB_PAGE = re.compile(rb"\s*(<!doctype html|<html|<head|<body)", re.I)


class DownloadError(RuntimeError):
    """Some files could not be downloaded or failed their check; ``failures`` lists them."""

    def __init__(self, message: str, failures: list[dict] | None = None):
        super().__init__(message)
        self.failures = failures or []


class Stop(threading.Event):
    """Set when a download should try no more files, with its ``reason`` (the source failed, or Ctrl-C)."""

    def __init__(self):
        super().__init__()
        self.reason, self._guard, self._sockets = "", threading.Lock(), set()

    def set(self, reason: str) -> None:
        with self._guard:
            self.reason = self.reason or reason
        super().set()

    def track(self, sock, add: bool = True) -> None:
        with self._guard:
            (self._sockets.add if add else self._sockets.discard)(sock)

    def hang_up(self) -> None:
        """Shut the open connections, so a worker blocked in a read returns at once."""
        with self._guard:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


_local = threading.local()  # the Stop of the download this worker thread serves


class _HTTPConnection(http.client.HTTPConnection):
    """Connects within CONNECT_TIMEOUT, then allows READ_TIMEOUT per read; Ctrl-C can hang it up."""

    def connect(self):
        self.timeout = CONNECT_TIMEOUT
        super().connect()
        self.sock.settimeout(READ_TIMEOUT)
        if getattr(_local, "stop", None) is not None:
            _local.stop.track(self.sock)
            _local.sock = self.sock


class _HTTPSConnection(_HTTPConnection, http.client.HTTPSConnection):
    pass


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_HTTPConnection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_HTTPSConnection, req, context=self._context)


_opener = urllib.request.build_opener(_HTTPHandler, _HTTPSHandler)


def run_all(fn, items, workers: int, stop: Stop) -> list:
    """``[fn(item) for item in items]`` on ``workers`` daemon threads that take the items in turn; Ctrl-C or an
    error in ``fn`` stops the rest (open transfers hung up) and re-raises; daemon threads never keep Python alive."""
    items, halt = list(items), []
    results, turns = [None] * len(items), itertools.count()

    def work():
        while not halt:
            index = next(turns)  # atomic: each item goes to one thread
            if index >= len(items):
                return
            try:
                results[index] = fn(items[index])
            except BaseException as err:  # noqa: BLE001 - the caller's thread re-raises it and stops the rest
                halt.append(err)

    def noted(signum, frame):  # Ctrl-C is noted, not raised: raised inside a lock's __exit__, it left the lock held
        halt.append(KeyboardInterrupt())

    threads = [threading.Thread(target=work, name=f"transfer-{n}", daemon=True)
               for n in range(min(max(1, workers), len(items)))]
    noting = threading.current_thread() is threading.main_thread() and \
        signal.getsignal(signal.SIGINT) is signal.default_int_handler  # a terminal's or Jupyter's Ctrl-C
    if noting:
        signal.signal(signal.SIGINT, noted)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive() and not halt:
                thread.join(0.05)
        if halt:
            raise halt[0]
        return results
    except BaseException as err:
        halt.append(err)
        stop.set("the download was interrupted")
        stop.hang_up()
        deadline = time.monotonic() + STOP_GRACE  # time for the open transfers to delete their .part files
        for thread in threads:
            if thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))
        raise
    finally:
        if noting:
            signal.signal(signal.SIGINT, signal.default_int_handler)


def _alive(pid: int, path: Path) -> bool:
    if pid == os.getpid():
        return True  # this process's own workers delete their files
    if os.name == "nt":  # os.kill would end the process there: trust the age instead
        return time.time() - path.stat().st_mtime < 3600
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def sweep_stale_parts(folder: Path) -> None:
    """Delete the hidden ``.part`` files a killed download (not a running one) left under ``folder``."""
    for path in folder.rglob(".*.part"):  # nothing when the folder does not exist yet
        found = PART.match(path.name)
        with contextlib.suppress(OSError):
            if found and not _alive(int(found.group(1)), path):
                path.unlink()


def kind(err: BaseException) -> str:
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


def _web_page(response, first: bytes, path: str) -> str | None:
    """What the web page is, when ``response`` is one instead of the file ``path``; else None."""
    ctype = response.headers.get_content_type() if response.headers else ""
    html = ctype == "text/html" and first.lstrip().startswith(b"<") and not path.endswith((".html", ".htm"))
    if not (WEB_PAGE.match(first[:512]) or html):
        return None
    return f"the server answered with a web page ({ctype or 'HTML'}{titled(first)}) instead of the file"


def _attempt(entry: ManifestEntry, url: str, tmp: Path, dest: Path, bar, stop: Stop) -> tuple[dict | None, int]:
    """One try: ``(failure or None, bytes shown on the bar)``; raises what the transfer raised."""
    received, shown, digest = 0, 0, hashlib.sha256()
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _opener.open(url) as response, open(tmp, "wb") as out:
        while chunk := response.read(CHUNK):
            if received == 0 and (page := _web_page(response, chunk, entry.path)):
                stop.set("the source answered with a web page")
                return {"kind": "webpage", "detail": page}, shown
            if stop.is_set():
                return {"kind": "skipped", "detail": f"not finished ({stop.reason})"}, shown
            received += len(chunk)
            if received > entry.size:
                break
            digest.update(chunk)
            out.write(chunk)
            bar.update(len(chunk))
            shown += len(chunk)
    if received != entry.size:
        got = f"more than {entry.size}" if received > entry.size else str(received)
        return {"kind": "truncated", "detail": f"received {got} bytes, expected {entry.size}"}, shown
    if digest.hexdigest() != entry.sha256:
        detail = f"SHA-256 {digest.hexdigest()[:16]}... but the manifest says {entry.sha256[:16]}..."
        return {"kind": "checksum", "detail": detail}, shown
    os.replace(tmp, dest)
    return None, shown


def fetch_file(entry: ManifestEntry, url: str, dest: Path, bar, stop: Stop) -> dict | None:
    """Download one file to ``dest`` through a checked temporary file, on a tqdm ``bar``; a failure dict or ``None``."""
    failure, _local.stop = None, stop
    for attempt in range(RETRIES + 1):
        if stop.is_set():
            return {"path": entry.path, "url": url, "kind": "skipped", "detail": f"not tried ({stop.reason})"}
        tmp, shown = dest.with_name(f".{dest.name}.{os.getpid()}-{threading.get_ident()}.part"), 0
        try:
            failure, shown = _attempt(entry, url, tmp, dest, bar, stop)
            if failure is None:
                return None
        except Exception as err:  # noqa: BLE001 - every failure is reported with its file
            found = kind(err)
            detail = f"HTTP {err.code} {err.reason}" if found == "http" else f"{type(err).__name__}: {err}"
            failure = {"kind": "skipped" if stop.is_set() else found, "detail": detail}
            if found in ("offline", "ssl"):
                stop.set("the source proved unreachable")  # no point trying the other files
        finally:
            with contextlib.suppress(OSError):  # a folder that cannot be written: the failure says so
                tmp.unlink(missing_ok=True)
            stop.track(getattr(_local, "sock", None), add=False)
            _local.sock = None
        bar.update(-shown)  # the retry or the failure takes these bytes back
        transient = failure["kind"] in ("truncated", "checksum") or failure["detail"].startswith("HTTP 5")
        if not transient or attempt == RETRIES:
            break
        time.sleep(0.2 * (attempt + 1))
    return {"path": entry.path, "url": url, **failure}
