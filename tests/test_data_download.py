"""Verified downloads through a loopback HTTP mirror of the real membrane files."""

import hashlib
import http.client
import http.server
import re
import shutil
import socket
import ssl
import sys
import threading
import time
import urllib.error
from functools import partial
from pathlib import Path

import pytest

from segutils.course.data import PREFETCHERS, main, verify
from segutils.course.downloads import DownloadError, base_url, fetch
from segutils.data.registry import data_root, default_data_dir, read_manifest

ROOT = Path(__file__).resolve().parents[1]
_, ENTRIES = read_manifest("membrane.tsv")
IMAGE0 = "train/image/0.png"
LABEL7 = "train/label/7.png"


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass

    def do_GET(self):
        path = self.path.lstrip("/")
        with self.server.lock:
            self.server.requests.append(path)
        spoil = [kind for kind in ("corrupt", "truncate", "cut") if path in getattr(self.server, kind)]
        if spoil:
            body = (Path(self.directory) / path).read_bytes()
            length = len(body)
            if spoil[0] == "corrupt":  # same size, different bytes
                body = body[:100] + bytes(b ^ 0xFF for b in body[100:200]) + body[200:]
            else:  # half the bytes, announced as such (truncate) or as the full length (cut)
                body = body[: len(body) // 2]
                length = len(body) if spoil[0] == "truncate" else length
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(length))
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True
            return
        super().do_GET()


class Mirror:
    """A directory served on 127.0.0.1; ``server.corrupt``, ``.truncate``, ``.cut`` name files to spoil."""

    def __init__(self, directory: Path):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(directory)))
        self.server.daemon_threads = True
        self.server.lock = threading.Lock()
        self.server.requests, self.server.corrupt, self.server.truncate, self.server.cut = [], set(), set(), set()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def requests(self) -> list[str]:
        return list(self.server.requests)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def mirror(shared_data, monkeypatch, tmp_path):
    """The real membrane folder served over loopback, with SEGUTILS_MIRROR and SEGUTILS_DATA_DIR set."""
    served = Mirror(shared_data / "membrane")
    monkeypatch.setenv("SEGUTILS_MIRROR", served.url)
    monkeypatch.setenv("SEGUTILS_DATA_DIR", str(tmp_path / "cache"))
    yield served
    served.close()
    assert not served.thread.is_alive()


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_all_files_arrive_verified_and_a_second_run_downloads_nothing(mirror, tmp_path):
    folder = fetch("membrane", progress=False)
    assert folder == tmp_path / "cache" / "membrane"
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert files == sorted(e.path for e in ENTRIES)  # 60 files, no temporary leftovers
    for entry in ENTRIES:
        assert hashlib.sha256((folder / entry.path).read_bytes()).hexdigest() == entry.sha256
    assert verify("membrane") == []
    assert len(mirror.requests) == 60

    assert fetch("membrane", progress=True) == folder
    assert len(mirror.requests) == 60  # nothing fetched again


def test_a_wrong_cached_file_is_fetched_again(mirror, capsys):
    folder = fetch("membrane", progress=False)
    (folder / LABEL7).write_bytes(b"not the label")
    assert verify("membrane") == [f"{LABEL7}: has 13 bytes, expected {dict((e.path, e.size) for e in ENTRIES)[LABEL7]}"]
    fetch("membrane", progress=True)
    assert mirror.requests[60:] == [LABEL7]
    assert verify("membrane") == []
    assert "membrane (1 file): 100%" in capsys.readouterr().err  # the bar counts what it fetches


