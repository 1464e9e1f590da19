"""Run folders ``<root>/train/<profile>/<dataset>/<model>-seed<seed>/``, each with ``best.keras``, ``final.keras``,
``log.csv``, ``epochs.json``, ``record.json``, an unfinished run's ``backup-<phase>/`` and ``.lock``.
Taught in ``notebooks/05_training.ipynb``."""

import contextlib
import csv
import hashlib
import json
import os
import platform
import re
import time
from pathlib import Path

from .. import config
from ..data.registry import registered

RUNS_ENV_VAR = "SEGUTILS_RUNS_DIR"
RECORD = "record.json"


def runs_root() -> Path:
    """``$SEGUTILS_RUNS_DIR``, else ``runs/`` in this checkout (git-ignored), else ``~/.cache/segutils/runs``."""
    if os.environ.get(RUNS_ENV_VAR):
        return Path(os.environ[RUNS_ENV_VAR]).expanduser()
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").exists() and os.access(checkout, os.W_OK):
        return checkout / "runs"
    return Path.home() / ".cache" / "segutils" / "runs"


def dataset_text(dataset) -> str:
    """How records name ``dataset`` and runs are matched to it, as ``load`` reads it: a registry name in lower case
    (``Membrane`` loads ``membrane``, even beside a folder of that name), a folder (a path, or an existing folder) as
    its absolute path, so ``../my data`` and ``/home/me/my data`` are one dataset; another plain name as given."""
    if (key := registered(dataset)) is not None:
        return key
    text = str(dataset)
    if re.fullmatch(r"[A-Za-z0-9_.-]+", text) and not Path(text).expanduser().is_dir():
        return text
    return str(Path(text).expanduser().resolve())


def run_dir(name: str, seed: int, profile: str, root: str | os.PathLike | None = None, dataset="unnamed") -> Path:
    """``<root>/train/<profile>/<dataset>/<name>-seed<seed>/``, a folder dataset as ``<name>-<8 hex of its path>``."""
    slug = dataset_text(dataset)
    if Path(slug).is_absolute():
        folder = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(slug).name) or "folder"
        slug = f"{folder}-{hashlib.sha256(slug.encode()).hexdigest()[:8]}"
    return Path(root or runs_root()).expanduser() / "train" / profile / slug / f"{name}-seed{seed}"


def identity(name: str, seed: int, profile: str, dataset, datasets: tuple, protocol: dict | None = None) -> dict:
    """What makes a training this one (model, seed, data's shapes and sizes, ``protocol``), as plain values."""
    import tensorflow as tf

    data = [dict(elements=[[str(s.shape), s.dtype.name] for s in tf.nest.flatten(ds.element_spec)],
                 cardinality=int(ds.cardinality())) for ds in datasets]
    found = dict(model=name, seed=seed, profile=profile, dataset=str(dataset), data=data) | (protocol or {})
    return json.loads(json.dumps(found, default=str))


def atomic(path: Path, write) -> Path:
    """``write(tmp)``, then rename ``tmp`` to ``path``: a kill while saving leaves the previous file whole."""
    tmp = path.with_name(f".part.{path.name}")  # keeps the suffix Keras insists on
    write(tmp)
    os.replace(tmp, path)
    return path


def write_json(path: Path, data, indent: int | None = None) -> Path:
    """``data`` as JSON in ``path``, atomically."""
    return atomic(path, lambda tmp: tmp.write_text(json.dumps(data, default=str, indent=indent)))


def set_aside(path: Path, why: str) -> Path:
    """Rename ``path`` to ``<name>.set-aside-<time>`` (nothing is deleted) and say so in one line."""
    stamp, n = time.strftime("%Y%m%d-%H%M%S"), 0
    while (target := path.with_name(f"{path.name}.set-aside-{stamp}" + (f"-{n}" if n else ""))).exists():
        n += 1
    path.rename(target)
    print(f"Set aside {path} as {target.name}: {why}. Training starts again from the last good state.")
    return target


def trim_epochs(directory: Path, first: int) -> None:
    """Drop epochs ``>= first`` (0-based) from ``log.csv`` (in place: a logger may hold it) and ``epochs.json``."""
    log = directory / "log.csv"
    if log.exists():
        lines = log.read_text().splitlines(keepends=True)
        heads = [line.split(",", 1)[0].strip() for line in lines[1:]]
        kept = [line for line, head in zip(lines[1:], heads, strict=True) if not head.isdigit() or int(head) < first]
        if len(kept) < len(lines) - 1:
            with log.open("r+") as handle:
                handle.write("".join(lines[:1] + kept))
                handle.truncate()
    seconds = directory / "epochs.json"
    if seconds.exists():
        write_json(seconds, {k: v for k, v in json.loads(seconds.read_text()).items() if int(k) < first})


