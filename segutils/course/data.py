"""Command line: ``python -m segutils.course.data download-all`` (what ``make data`` runs).

Commands: ``download NAME...``, ``download-all`` (the datasets in ``DOWNLOAD_ALL``, then
every entry of ``PREFETCHERS``), ``verify [NAME...]`` and ``list``. Exit status 1 when
anything failed, with the reason and the fix on stderr; 130 after Ctrl-C.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shlex
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from segutils.course.downloads import DownloadError, fetch
from segutils.course.parameters import whole
from segutils.data.registry import (
    DATASETS,
    ENV_DATA_DIR,
    ENV_MIRROR,
    WEIGHTS,
    check_file,
    data_root,
    default_data_dir,
    info,
    read_manifest,
    registered,
)

#: Datasets that ``download-all`` (``make data``) fetches.
DOWNLOAD_ALL = ("membrane", "camvid")


def verify(name: str, data_dir: str | os.PathLike | None = None) -> list[str]:
    """Problems of the cached copy of ``name``, one line per bad file (empty: all good)."""
    root = data_root(data_dir) / info(name).name
    problems = [(e.path, check_file(root / e.path, e)) for e in read_manifest(info(name).manifest)[1]]
    return [f"{path}: {problem}" for path, problem in problems if problem]


def prefetch_encoder_weights(data_dir=None, mirror=None, progress: bool = True) -> Path:
    """Fetch LinkNet's ImageNet ResNet34 encoder into the Keras cache and ``<data>/weights/``.

    The copy under the data folder makes that folder a complete mirror for a workshop.
    """
    from segutils.models.weights import encoder_weights_path, imagenet_weights_info

    cached = Path(encoder_weights_path("resnet34", "imagenet", mirror=mirror))
    copy = data_root(data_dir) / WEIGHTS / cached.name
    expected = imagenet_weights_info("resnet34")["md5"]
    if copy.is_file() and hashlib.md5(copy.read_bytes()).hexdigest() == expected:
        return copy
    copy.parent.mkdir(parents=True, exist_ok=True)
    partial = copy.with_name(f".{copy.name}.{os.getpid()}.part")
    try:
        shutil.copyfile(cached, partial)
        os.replace(partial, copy)
    finally:
        partial.unlink(missing_ok=True)
    return copy


#: More things ``download-all`` fetches after the datasets, by name: each is called as
#: ``prefetch(data_dir=..., mirror=..., progress=bool)``.
PREFETCHERS: dict[str, Callable[..., object]] = {"resnet34 ImageNet encoder weights": prefetch_encoder_weights}


def downloadable_names() -> list[str]:
    """The registered datasets with files to download (``membrane``, ``camvid``), as the commands list them."""
    return [name for name, meta in DATASETS.items() if meta.manifest]


def _name(text: str) -> str:
    """A dataset name as typed (``MEMBRANE``, `` camvid``): the registry's name, as ``course.fetch`` reads it."""
    return registered(text) or text


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", help=f"cache folder (default: ${ENV_DATA_DIR} or {default_data_dir()})")
    common.add_argument("--mirror", help=f"mirror URL or folder; {{name}} becomes the dataset (default: ${ENV_MIRROR})")
    common.add_argument("--workers", type=whole(what="a whole number of parallel downloads"), default=8,
                        help="parallel downloads (default: 8)")
    common.add_argument("--quiet", action="store_true", help="no progress bars")
    parser = argparse.ArgumentParser(prog="python -m segutils.course.data", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    names = {"choices": downloadable_names(), "metavar": "NAME", "type": _name}
    add = commands.add_parser
    add("download", parents=[common], help="download and verify datasets").add_argument("names", nargs="+", **names)
    add("download-all", parents=[common], help=f"download {', '.join(DOWNLOAD_ALL)} and the registered extras")
    add("verify", parents=[common], help="check cached files").add_argument("names", nargs="*", metavar="NAME",
                                                                            type=_name)
    add("list", parents=[common], help="list the datasets and the cache folder")
    args = parser.parse_args(argv)

    if args.command == "list":
        print(f"cache folder: {data_root(args.data_dir)}")
        for name, meta in DATASETS.items():
            print(f"{name:10} {meta.num_classes or '?':>3} classes  {meta.description}")
        return 0
    if args.command == "verify":
        unknown = sorted(set(args.names) - set(downloadable_names()))
        if unknown:
            parser.error(f"cannot verify {', '.join(unknown)}: choose from {', '.join(downloadable_names())}")
        bad = []  # a dataset never downloaded is a problem only when named
        for name in args.names or downloadable_names():
            if not (data_root(args.data_dir) / info(name).name).exists():
                print(f"{name}: not downloaded")
                bad += [name] if args.names else []
                continue
            found = verify(name, args.data_dir)
            print(f"{name}: {'OK' if not found else f'{len(found)} problems'}")
            for line in found[:10]:
                print(f"  {line}")
            bad += [name] if found else []
        if bad:
            where = f" --data-dir {shlex.quote(args.data_dir)}" if args.data_dir else ""
            print(f"Fix: python -m segutils.course.data download {' '.join(bad)}{where} (downloads what is missing or "
                  "damaged, keeps the rest).", file=sys.stderr)
        return int(bool(bad))

    names = args.names if args.command == "download" else list(DOWNLOAD_ALL)
    failed = []
    for name in names:
        try:
            path = fetch(name, args.data_dir, args.mirror, args.workers, progress=not args.quiet)
            print(f"{name}: all files present and verified in {path}")
        except DownloadError as err:
            print(f"{name}: FAILED\n{err}", file=sys.stderr)
            failed.append(name)
        except KeyboardInterrupt as err:  # Ctrl-C: one line, not a traceback
            print(str(err) or "Stopped by Ctrl-C.", file=sys.stderr)
            return 130
    if args.command == "download-all":
        for name, prefetch in PREFETCHERS.items():
            try:
                prefetch(data_dir=args.data_dir, mirror=args.mirror, progress=not args.quiet)
                print(f"{name}: ready")
            except Exception as err:  # noqa: BLE001 - report every failure, then exit 1
                print(f"{name}: FAILED\n{err}", file=sys.stderr)
                failed.append(name)
            except KeyboardInterrupt:  # Keras deletes its partial file
                print(f"{name}: stopped by Ctrl-C (no partial file left); the datasets above are verified and kept. "
                      "Run `make data` again to fetch it.", file=sys.stderr)
                return 130
    if failed:
        print(f"Failed: {', '.join(failed)}. See the messages above, then retry `make data`.", file=sys.stderr)
    return int(bool(failed))


if __name__ == "__main__":
    sys.exit(main())