@pytest.mark.parametrize(
    "spoil, words", [("corrupt", "checksum"), ("truncate", "truncated: received"), ("cut", "truncated: received")]
)
def test_a_bad_download_names_file_url_and_fix_and_replaces_nothing(mirror, spoil, words):
    folder = fetch("membrane", progress=False)
    good = _snapshot(folder)
    (folder / LABEL7).unlink()  # missing: will be fetched, badly
    (folder / IMAGE0).write_bytes(b"stale")  # present but wrong: re-fetched, badly
    getattr(mirror.server, spoil).update({LABEL7, IMAGE0})
    with pytest.raises(DownloadError) as err:
        fetch("membrane", progress=False)
    message = str(err.value)
    for path in (LABEL7, IMAGE0):
        assert path in message and mirror.url + path in message
    assert words in message
    assert "retry `make data`" in message and "SEGUTILS_MIRROR" in message
    assert {f["path"] for f in err.value.failures} == {LABEL7, IMAGE0}
    assert mirror.requests[60:].count(LABEL7) == 3  # retried twice: a broken transfer may be transient
    after = _snapshot(folder)  # no temporary files, nothing good replaced
    assert after.pop(IMAGE0) == b"stale" and LABEL7 not in after
    assert after == {k: v for k, v in good.items() if k not in (LABEL7, IMAGE0)}


