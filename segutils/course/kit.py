"""The workshop kit: one archive with the datasets, encoder weights and wheels, for a room without Wi-Fi.

``python -m segutils.course.kit build`` (``make offline-kit``) writes ``segutils-kit.tar``::

    segutils-kit/MANIFEST.json     every file with its size and SHA-256, and what the kit holds
    segutils-kit/SHA256SUMS        the same checksums for ``sha256sum -c``
    segutils-kit/constraints.txt   the locked versions the wheels were downloaded for
    segutils-kit/data/<name>/...   each dataset laid out like its manifest, verified
    segutils-kit/data/weights/...  ImageNet encoder weights (Keras cache or data/weights/)
    segutils-kit/wheels/*.whl      the locked dependencies for one platform and Python version
    segutils-kit/runs/train/...    with ``--runs``: notebook 05's finished runs (SEGUTILS_RUNS_DIR=<kit>/runs)

``python -m segutils.course.kit serve segutils-kit.tar`` (or ``verify``) unpacks it beside the archive,
checked in a temporary folder first so that a damaged copy replaces nothing (:mod:`.kit_unpack`), and
serves it over HTTP: participants set ``SEGUTILS_MIRROR=http://<laptop>:8000/data/{name}/``
and install with ``pip install --no-index --find-links http://<laptop>:8000/wheels/ ...``.
A USB copy works the same with paths instead of URLs. Taught in notebooks/00_setup.ipynb.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import socket
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from segutils.course.data import DOWNLOAD_ALL, downloadable_names
from segutils.course.downloads import downloadable
from segutils.course.kit_runs import RunsError, collect_runs, packed_runs
from segutils.course.kit_unpack import ROOT, KitError, unpack, verify
from segutils.course.mirror import ENCODERS, lan_address, make_server
from segutils.data.registry import (
    WEIGHTS,
    check_file,
    data_root,
    info,
    read_manifest,
    registered,
    sha256_of,
)

REPO = Path(__file__).resolve().parents[2]
#: TensorFlow 2.21 ships manylinux_2_27 wheels only, which pip does not count as manylinux2014:
#: the default names the manylinux family explicitly (any x86_64 Linux with glibc >= 2.28).
DEFAULT_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
#: Three parts: pip checks Requires-Python against it, and "3.11" means 3.11.0, which the locked
#: soupsieve (>= 3.11.5) refuses. Default: the Python that builds the kit.
DEFAULT_PYTHON = platform.python_version()
#: What ``pip install -e .`` builds with (pyproject's build-system), downloaded beside the locked wheels.
BUILD_REQUIREMENTS = ("setuptools>=77",)


def pip_download(constraints: Path, dest: Path, platforms, python_version: str) -> None:
    """``pip download`` the locked wheels (and the build backend) for ``platforms`` into ``dest``."""
    flags = ["--only-binary=:all:", "--python-version", python_version, "-d", str(dest)]
    flags += [arg for p in platforms for arg in ("--platform", p)]
    pip = [sys.executable, "-m", "pip", "download", "--quiet"]
    for extra in (["-r", str(constraints)], list(BUILD_REQUIREMENTS)):
        done = subprocess.run(pip + extra + flags, capture_output=True, text=True)
        if done.returncode:
            raise KitError(f"pip download {' '.join(extra)} failed for {', '.join(platforms)} / Python "
                           f"{python_version}:\n{done.stderr.strip()[-2000:]}\nCheck the network to PyPI and "
                           "the --platform / --python-version values, or build with --no-wheels.")


def _weights(data_dir) -> dict[str, Path]:
    """Kit path -> file of the encoder weights found in ``<data>/weights/`` and the Keras cache."""
    from segutils.models import weights

    found = {}
    known = {i["name"]: i["md5"] for i in map(weights.imagenet_weights_info, ENCODERS) if i}
    folder = data_root(data_dir) / WEIGHTS
    candidates = sorted(folder.glob("*.h5")) if folder.is_dir() else []
    candidates += [Path(weights.keras_cache_dir()) / name for name in known]
    for path in candidates:
        if not path.is_file() or f"data/{WEIGHTS}/{path.name}" in found:
            continue
        if path.name in known and hashlib.md5(path.read_bytes()).hexdigest() != known[path.name]:
            raise KitError(f"{path} does not match the md5 {known[path.name]} of the ImageNet weights (a damaged "
                           "download?): delete it and run `make data` while online.")
        found[f"data/{WEIGHTS}/{path.name}"] = path
    return found


def collect(data_dir=None, datasets=None) -> tuple[dict[str, Path], list[str]]:
    """Kit path -> local file of every verified dataset file and weights file; and notes on what is left out.

    Raises:
        KitError: a requested dataset is missing or a cached file fails its check.
    """
    files, notes = {}, []
    for name in datasets or DOWNLOAD_ALL:
        if downloadable(name) is None:
            what = "needs no files (generated, or your own folder)" if registered(str(name)) else "is not a dataset"
            raise KitError(f"--dataset {name} {what}: a kit packs the downloaded datasets, "
                           f"{', '.join(downloadable_names())}")
        root = data_root(data_dir) / info(name).name
        entries = read_manifest(info(name).manifest)[1]
        if datasets is None and not root.is_dir():
            notes.append(f"{name}: not in {root.parent}, left out (run `make data` first to include it)")
            continue
        bad = [f"{e.path}: {p}" for e in entries if (p := check_file(root / e.path, e))]
        if bad:
            raise KitError(f"{name} in {root} fails its manifest ({len(bad)} of {len(entries)} files, e.g. "
                           f"{bad[0]}): run `python -m segutils.course.data download {name}` first.")
        files.update({f"data/{info(name).name}/{e.path}": root / e.path for e in entries})
    weights = _weights(data_dir)
    if not weights:
        notes.append("encoder weights: none found in the Keras cache or data/weights/; LinkNet will start random")
    return files | weights, notes


def build(out="segutils-kit.tar", data_dir=None, datasets=None, wheels: bool = True,
          platforms=DEFAULT_PLATFORMS, python_version: str = DEFAULT_PYTHON,
          download: Callable[..., None] = pip_download, runs=None, runs_dir=None) -> dict:
    """Write the kit archive ``out`` (atomically) and return its manifest.

    ``download(constraints, dest, platforms, python_version)`` fetches the wheels; tests inject one.
    ``runs``: profiles whose finished runs (under ``runs_dir``) go in too, ``[]`` for all
    (:func:`~segutils.course.kit_runs.collect_runs`); ``None`` packs none.

    Taught in notebooks/00_setup.ipynb.
    """
    files, notes = collect(data_dir, datasets)
    if runs is not None:
        found, skipped = collect_runs(runs_dir, runs)
        files, notes = files | found, notes + skipped
    with tempfile.TemporaryDirectory() as tmp:
        if wheels:
            download(REPO / "constraints.txt", Path(tmp), list(platforms), python_version)
            files.update({f"wheels/{p.name}": p for p in sorted(Path(tmp).glob("*.whl"))})
            if not any(k.startswith("wheels/") for k in files):
                raise KitError(f"the wheel download left no .whl files in {tmp}")
        files["constraints.txt"] = REPO / "constraints.txt"
        listing = [{"path": k, "size": p.stat().st_size, "sha256": sha256_of(p)} for k, p in sorted(files.items())]
        manifest = {
            "format": "segutils-kit/1",
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "datasets": sorted({k.split("/")[1] for k in files if k.startswith("data/") and "/weights/" not in k}),
            "weights": sorted(Path(k).name for k in files if k.startswith(f"data/{WEIGHTS}/")),
            "runs": packed_runs(files),
            "wheels": {"platforms": list(platforms), "python_version": python_version} if wheels else None,
            "notes": notes,
            "files": listing,
        }
        extra = {"MANIFEST.json": json.dumps(manifest, indent=1).encode()}
        extra["SHA256SUMS"] = "".join(f"{f['sha256']}  {f['path']}\n" for f in listing).encode()
        out = Path(out).expanduser()
        part = out.with_name(out.name + ".part")
        _writable(out)
        try:
            with tarfile.open(part, "w") as tar:
                for name, data in extra.items():
                    (Path(tmp) / name).write_bytes(data)
                    tar.add(Path(tmp) / name, f"{ROOT}/{name}")
                for entry in listing:
                    tar.add(files[entry["path"]], f"{ROOT}/{entry['path']}")
            os.replace(part, out)
        finally:
            part.unlink(missing_ok=True)
    return manifest


def _writable(out: Path) -> None:
    """KitError naming ``out`` when the archive (or its ``.part`` beside it) cannot be written there."""
    part = out.with_name(out.name + ".part")
    blocked = next((p for p in (out.parent, *out.parents) if p.exists() and not p.is_dir()), None)
    why = (f"{blocked} is a file, not a folder" if blocked else f"{part} is a folder" if part.is_dir() else
           f"{out} is a folder" if out.is_dir() else "")
    if not why:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            part.touch()
        except OSError as err:
            why = err.strerror or str(err)
    if why:
        raise KitError(f"cannot write the kit to {out}: {why}. Give --out a file in a folder you can write to "
                       "(make offline-kit KIT=path/segutils-kit.tar).")


def main(argv=None) -> int:
    """``build`` / ``verify`` / ``serve``: see ``python -m segutils.course.kit -h``."""
    parser = argparse.ArgumentParser(prog="python -m segutils.course.kit", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    b = commands.add_parser("build", help="write the kit archive")
    b.add_argument("--out", default="segutils-kit.tar")
    b.add_argument("--data-dir", help="where the datasets are (default: as `make data`)")
    b.add_argument("--dataset", action="append", dest="datasets", help="require this dataset (repeatable)")
    b.add_argument("--platform", action="append", dest="platforms", help="pip platform tag (repeatable)")
    b.add_argument("--python-version", default=DEFAULT_PYTHON)
    b.add_argument("--no-wheels", action="store_true", help="leave the wheels out (no network needed)")
    b.add_argument("--runs", nargs="*", metavar="PROFILE", help="pack notebook 05's finished runs (of every profile, "
                   "or these), so a room skips its training: SEGUTILS_RUNS_DIR=<kit>/runs")
    v = commands.add_parser("verify", help="check an archive or unpacked kit")
    s = commands.add_parser("serve", help="unpack (if an archive) and serve a kit over HTTP")
    for command in (v, s):
        command.add_argument("kit")
        command.add_argument("--replace", action="store_true", help="replace an unpacked kit that differs")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--bind", default="0.0.0.0")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            m = build(args.out, args.data_dir, args.datasets, not args.no_wheels,
                      args.platforms or DEFAULT_PLATFORMS, args.python_version, runs=args.runs)
            size = sum(f["size"] for f in m["files"])
            wheels = sum(f["path"].startswith("wheels/") for f in m["files"])
            print(f"{args.out}: {len(m['files'])} files, {size / 1e6:.1f} MB: datasets {m['datasets']}, "
                  f"weights {m['weights']}, {wheels} wheels, {len(m['runs'])} runs {m['runs']}")
            for note in m["notes"]:  # none: no empty line
                print(f"note: {note}")
            return 0
        kit = Path(args.kit).expanduser()
        if not kit.exists():
            raise KitError(f"there is no kit at {kit}: give the archive (segutils-kit.tar) or its unpacked folder")
        root = kit if kit.is_dir() else unpack(kit, kit.parent, args.replace)
        if args.command == "verify":
            problems = verify(root)
            print("\n".join(problems) or f"{root}: every file matches MANIFEST.json")
            return 1 if problems else 0
        try:
            server = make_server(root, args.bind, args.port)
        except socket.gaierror as err:  # --bind names no address of this machine
            raise KitError(f"cannot serve on {args.bind} ({err.strerror}): give --bind an address of this machine, "
                           "e.g. 127.0.0.1, or leave it out to serve on every network") from None
        except (OSError, OverflowError) as err:  # a port in use, out of range, or below 1024 without root
            raise KitError(f"cannot serve on {args.bind}:{args.port} ({err}): pick a free port from 1024 to 65535, "
                           "e.g. --port 8001") from None
        host = lan_address() if args.bind == "0.0.0.0" else args.bind
        args.port = server.server_address[1]  # --port 0: the free port the system picked
        print(f"Serving {root} on http://{host}:{args.port}/ (Ctrl+C stops). On each participant's machine:\n"
              f"  export SEGUTILS_MIRROR=http://{host}:{args.port}/data/{{name}}/\n"
              f"  pip install --no-index --find-links http://{host}:{args.port}/wheels/ --trusted-host {host} "
              "-c constraints.txt -e .")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
        return 0
    except (KitError, RunsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
