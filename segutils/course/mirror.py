"""Serving a kit and checking a mirror: what ``kit serve`` runs and what ``readiness`` asks of ``SEGUTILS_MIRROR``.

Used by :mod:`segutils.course.kit` and :mod:`segutils.course.readiness` (``notebooks/00_setup.ipynb``).
"""

from __future__ import annotations

import urllib.error
import urllib.request

from segutils.course.data import DOWNLOAD_ALL
from segutils.data.registry import WEIGHTS, info, mirror_url, read_manifest

ENCODERS = ("resnet34",)  # the backbones whose ImageNet weights the course uses


def make_server(root, host: str = "0.0.0.0", port: int = 8000, quiet: bool = False):
    """A threading HTTP server over the unpacked kit ``root`` (call ``serve_forever``, then ``shutdown``)."""
    import functools
    import http.server

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            if not quiet:
                super().log_message(*args)

    return http.server.ThreadingHTTPServer((host, port), functools.partial(Handler, directory=str(root)))


def _served(url: str, size: int | None) -> str | None:
    """None when ``url`` answers with ``size`` bytes (any size if None), else what is wrong."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=3) as response:
            length = response.headers.get("Content-Length")
    except urllib.error.HTTPError as err:
        return f"HTTPError: {err.reason}"
    except urllib.error.URLError as err:
        if isinstance(err.reason, FileNotFoundError | NotADirectoryError):  # a folder mirror without the file
            return f"missing ({err.reason.strerror})"
        return f"unreachable ({type(err).__name__}: {err.reason})"
    except Exception as err:  # noqa: BLE001 - unreachable, refused, timed out: the mirror is down
        return f"unreachable ({type(err).__name__}: {getattr(err, 'reason', err)})"
    if size is not None and length is not None and int(length) != size:
        return f"serves {length} bytes, the manifest says {size}"
    return None


def check_mirror(mirror=None, names=(*DOWNLOAD_ALL, WEIGHTS), sample: int = 3) -> dict[str, str | None]:
    """Per dataset (and ``weights``): None when the mirror serves it (first, middle, last file), else why not.

    Empty when no mirror is set (argument or ``SEGUTILS_MIRROR``).
    """
    from segutils.models import weights

    found = {}
    for name in names:
        root = mirror_url(name, mirror)
        if root is None:
            return {}
        if name == WEIGHTS:
            targets = [(i["name"], None) for i in map(weights.imagenet_weights_info, ENCODERS) if i]
        else:
            entries = read_manifest(info(name).manifest)[1]
            picks = sorted({0, len(entries) // 2, len(entries) - 1})[:sample]
            targets = [(entries[i].path, entries[i].size) for i in picks]
        problems = [f"{path}: {p}" for path, size in targets if (p := _served(root[0] + path, size))]
        found[name] = f"{root[0]}{problems[0]}" if problems else None
        if found[name] and ": unreachable (" in found[name]:  # do not wait for every file of a dead mirror
            return found | {n: found[name] for n in names if n not in found}
    return found


def lan_address() -> str:
    """This machine's address on the LAN, for the URLs participants type (127.0.0.1 without a network)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))  # no packet is sent; picks the interface of the LAN route
            return s.getsockname()[0]
        except OSError:
            return "127.0.0.1"
