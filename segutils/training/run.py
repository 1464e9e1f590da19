"""``Run``: one training's folder, lock, protocol and record around the learner's own ``model.fit(...,
callbacks=run.callbacks())``, then ``run.finish(model, history)``; the checks ``Run.open`` makes of the model and data
before the first step. Taught in ``notebooks/05_training.ipynb``."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import shutil
import statistics
import time
import warnings
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from .. import _compat, config
from ..checks import writable
from . import checkpoints, runs
from .callbacks import EpochClock, LiveCurves, StepTimer
from .protocol import LR_FACTOR, MIN_LR, MONITOR, Protocol

PHASE1 = "phase1.weights.h5"  # fine_tune's weights after its frozen phase
_OPEN: dict[Path, Run] = {}  # runs this process holds, by folder


class AbsentClassesWarning(UserWarning):
    """``num_classes`` counts classes that no mask of a split holds."""


def check_dataset_type(ds, name: str = "train_ds", none_ok: bool = False) -> None:
    """TypeError unless ``ds`` is a ``tf.data.Dataset`` (or ``None`` when ``none_ok``)."""
    if not (isinstance(ds, tf.data.Dataset) or (ds is None and none_ok)):
        got = type(ds).__name__ + (" (NumPy arrays?)" if isinstance(ds, (tuple, list, np.ndarray)) else "")
        raise TypeError(f"{name} must be a tf.data.Dataset of (image, mask) batches, got a {got}: make one with "
                        "segutils.data.make_dataset(split, img_size, batch_size), or "
                        "tf.data.Dataset.from_tensor_slices((images, masks)).batch(8)")


def absent_classes(ds, num_classes: int, ignore_index: int | None = None) -> list[int]:
    """Classes (0 and 1 for a one-channel head) no mask of one pass over ``(images, masks)`` holds; a repeated ``ds``
    is read through what it repeats (none are named when no finite dataset is found under it)."""
    ds, present = _compat.finite_input(ds), set()
    for element in [] if ds is None else ds.as_numpy_iterator():
        present.update(np.unique(element[1]).tolist())
    return [c for c in range(max(num_classes, 2)) if ds is not None and c not in present and c != ignore_index]


def warn_absent_classes(num_classes: int, ignore_index: int | None = None, **splits) -> dict[str, list[int]]:
    """Warn naming the classes each split (``train=ds, val=ds``) never holds; returns them per split."""
    found = {name: absent_classes(ds, num_classes, ignore_index) for name, ds in splits.items() if ds is not None}
    for name, absent in ((n, a) for n, a in found.items() if a):
        warnings.warn(f"num_classes={num_classes}, but no {name} mask holds class(es) {absent}: their IoU is 0 or "
                      "undefined and the mean IoU is averaged over them. Pass the number of classes your masks hold, "
                      "or check the masks' encoding (a palette, 0/255 values).", AbsentClassesWarning, stacklevel=2)
    return found


def _check_data(train_ds, val_ds, protocol: Protocol) -> int | None:
    """Refuse missing, empty or too short datasets before the first step; the batch size if the dataset says it."""
    if val_ds is None:
        raise ValueError("val_ds is None: training keeps the best model and stops early by the validation mean IoU, "
                         "so it needs validation batches. Pass make_dataset(load(dataset, 'val'), size, batch).")
    check_dataset_type(train_ds)
    check_dataset_type(val_ds, "val_ds")
    for what, ds in (("train_ds", train_ds), ("val_ds", val_ds)):
        cardinality = int(ds.cardinality())  # unknown after filter(), infinite after repeat(): look for a batch
        if cardinality == 0 or (cardinality < 0 and not any(True for _ in ds.take(1))):
            raise ValueError(f"{what} is empty: it yields no batches. Check the split has images (len(split) > 0), "
                             "that subset is not 0, and that steps, take() or filter() did not cut it to nothing.")
    batches, steps = int(train_ds.cardinality()), protocol.epochs * protocol.steps_per_epoch
    if 0 < batches < steps:
        raise ValueError(f"train_ds holds {batches} batches, but the protocol trains {protocol.epochs} epochs of "
                         f"{protocol.steps_per_epoch} steps ({steps} steps): Keras would run out of data. Repeat the "
                         "training set: make_dataset(..., repeat=True), or train_ds.repeat().")
    return _compat.batch_size_of(train_ds)


def _check_compiled(model: keras.Model) -> None:
    """Refuse a model that is not compiled, or compiled without the monitored ``mean_iou`` metric."""
    settings = model.get_compile_config() if getattr(model, "compiled", False) else {}
    if not settings:
        raise ValueError("the model is not compiled: call training.compile_model(model, num_classes) first")
    metrics = settings.get("metrics") or []
    metrics = list(metrics.values()) if isinstance(metrics, dict) else metrics
    names = [m if isinstance(m, str) else m.get("config", {}).get("name") for m in metrics]
    if "mean_iou" not in names:
        raise ValueError(f"the model was compiled without a 'mean_iou' metric (its metrics: {names}), but training "
                         f"keeps the best model and stops early on {MONITOR}. Compile it with "
                         "training.compile_model(model, num_classes), or add segutils.metrics.MeanIoU(num_classes).")


def probe_step_seconds(model: keras.Model, train_ds, steps: int = 10) -> float:
    """Median seconds of a training step on one batch held in memory; weights, optimizer and metrics restored."""
    saved = [v.numpy() for v in (*model.variables, *model.optimizer.variables)]
    timer = StepTimer(batch_size=1, skip=2)
    model.fit(train_ds.take(1).cache().repeat(), epochs=1, steps_per_epoch=steps + 2, callbacks=[timer], verbose=0,
              shuffle=False)
    for variable, value in zip((*model.variables, *model.optimizer.variables), saved, strict=True):
        variable.assign(value)
    model.reset_metrics()
    return statistics.median(timer.steps)


def trainable_params(model: keras.Model) -> int:
    """How many weights the next ``fit`` updates."""
    return int(sum(w.numpy().size for w in model.trainable_weights))


@dataclasses.dataclass
class Run:
    """One training in its folder: the lock held, the protocol, the identity a backup must match, the record.
    Taught in ``notebooks/05_training.ipynb``."""

    folder: Path
    protocol: Protocol
    identity: dict
    name: str
    settings: dict  # the record's protocol dict
    batch_size: int
    extra: dict
    resumed: bool = False
    record: dict | None = None
    quiet: bool = False
    measure_input_wait: bool = True
    phases: list = dataclasses.field(default_factory=list)
    _lock: contextlib.ExitStack = dataclasses.field(default_factory=contextlib.ExitStack, repr=False)
    _timers: list = dataclasses.field(default_factory=list, repr=False)
    _backup: checkpoints.Checkpoints | None = dataclasses.field(default=None, repr=False)
    _pending: StepTimer | None = dataclasses.field(default=None, repr=False)
    _data: tuple = dataclasses.field(default=(), repr=False)
    _started: float = dataclasses.field(default_factory=time.perf_counter, repr=False)

    @classmethod
    def open(cls, model: keras.Model, train_ds, val_ds, name: str, protocol: Protocol | None = None, folder=None,
             extra: dict | None = None, phases=("train",), quiet: bool = False,
             measure_input_wait: bool = True) -> Run:
        """Check the model and data, claim the run folder, and resume a backup of this training if there is one.

        Args:
            model: compiled with a ``mean_iou`` metric; with one phase its learning rate becomes ``protocol.lr``.
            train_ds, val_ds: ``(image, mask)`` batches; ``train_ds`` repeats (or holds the budget's batches).
            name: the model's name in records (``"unet"``, ``"linknet"``).
            protocol: default ``Protocol.from_profile()``, the active profile's.
            folder: default ``runs/train/<profile>/<dataset>/<name>-seed<seed>/``, dataset ``extra["dataset"]``.
            extra: more configuration for the record (``dataset``, a folder recorded as its absolute path,
                ``num_classes``, ``ignore_index``, ...).
            phases: ``("train",)``, or ``fine_tune``'s ``("frozen", "unfrozen")``.
            quiet: no live curves. measure_input_wait: time steps on a batch in memory at :meth:`finish`.

        Raises:
            RunBusyError: another process trains in ``folder``.
            ValueError: the model is not compiled for the course, or a dataset is missing, empty or too short.
            TypeError: a dataset is not a ``tf.data.Dataset``. OSError: the folder cannot be written.
        Warns ``AbsentClassesWarning`` naming classes no mask of a split holds.
        """
        protocol = protocol or Protocol.from_profile()
        _check_compiled(model)
        batch_size = _check_data(train_ds, val_ds, protocol) or config.get(protocol.profile).batch_size
        extra = dict(extra or {})
        classes = extra.get("num_classes") or max(2, model.output_shape[-1])  # one sigmoid channel: 2 classes
        warn_absent_classes(classes, extra.get("ignore_index"), train=train_ds, val=val_ds)
        dataset = runs.dataset_text(extra.get("dataset", "unnamed"))
        if "dataset" in extra:
            extra["dataset"] = dataset
        folder = runs.run_dir(name, protocol.seed, protocol.profile, dataset=dataset) if folder is None else folder
        folder = writable(folder, "the training run")
        if folder.resolve() in _OPEN:  # a fit of this kernel stopped by Ctrl-C: keep its epochs, free the folder
            _OPEN.pop(folder.resolve()).close(interrupted=True)
        size = train_ds.element_spec[0].shape[1:3]
        size = list(size) if None not in size else list(model.input_shape[1:3])
        optimizer = getattr(model.optimizer, "inner_optimizer", model.optimizer)  # mixed precision wraps it
        settings = protocol.as_dict(batch_size, size, getattr(model.loss, "name", str(model.loss)),
                                    type(optimizer).__name__, list(phases))
        identity = runs.identity(name, protocol.seed, protocol.profile, dataset, (train_ds, val_ds),
                                 dict(settings, params=model.count_params()))
        run = cls(folder, protocol, identity, name, settings, batch_size, extra, quiet=quiet,
                  measure_input_wait=measure_input_wait, _data=(train_ds, val_ds))
        run._lock.enter_context(runs.claim(folder))
        _OPEN[folder.resolve()] = run
        try:
            strategy = model.distribute_strategy  # keras-team/keras#20585: fit fails under it without two workarounds
            if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
                run._lock.enter_context(_compat.multi_worker_fit(model, strategy))  # until the run is closed
            run.resumed = run._keep_or_clear(phases)
        except BaseException:
            run.close()
            raise
        if tuple(phases) == ("train",):
            model.optimizer.learning_rate = protocol.lr
        return run

    def _keep_or_clear(self, phases) -> bool:
        """True if a backup of this training is there to resume; else clear a finished run's files."""
        valid = [checkpoints.check_backup(self.folder / f"backup-{p}", self.identity) for p in phases]
        resuming = any(valid) or checkpoints.check_marker(self.folder / PHASE1, self.identity)
        if not resuming and (self.folder / runs.RECORD).exists():
            print(f"Training again in {self.folder}: its finished run is replaced (another folder=/run_dir= keeps it).")
        if not resuming:
            for name in ("log.csv", "epochs.json", runs.RECORD, "best.keras", "final.keras"):
                (self.folder / name).unlink(missing_ok=True)
        return resuming

    def stamped(self, train_ds):
        """``train_ds`` noting when each batch reaches its step, for the record's ``batch_wait_share``."""
        self._pending = StepTimer(self.batch_size)
        return self._pending.stamped(train_ds)

    def callbacks(self, phase: str = "train", stop_early: bool = True) -> list[keras.callbacks.Callback]:
        """The course's callbacks for one ``model.fit``: best weights and backup, early stopping, the schedule,
        ``log.csv``, the step timer, the epoch clock and live curves."""
        history = runs.read_log(self.folder / "log.csv")
        best = max(history[MONITOR]) if history.get(MONITOR) else None  # a resumed run's or phase 1's best
        # Own backup, not BackupAndRestore + ModelCheckpoint: those write LinkNet's 262 MB state every epoch.
        self._backup = checkpoints.Checkpoints(self.folder, phase, self.identity, MONITOR, best=best)
        found = [self._backup, keras.callbacks.CSVLogger(self.folder / "log.csv", append=True)]
        if stop_early and self.protocol.patience:
            found.append(keras.callbacks.EarlyStopping(MONITOR, mode="max", patience=self.protocol.patience))
        if self.protocol.lr_patience:
            found.append(keras.callbacks.ReduceLROnPlateau(MONITOR, mode="max", factor=LR_FACTOR,
                                                           patience=self.protocol.lr_patience, min_lr=MIN_LR))
        if not self.quiet:
            found.append(LiveCurves(self.folder.name, history=history))
        self._timers.append(self._pending or StepTimer(self.batch_size))  # not stamped: no batch wait
        self._pending = None
        seconds = lambda epoch, s, logs: runs.append_epoch_seconds(self.folder / "epochs.json", epoch, s)  # noqa: E731
        return [*found, self._timers[-1], EpochClock(on_epoch=seconds)]  # the clock last: it times every callback

    def end_phase(self, model: keras.Model, phase: str, epochs: list[int], lr: float) -> None:
        """Note a finished ``model.fit`` as one phase of the record (:meth:`finish` notes a single one itself)."""
        timer = self._timers[-1] if self._timers else StepTimer(self.batch_size)
        timings = timer.summary() | dict(steps=timer.steps)
        self.phases.append(dict(phase=phase, epochs=epochs, lr=lr, trainable_params=trainable_params(model),
                                timings=timings))

    def finish(self, model: keras.Model, history: keras.callbacks.History | None = None) -> dict:
        """Write ``final.keras`` and ``record.json``, delete the backups, release the folder; returns the record.
        ``history`` is not needed: the record's history comes from ``log.csv``, resumes included."""
        if not self.phases:
            self.end_phase(model, "train", [1, self.protocol.epochs], self.protocol.lr)
        pooled = self._pooled()
        if self.measure_input_wait and pooled["median_step_s"]:
            probe = probe_step_seconds(model, self._data[0])
            pooled.update(in_memory_step_s=probe, input_wait_share=max(0.0, 1.0 - probe / pooled["median_step_s"]))
        for path in (self.folder / PHASE1, (self.folder / PHASE1).with_suffix(".json")):
            path.unlink(missing_ok=True)
        self.record = self._write_record(model, pooled)
        for phase in self.settings["phases"]:
            shutil.rmtree(self.folder / f"backup-{phase}", ignore_errors=True)
        self.close()
        return self.record

    def _pooled(self) -> dict:
        pooled = StepTimer(self.batch_size)  # every phase's steps; the batch wait of the worst phase
        pooled.steps = [step for p in self.phases for step in p["timings"].pop("steps", [])]
        waits = [w for p in self.phases if (w := p["timings"]["batch_wait_share"]) is not None]
        return pooled.summary() | dict(batch_wait_share=max(waits, default=None), input_wait_share=None)

    def _write_record(self, model: keras.Model, timings: dict) -> dict:
        checkpoints.save_model(model, self.folder / "final.keras")
        history = runs.read_log(self.folder / "log.csv")
        epoch_seconds = runs.read_epoch_seconds(self.folder / "epochs.json")
        elapsed = list(itertools.accumulate(epoch_seconds))
        best_path, settings = self.folder / "best.keras", self.settings
        record = dict(
            name=self.folder.name, model=self.name, seed=self.protocol.seed,
            profile=config.get(self.protocol.profile).as_dict(), environment=runs.environment(), protocol=settings,
            config=dict(img_size=settings["image_size"], batch_size=self.batch_size, epochs=len(epoch_seconds),
                        loss=settings["loss"], encoder_pretrained=getattr(model, "encoder_pretrained", None),
                        mixed_precision=keras.mixed_precision.global_policy().name == "mixed_float16",
                        jit_compile=bool(model.jit_compile), params=model.count_params(),
                        replicas=model.distribute_strategy.num_replicas_in_sync, **self.extra),
            history=history, epoch_seconds=epoch_seconds, elapsed=elapsed, timings=timings,
            best=runs.best_epoch(history, elapsed, MONITOR), train_seconds=elapsed[-1] if elapsed else 0.0,
            wall_seconds_this_session=time.perf_counter() - self._started, resumed=self.resumed, phases=self.phases,
            model_path=str(best_path if best_path.exists() else self.folder / "final.keras"))
        runs.write_json(self.folder / runs.RECORD, record, indent=1)
        return record

    def close(self, interrupted: bool = False) -> None:
        """Release the folder; ``interrupted``: first back up what the finished epochs reached, to resume."""
        if interrupted and self._backup is not None:
            self._backup.interrupted()
        _OPEN.pop(self.folder.resolve(), None)
        self._lock.close()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, kind, error, trace) -> None:
        if self.record is None:
            self.close(interrupted=kind is not None)
