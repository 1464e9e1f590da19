"""Run directories and run records: what a training run leaves for notebooks 06 and 07.

A run directory holds ``best.keras`` (best validation mean IoU), ``final.keras``, ``log.csv``
(one row per epoch, kept across resumes), ``epochs.json`` (wall clock per epoch), the
``backup/`` of an unfinished run, and ``record.json``. Taught in ``notebooks/05_training.ipynb``.
"""

from __future__ import annotations

import csv
import json
import os
import platform
from pathlib import Path

from .. import config

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


def run_dir(name: str, seed: int, profile: str, root: str | os.PathLike | None = None) -> Path:
    """``<root>/train/<profile>/<name>-seed<seed>/``."""
    return Path(root or runs_root()) / "train" / profile / f"{name}-seed{seed}"


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
    data[str(epoch)] = seconds
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


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


def write_record(directory: Path, record: dict) -> Path:
    """Write ``record.json`` atomically; returns its path."""
    path = directory / RECORD
    tmp = directory / f".{RECORD}.part"
    tmp.write_text(json.dumps(record, indent=1, default=str))
    tmp.replace(path)
    return path


def find_runs(profile_name: str | None = None, root: str | os.PathLike | None = None) -> list[dict]:
    """The finished runs' records (each with ``record_path``), sorted by model and seed.

    Args:
        profile_name: only runs of this profile (default: every profile).
        root: the runs root (default :func:`runs_root`).

    Taught in ``notebooks/06_comparison.ipynb``.
    """
    base = Path(root or runs_root()) / "train"
    pattern = f"{profile_name}/*/{RECORD}" if profile_name else f"*/*/{RECORD}"
    records = []
    for path in sorted(base.glob(pattern)):
        record = json.loads(path.read_text())
        record["record_path"] = str(path)
        records.append(record)
    return sorted(records, key=lambda r: (r.get("model", ""), r.get("seed", 0)))
