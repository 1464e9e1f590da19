"""The best weights in memory and ``best.keras`` at the end; every few minutes an atomic backup to resume from,
``backup-<phase>/`` (weights, optimizer state, ``meta.json``). Used by :class:`.run.Run`, taught in notebook 05."""

import json
import math
import os
import shutil
import time
from pathlib import Path

import keras
import numpy as np

from .. import _compat
from . import runs

BACKUP_ENV_VAR = "SEGUTILS_BACKUP_SECONDS"
STATE, BEST, META = "state.weights.h5", "best.npz", "meta.json"


def backup_seconds() -> float:
    """Seconds between two backups: ``$SEGUTILS_BACKUP_SECONDS`` (0: every epoch), else 600."""
    text = os.environ.get(BACKUP_ENV_VAR, "")
    try:
        return float(text) if text else 600.0
    except ValueError:
        raise ValueError(f"{BACKUP_ENV_VAR}={text!r} is not a number of seconds; unset it or set e.g. 600") from None


def save_model(model: keras.Model, path: Path) -> Path:
    """``model.save(path)`` without optimizer state, atomically."""
    with _compat.without_optimizer(model):
        return runs.atomic(path, model.save)


def _load_arrays(path: Path) -> list:
    with np.load(path) as data:
        return [data[f"arr_{i}"] for i in range(len(data.files))]


def read_meta(backup: Path) -> dict:
    """A backup's ``meta.json`` (``epoch``, ``best``, ``best_epoch``, ``best_file``, ``identity``); ValueError
    naming the file that is missing, unreadable or does not open."""
    import h5py

    try:
        meta = json.loads((backup / META).read_text())
        int(meta["epoch"]), meta["identity"], meta["best_file"]  # noqa: B018 - the keys it needs
    except FileNotFoundError:
        raise ValueError(f"it has no {META} (an older course version's backup, or one killed while saving)") from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"its {META} is unreadable ({type(error).__name__}: {error})") from None
    for name in {STATE, meta["best_file"]} - {None}:
        try:
            h5py.File(backup / name, "r").close() if name == STATE else _load_arrays(backup / name)
        except (OSError, ValueError, EOFError) as error:
            raise ValueError(f"its {name} does not open ({type(error).__name__}: {str(error)[:160]})") from None
    return meta


def check_backup(backup: Path, identity: dict) -> bool:
    """True if ``backup`` reads (:func:`read_meta`) and has this ``identity``; else it is set aside, saying why."""
    if not backup.exists():
        return False
    try:
        stored = read_meta(backup)["identity"]
        if stored != identity:
            keys = sorted(k for k in {*stored, *identity} if stored.get(k) != identity.get(k))
            changes = "; ".join(f"{k}: {stored.get(k)!r} -> {identity.get(k)!r}" for k in keys)
            raise ValueError(f"it belongs to another training ({changes})")
    except ValueError as error:
        runs.set_aside(backup, str(error))
        return False
    return True