class RunBusyError(RuntimeError):
    """Another ``fit`` is training in this run folder."""


@contextlib.contextmanager
def claim(directory: Path):
    """Hold ``directory/.lock`` (a ``flock`` the system releases when the process ends, however it ends);
    :class:`RunBusyError` if another holds it."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / ".lock"
    with path.open("a+") as handle:  # closing the file releases the lock
        handle.seek(0)
        try:
            if os.name == "nt":
                import msvcrt

                msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise RunBusyError(f"{directory} is busy: another fit (process {handle.read().strip() or '?'}) is "
                               "training there. Wait for it to finish, or give this run its own folder=/run_dir= (or "
                               "another seed).") from None
        handle.truncate(0)
        handle.write(str(os.getpid()))
        handle.flush()
        yield path


def read_log(path: Path) -> dict[str, list[float]]:
    """The per-epoch history in a ``CSVLogger`` file, one value per epoch (a resumed epoch's last row)."""
    if not path.exists():
        return {}
    rows: dict[int, dict] = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row.get("epoch", "epoch") == "epoch":  # a header repeated by an appending logger
                continue
            rows[int(row["epoch"])] = row
    keys = [k for k in next(iter(rows.values()), {}) if k != "epoch"]
    return {k: [float(rows[e][k]) for e in sorted(rows)] for k in keys}


def read_epoch_seconds(path: Path) -> list[float]:
    """Wall-clock seconds of each finished epoch, in order, from ``epochs.json``."""
    if not path.exists():
        return []
    seconds = {int(k): v for k, v in json.loads(path.read_text()).items()}
    return [seconds[e] for e in sorted(seconds)]


def append_epoch_seconds(path: Path, epoch: int, seconds: float) -> None:
    """Add (or replace) one epoch's wall-clock seconds in ``epochs.json``, atomically."""
    data = json.loads(path.read_text()) if path.exists() else {}
    write_json(path, data | {str(epoch): seconds})


def environment() -> dict:
    """Machine and versions, for the record."""
    report = dict(config.environment_report())
    report["Machine"] = f"{platform.machine()}, {os.cpu_count()} CPU cores"
    return report


def best_epoch(history: dict, elapsed: list[float], monitor: str = "val_mean_iou") -> dict:
    """The epoch (1-based) with the highest ``monitor``, its value and the seconds elapsed then."""
    values = history.get(monitor) or []
    if not values:
        return dict(epoch=None, **{monitor: None}, seconds=None)
    index = max(range(len(values)), key=values.__getitem__)
    return dict(epoch=index + 1, **{monitor: values[index]}, seconds=elapsed[index] if index < len(elapsed) else None)


def find_runs(profile_name: str | None = None, root: str | os.PathLike | None = None) -> list[dict]:
    """The finished runs' records (with ``record_path``) of one profile (default: all), by model and seed; an
    unreadable ``record.json`` is named in one line and skipped. Taught in ``notebooks/05_training.ipynb``."""
    if profile_name is not None and profile_name not in config.PROFILES:
        raise ValueError(f"find_runs takes a profile name ({', '.join(config.PROFILES)}), got {profile_name!r}; "
                         "a folder of runs goes to root=")
    base = Path(root or runs_root()).expanduser() / "train"
    records = []
    for path in sorted(base.glob(f"{profile_name or '*'}/*/*/{RECORD}")):  # <profile>/<dataset>/<run>/
        try:
            record = json.loads(path.read_text())
            if not isinstance(record, dict) or "model" not in record:
                raise ValueError("not a run record (no 'model' key)")
        except (OSError, ValueError) as error:
            print(f"Skipped {path}: unreadable ({type(error).__name__}: {str(error)[:80]}); run that training again "
                  "or delete its folder.")
            continue
        record["record_path"] = str(path)
        if isinstance(record.get("model_path"), str):  # the folder's own file: copied runs (a kit, Drive) still load
            record["model_path"] = str(path.parent / Path(record["model_path"]).name)
        records.append(record)
    return sorted(records, key=lambda r: (r.get("model", ""), r.get("seed", 0)))