def test_an_unreachable_mirror_fails_fast_with_the_offline_advice(monkeypatch, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    monkeypatch.setenv("SEGUTILS_MIRROR", url)
    start = time.monotonic()
    with pytest.raises(DownloadError) as err:
        fetch("membrane", data_dir=tmp_path, progress=False)
    assert time.monotonic() - start < 10
    message = str(err.value)
    assert "Could not download 60 of 60 files of 'membrane'" in message
    assert re.search(r"\.\.\. and 5\d more \(\d+ not tried", message)  # the first few named, the rest counted
    assert url + "train/" in message and "SEGUTILS_MIRROR" in message
    assert f"The mirror {url} does not answer" in message and "unset SEGUTILS_MIRROR" in message  # not "set one"
    assert "check your internet connection" not in message and "'shapes'" in message and "make data" in message
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_a_mirror_without_the_files_reports_http_404(monkeypatch, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    served = Mirror(empty)
    try:
        with pytest.raises(DownloadError) as err:
            fetch("membrane", data_dir=tmp_path / "cache", mirror=served.url, progress=False, workers=4)
    finally:
        served.close()
    assert "HTTP 404" in str(err.value) and "the mirror argument" in str(err.value)
    assert "unset it to use the pinned source" in str(err.value)


def test_a_local_folder_or_file_url_works_as_mirror(shared_data, monkeypatch, tmp_path):
    monkeypatch.setenv("SEGUTILS_MIRROR", str(shared_data / "{name}"))  # a USB copy of the data folder
    folder = fetch("membrane", data_dir=tmp_path / "a", progress=False)
    assert verify("membrane", tmp_path / "a") == []
    monkeypatch.delenv("SEGUTILS_MIRROR")
    fetch("membrane", data_dir=tmp_path / "b", mirror=(shared_data / "membrane").as_uri(), progress=False)
    assert _snapshot(tmp_path / "b" / "membrane") == _snapshot(folder)
    with pytest.raises(DownloadError, match=r"(?s)missing: .*lacks some files"):
        fetch("membrane", data_dir=tmp_path / "c", mirror=tmp_path / "nowhere", progress=False)


def test_data_dir_and_mirror_defaults(monkeypatch, tmp_path):
    monkeypatch.delenv("SEGUTILS_DATA_DIR", raising=False)
    monkeypatch.delenv("SEGUTILS_MIRROR", raising=False)
    assert default_data_dir() == ROOT / "data"  # a writable checkout keeps data beside the notebooks
    assert data_root() == ROOT / "data"
    monkeypatch.setenv("SEGUTILS_DATA_DIR", str(tmp_path))
    assert data_root() == tmp_path
    assert data_root(tmp_path / "x") == tmp_path / "x"
    pinned, source = base_url("membrane")
    assert pinned.startswith("https://raw.githubusercontent.com/zhixuhao/unet/") and source == "the pinned source"
    monkeypatch.setenv("SEGUTILS_MIRROR", "http://10.0.0.1:8000/{name}")
    assert base_url("camvid") == ("http://10.0.0.1:8000/camvid/", "the mirror set by SEGUTILS_MIRROR")
    with pytest.raises(ValueError, match="no files to download"):
        fetch("shapes")


def test_default_outside_a_checkout_is_the_user_cache(monkeypatch, tmp_path):
    from segutils.data import registry

    fake = tmp_path / "site-packages" / "segutils" / "data" / "registry.py"
    monkeypatch.setattr(registry, "__file__", str(fake))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert registry.default_data_dir() == tmp_path / "xdg" / "segutils"


def test_cli_download_verify_and_prefetchers(mirror, monkeypatch, capsys, tmp_path):
    calls = []
    assert list(PREFETCHERS) == ["resnet34 ImageNet encoder weights"]  # tested in test_linknet.py
    monkeypatch.delitem(PREFETCHERS, "resnet34 ImageNet encoder weights")
    monkeypatch.setitem(PREFETCHERS, "extra", lambda **kwargs: calls.append(kwargs))
    monkeypatch.setattr(sys.modules["segutils.course.data"], "DOWNLOAD_ALL", ("membrane",))
    assert main(["download", "membrane", "--quiet"]) == 0
    assert "membrane: all files present and verified" in capsys.readouterr().out
    assert main(["verify", "membrane"]) == 0
    assert main(["verify"]) == 0  # camvid, never downloaded, is named but not a failure when not asked for
    assert capsys.readouterr().out.splitlines()[-2:] == ["membrane: OK", "camvid: not downloaded"]
    assert main(["verify", "CamVid"]) == 1
    assert capsys.readouterr().err == ("Fix: python -m segutils.course.data download camvid (downloads what is "
                                       "missing or damaged, keeps the rest).\n")
    assert main(["verify", "camvid", "--data-dir", str(tmp_path / "my data")]) == 1  # the fix keeps the folder
    assert capsys.readouterr().err.startswith(f"Fix: python -m segutils.course.data download camvid --data-dir "
                                              f"'{tmp_path / 'my data'}' (")
    labels = tmp_path / "cache" / "membrane" / "train" / "label"
    removed = len(list(labels.iterdir()))
    shutil.rmtree(labels)
    assert main(["verify"]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == f"membrane: {removed} problems" and out.splitlines()[-1] == "camvid: not downloaded"
    assert err.startswith("Fix: python -m segutils.course.data download membrane (")
    assert main(["download-all", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "membrane: all files present" in out and "extra: ready" in out
    assert calls == [{"data_dir": None, "mirror": None, "progress": False}]
    assert verify("membrane") == []
    monkeypatch.setitem(PREFETCHERS, "broken", lambda **kwargs: 1 / 0)
    assert main(["download-all", "--quiet"]) == 1
    assert "broken: FAILED" in capsys.readouterr().err

    def ctrl_c(**kwargs):
        raise KeyboardInterrupt

    monkeypatch.setitem(PREFETCHERS, "broken", ctrl_c)
    assert main(["download-all", "--quiet"]) == 130
    assert capsys.readouterr().err == ("broken: stopped by Ctrl-C (no partial file left); the datasets above are "
                                       "verified and kept. Run `make data` again to fetch it.\n")


def test_cli_reads_a_dataset_name_in_any_case_as_course_fetch_does(mirror, capsys, tmp_path):
    assert main(["download", "MEMBRANE", "--quiet"]) == 0
    assert capsys.readouterr().out == f"membrane: all files present and verified in {tmp_path / 'cache' / 'membrane'}\n"
    assert main(["verify", " Membrane"]) == 0
    assert capsys.readouterr().out == "membrane: OK\n"
    with pytest.raises(SystemExit) as stop:
        main(["verify", "membrain"])
    assert stop.value.code == 2
    assert "error: cannot verify membrain: choose from membrane, camvid" in capsys.readouterr().err
    for workers in ("0", "-1", "two"):  # 0 and -1 ran one download at a time without a word
        with pytest.raises(SystemExit) as stop:
            main(["download", "membrane", "--workers", workers])
        assert stop.value.code == 2
        assert (f"error: argument --workers: takes a whole number of parallel downloads >= 1, got {workers!r}"
                in capsys.readouterr().err)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (urllib.error.HTTPError("u", 404, "Not Found", {}, None), "http"),
        (urllib.error.URLError(ConnectionRefusedError(111, "refused")), "offline"),
        (urllib.error.URLError(FileNotFoundError(2, "no such file")), "missing"),
        (urllib.error.URLError(ssl.SSLCertVerificationError("bad certificate")), "ssl"),
        (urllib.error.URLError(http.client.RemoteDisconnected("closed")), "truncated"),
        (ssl.SSLError("decryption failed mid-transfer"), "truncated"),
        (http.client.IncompleteRead(b"abc", 10), "truncated"),
        (TimeoutError("read timed out"), "truncated"),
        (PermissionError(13, "read-only folder"), "local"),
    ],
)
def test_errors_are_sorted_into_the_right_advice(error, kind):
    from segutils.course import transfer

    assert transfer.kind(error) == kind


# ---- course.setup(): the notebook's data fetched when absent (load itself never downloads) ----------------


def test_setup_fetches_the_profiles_dataset_when_absent_and_nothing_when_present_or_in_ci(mirror, monkeypatch,
                                                                                           tmp_path, capsys):
    from segutils import course
    from segutils.data import load

    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setenv("SEGUTILS_PROFILE", "ci")  # shapes and streets: generated, nothing to fetch
    assert course.setup() is None and course.setup(data="streets") is None
    assert mirror.requests == [] and not (tmp_path / "cache").exists()
    monkeypatch.setenv("SEGUTILS_PROFILE", "cpu")  # membrane, from the loopback mirror of SEGUTILS_MIRROR
    course.setup()
    assert "TensorFlow" in capsys.readouterr().out
    assert sorted(mirror.requests) == sorted(e.path for e in ENTRIES) and verify("membrane") == []
    assert len(load("membrane", "val")) == 5
    course.setup(drive=False)
    assert len(mirror.requests) == 60  # present: nothing fetched again
    (tmp_path / "cache" / "membrane" / LABEL7).unlink()
    course.setup(data=None)
    assert len(mirror.requests) == 60  # data=None: this notebook reads no dataset
    course.setup()
    assert mirror.requests[60:] == [LABEL7] and verify("membrane") == []


def test_setup_that_cannot_fetch_says_why_and_the_notebook_goes_on(monkeypatch, tmp_path, capsys):
    from segutils import course

    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setenv("SEGUTILS_PROFILE", "cpu")
    monkeypatch.setenv("SEGUTILS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SEGUTILS_MIRROR", "http://127.0.0.1:9/{name}/")  # port 9: refused at once
    assert course.setup() is None
    out = capsys.readouterr().out
    assert "\nCould not fetch 'membrane' now; `course.fetch(\"membrane\")` tries again.\n" in out
    assert "Could not download 60 of 60 files of 'membrane' from http://127.0.0.1:9/membrane/" in out
    assert "The mirror http://127.0.0.1:9/membrane/ does not answer" in out
    with pytest.raises(ValueError, match="data='camvid': use 'dataset', 'streets', or None to fetch nothing."):
        course.setup(data="camvid")


def test_setup_asks_for_the_dataset_or_the_street_scenes_of_the_active_profile(monkeypatch):
    from segutils.course import session

    asked = []
    monkeypatch.setattr(session, "fetch_missing", asked.append)
    for profile in ("ci", "cpu", "gpu"):
        monkeypatch.setenv("SEGUTILS_PROFILE", profile)
        session.fetch_profile_data("dataset")
        session.fetch_profile_data("streets")
    assert asked == ["shapes", "streets", "membrane", "camvid", "membrane", "camvid"]
    monkeypatch.setenv("SEGUTILS_PROFILE", "no-such-profile")  # the report says it is invalid; nothing fetched
    session.fetch_profile_data("dataset")
    assert len(asked) == 6
    monkeypatch.setenv("SEGUTILS_PROFILE", "cpu")
    monkeypatch.setenv(session.FETCH_ENV_VAR, "0")  # the runner fetched what its notebooks read
    session.fetch_profile_data("dataset")
    assert len(asked) == 6