class Checkpoints(keras.callbacks.Callback):
    """Keeps the best weights in memory, backs up every ``seconds`` (:func:`backup_seconds`), writes ``best.keras``;
    ``best``: the monitored value before this phase (phase 1's, a resumed run's)."""

    def __init__(self, directory: Path, phase: str, identity: dict, monitor: str = "val_mean_iou",
                 best: float | None = None, seconds: float | None = None):
        super().__init__()
        self.directory, self.backup, self.identity = Path(directory), Path(directory) / f"backup-{phase}", identity
        self.monitor, self.best = monitor, -math.inf if best is None else best
        self.seconds = backup_seconds() if seconds is None else seconds
        self.epoch = 0  # finished epochs
        self.best_epoch, self._best_weights, self._saved_best = None, None, True
        self._last_save, self._first, self._in_epoch = time.monotonic(), True, False

    def on_train_begin(self, logs=None):
        self._last_save, self._first = time.monotonic(), True
        if check_backup(self.backup, self.identity):
            self._restore()

    def _restore(self):
        meta = json.loads((self.backup / META).read_text())
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:  # else Keras skips the saved Adam moments
            optimizer.build(self.model.trainable_variables)
        self.model.load_weights(self.backup / STATE)
        if meta["best_file"] == BEST:
            self._best_weights = _load_arrays(self.backup / BEST)
        elif meta["best_file"] == STATE:
            self._best_weights = self.model.get_weights()
        self.epoch, self.best_epoch = int(meta["epoch"]), meta["best_epoch"]
        self._saved_best = meta["best_file"] == BEST
        self.best = -math.inf if meta["best"] is None else meta["best"]
        _compat.set_initial_epoch(self.model, self.epoch)
        print(f"Resuming {self.directory} after epoch {self.epoch} (backup of {meta.get('saved', '?')}).")

    def on_epoch_begin(self, epoch, logs=None):
        self._in_epoch = True
        if self._first:  # rows a killed run logged after its last backup are done again: drop them
            runs.trim_epochs(self.directory, epoch)
            self._first = False

    def on_epoch_end(self, epoch, logs=None):
        self.epoch, self._in_epoch = epoch + 1, False
        value = (logs or {}).get(self.monitor)
        if value is not None and value > self.best:
            self.best, self.best_epoch = float(value), self.epoch
            self._best_weights, self._saved_best = self.model.get_weights(), False
        if time.monotonic() - self._last_save >= self.seconds:
            self.save()

    def save(self) -> None:
        """Write the backup: state (weights + optimizer), the best weights if not the state's, meta last."""
        self.backup.mkdir(parents=True, exist_ok=True)
        runs.atomic(self.backup / STATE, self.model.save_weights)  # weights and the optimizer's state
        best_file = None
        if self._best_weights is not None:  # the state holds the best weights only at the best epoch's end
            best_file = STATE if self.best_epoch == self.epoch and not self._in_epoch else BEST
            if best_file == BEST and not self._saved_best:
                runs.atomic(self.backup / BEST, lambda tmp: np.savez(tmp, *self._best_weights))
        self._saved_best = self._saved_best or best_file == BEST
        meta = dict(epoch=self.epoch, best=None if math.isinf(self.best) else self.best, best_epoch=self.best_epoch,
                    best_file=best_file, identity=self.identity, saved=time.strftime("%Y-%m-%d %H:%M:%S"))
        runs.write_json(self.backup / META, meta, indent=1)
        self._last_save = time.monotonic()

    def interrupted(self) -> None:
        """Training stopped by an exception (Ctrl-C): back up now, to resume after the last finished epoch."""
        if self.model is None:  # fit failed before it started
            return
        _compat.set_initial_epoch(self.model, None)
        if self.epoch and self.model.optimizer is not None:
            self.save()
            print(f"Interrupted: backed up in {self.backup}; run fit again to resume after epoch {self.epoch}.")

    def on_train_end(self, logs=None):
        _compat.set_initial_epoch(self.model, None)
        if self._best_weights is not None:
            current = self.model.get_weights()
            self.model.set_weights(self._best_weights)
            save_model(self.model, self.directory / "best.keras")
            self.model.set_weights(current)
        shutil.rmtree(self.backup, ignore_errors=True)


def save_marker(model: keras.Model, path: Path, identity: dict) -> None:
    """``fine_tune``'s weights after its frozen phase (no optimizer state: phase 2 compiles anew), and whose."""
    path.with_suffix(".json").write_text(json.dumps(identity, default=str))
    with _compat.without_optimizer(model):
        runs.atomic(path, model.save_weights)


def check_marker(path: Path, identity: dict) -> bool:
    """True if the frozen phase's weights at ``path`` are this training's; else set them aside."""
    info = path.with_suffix(".json")
    if path.exists() and (not info.exists() or json.loads(info.read_text()) != identity):
        runs.set_aside(path, "it belongs to another training")
    return path.exists()
