"""``fit`` and ``fine_tune``: Keras' ``model.fit`` with the course's callbacks and a run record.

No hand-written loop: ``model.fit`` does the training; callbacks keep the best model (validation
mean IoU), stop early, lower the learning rate on a plateau, log every epoch to CSV, back the run
up every epoch so that an interrupted run resumes where it stopped, time the steps and draw the
curves. Taught in ``notebooks/05_training.ipynb``.
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import statistics
import time
from pathlib import Path

import keras

from .. import _compat, config
from ..models.build import encoder_layers
from . import runs
from .callbacks import EpochClock, LiveCurves, StepTimer
from .setup import compile_model

MONITOR = "val_mean_iou"


def _check_data(train_ds, val_ds) -> int | None:
    """Refuse empty datasets; the batch size if the dataset says it."""
    for what, ds in (("train_ds", train_ds), ("val_ds", val_ds)):
        if ds is not None and int(ds.cardinality()) == 0:
            raise ValueError(
                f"{what} is empty: it yields no batches. Check the split has images (len(split) > 0), that "
                "subset is not 0, and that steps or take() did not cut it to nothing."
            )
    return _compat.batch_size_of(train_ds)


def probe_step_seconds(model: keras.Model, train_ds, steps: int = 3) -> float:
    """Median seconds of a training step on one batch already in memory (no input pipeline).

    The weights, optimiser state and metrics are restored afterwards, so the probe does not
    change the training. Compared with the steps of ``fit`` it gives the time spent waiting
    for input.
    """
    x, y = next(iter(train_ds.take(1)))
    saved = [v.numpy() for v in (*model.variables, *model.optimizer.variables)]
    model.train_on_batch(x, y)  # trace (and XLA-compile) outside the timing
    seconds = []
    for _ in range(steps):
        start = time.perf_counter()
        model.train_on_batch(x, y)
        seconds.append(time.perf_counter() - start)
    for variable, value in zip((*model.variables, *model.optimizer.variables), saved, strict=True):
        variable.assign(value)
    model.reset_metrics()
    return statistics.median(seconds)


def _callbacks(directory: Path, phase: str, patience, lr_patience, tensorboard, live, history, timer, clock, extra):
    best = keras.callbacks.ModelCheckpoint(directory / "best.keras", monitor=MONITOR, mode="max", save_best_only=True)
    if history.get(MONITOR):  # a resumed run: beat the best so far, not -inf
        best.best = max(history[MONITOR])
    found = [
        keras.callbacks.BackupAndRestore(directory / f"backup-{phase}"),
        best,
        keras.callbacks.CSVLogger(directory / "log.csv", append=True),
        clock,
        timer,
    ]
    if patience:
        found.append(keras.callbacks.EarlyStopping(monitor=MONITOR, mode="max", patience=patience))
    if lr_patience:
        found.append(keras.callbacks.ReduceLROnPlateau(monitor=MONITOR, mode="max", factor=0.5,
                                                       patience=lr_patience, min_lr=1e-6))
    if tensorboard:
        found.append(keras.callbacks.TensorBoard(directory / "tensorboard"))
    if live:
        found.append(LiveCurves(directory.name, history=history))
    return found + list(extra or [])


@contextlib.contextmanager
def _multi_worker_fit(model):
    """``fit`` under ``MultiWorkerMirroredStrategy`` needs two Keras workarounds (see ``_compat``)."""
    tf = config.import_tensorflow()
    strategy = _compat.model_strategy(model)
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        yield
        return
    with _compat.multi_worker_fit(model, strategy):
        yield


def _phase(model, train_ds, val_ds, directory, phase, first_epoch, last_epoch, steps_per_epoch, batch_size,
           patience, lr_patience, tensorboard, live, verbose, measure_input_wait, callbacks=None) -> dict:
    """One ``model.fit`` call from ``first_epoch`` to ``last_epoch``; returns its timings."""
    timer = StepTimer(batch_size)
    seconds_file = directory / "epochs.json"
    clock = EpochClock(on_epoch=lambda epoch, s, logs: runs.append_epoch_seconds(seconds_file, epoch, s))
    history = runs.read_log(directory / "log.csv")
    callbacks = _callbacks(directory, phase, patience, lr_patience, tensorboard, live, history, timer, clock,
                           callbacks)
    with _multi_worker_fit(model):
        model.fit(train_ds, validation_data=val_ds, epochs=last_epoch, initial_epoch=first_epoch,
                  steps_per_epoch=steps_per_epoch, callbacks=callbacks, verbose=verbose, shuffle=False)
    timings = timer.summary()
    timings["steps"] = timer.steps
    if measure_input_wait and timings["median_step_s"]:
        probe = probe_step_seconds(model, train_ds)
        timings["in_memory_step_s"] = probe
        timings["input_wait_share"] = max(0.0, 1.0 - probe / timings["median_step_s"])
    return timings


def _start(directory: Path, phases: tuple[str, ...]) -> bool:
    """Prepare ``directory``: keep an interrupted run (True) or clear a finished or empty one."""
    resuming = any((directory / f"backup-{p}").exists() for p in phases) or (directory / "phase1.weights.h5").exists()
    if not resuming and directory.exists():
        for name in ("log.csv", "epochs.json", runs.RECORD, "best.keras", "final.keras"):
            (directory / name).unlink(missing_ok=True)
    directory.mkdir(parents=True, exist_ok=True)
    return resuming


def _pooled(phase_timings: list[dict], batch_size: int) -> dict:
    steps = list(itertools.chain.from_iterable(t.get("steps", []) for t in phase_timings))
    waits = [t["input_wait_share"] for t in phase_timings if t.get("input_wait_share") is not None]
    median = statistics.median(steps) if steps else None
    return dict(median_step_s=median, images_per_s=batch_size / median if median else None,
                input_wait_share=max(waits) if waits else None, timed_steps=len(steps))


def _record(model, directory, name, seed, profile, phases, batch_size, extra, started, resumed) -> dict:
    model.save(directory / "final.keras")
    history = runs.read_log(directory / "log.csv")
    epoch_seconds = runs.read_epoch_seconds(directory / "epochs.json")
    elapsed = list(itertools.accumulate(epoch_seconds))
    best_path = directory / "best.keras"
    record = dict(
        name=directory.name, model=name, seed=seed, profile=profile.as_dict(), environment=runs.environment(),
        config=dict(img_size=list(model.input_shape[1:3]), batch_size=batch_size, epochs=len(epoch_seconds),
                    loss=getattr(model.loss, "name", str(model.loss)),
                    encoder_pretrained=getattr(model, "encoder_pretrained", None),
                    mixed_precision=keras.mixed_precision.global_policy().name == "mixed_float16",
                    jit_compile=bool(model.jit_compile), params=model.count_params(),
                    replicas=model.distribute_strategy.num_replicas_in_sync, **extra),
        history=history, epoch_seconds=epoch_seconds, elapsed=elapsed,
        timings=_pooled([p["timings"] for p in phases], batch_size),
        best=runs.best_epoch(history, elapsed, MONITOR), train_seconds=elapsed[-1] if elapsed else 0.0,
        wall_seconds_this_session=time.perf_counter() - started, resumed=resumed, phases=phases,
        model_path=str(best_path if best_path.exists() else directory / "final.keras"),
    )
    for phase in phases:
        phase["timings"].pop("steps", None)
    runs.write_record(directory, record)
    return record


def fit(model: keras.Model, train_ds, val_ds, name: str, seed: int = 0, epochs: int | None = None,
        steps_per_epoch: int | None = None, profile=None, run_dir=None, patience: int | None = 5,
        lr_patience: int | None = 3, tensorboard: bool = False, live: bool = True, verbose="auto",
        measure_input_wait: bool = True, extra: dict | None = None, callbacks: list | None = None) -> dict:
    """Train a compiled model with ``model.fit`` and the course's callbacks; returns the run record.

    Run it again after an interruption (Ctrl-C, a closed laptop, a killed kernel) with the same
    ``run_dir``: it resumes after the last finished epoch. A finished run is started over.

    Args:
        model: compiled (see :func:`compile_model`), with ``mean_iou`` among its metrics.
        train_ds, val_ds: ``tf.data`` datasets of ``(image, mask)`` batches.
        name: the model's name in records and tables (``"unet"``, ``"linknet"``).
        seed: recorded, and part of the default run directory.
        epochs, steps_per_epoch: default to the profile's.
        profile: a :class:`~segutils.config.Profile` (default: the active one).
        run_dir: where the run lives (default ``runs/train/<profile>/<name>-seed<seed>/``).
        patience: epochs without a better validation mean IoU before stopping (None: never).
        lr_patience: epochs without progress before halving the learning rate (None: never).
        tensorboard, live: add TensorBoard logs; redraw curves in the notebook every epoch.
        measure_input_wait: time a few in-memory steps after training (state restored).
        extra: more configuration for the record (dataset, split sizes, ...).
        callbacks: more Keras callbacks, called after the course's (so after the backup).

    Returns:
        The run record (also in ``record.json``; keys in :mod:`segutils.training.runs`).

    Raises:
        ValueError: an empty dataset, or a model compiled without a ``mean_iou`` metric.
    """
    started = time.perf_counter()
    profile = profile or config.active()
    batch_size = _check_data(train_ds, val_ds) or profile.batch_size
    directory = Path(run_dir or runs.run_dir(name, seed, profile.name))
    resumed = _start(directory, ("train",))
    epochs = epochs or profile.epochs
    steps = steps_per_epoch if steps_per_epoch is not None else profile.steps_per_epoch
    timings = _phase(model, train_ds, val_ds, directory, "train", 0, epochs, steps, batch_size, patience,
                     lr_patience, tensorboard, live, verbose, measure_input_wait, callbacks)
    phase = dict(phase="train", epochs=[1, epochs], lr=float(model.optimizer.learning_rate.numpy()),
                 trainable_params=_trainable(model), timings=timings)
    extra = dict(steps_per_epoch=steps, lr=profile.lr, **(extra or {}))
    return _record(model, directory, name, seed, profile, [phase], batch_size, extra, started, resumed)


def _trainable(model) -> int:
    return int(sum(w.numpy().size for w in model.trainable_weights))


def set_encoder_trainable(model: keras.Model, trainable: bool) -> int:
    """Freeze or unfreeze LinkNet's encoder, BatchNorm included; returns the trainable parameters.

    Keras runs a frozen ``BatchNormalization`` in inference mode (its ImageNet statistics stay),
    unlike ``sm.Linknet(encoder_freeze=True)``, which leaves BatchNorm training. Recompile after.
    """
    for layer in encoder_layers(model):
        layer.trainable = trainable
    return _trainable(model)


def fine_tune(model: keras.Model, train_ds, val_ds, name: str, num_classes: int, seed: int = 0,
              epochs: int | None = None, frozen_epochs: int | None = None, lr: float | None = None,
              lr_factor: float = 0.1, loss=None, ignore_index: int | None = None, profile=None, run_dir=None,
              **fit_kwargs) -> dict:
    """Two-phase training of a pretrained encoder; one run record with both phases.

    Phase 1 trains the decoder with the encoder frozen (BatchNorm in inference mode) for
    ``frozen_epochs`` (default: a third of ``epochs``); phase 2 unfreezes everything at
    ``lr * lr_factor``. The total is ``epochs``, the same budget as a one-phase ``fit``.
    Resumable like :func:`fit`, also between the phases.
    """
    started = time.perf_counter()
    profile = profile or config.active()
    epochs = epochs or profile.epochs
    frozen_epochs = max(1, epochs // 3) if frozen_epochs is None else frozen_epochs
    lr = profile.lr if lr is None else lr
    batch_size = _check_data(train_ds, val_ds) or profile.batch_size
    directory = Path(run_dir or runs.run_dir(name, seed, profile.name))
    resumed = _start(directory, ("frozen", "unfrozen"))
    kwargs = dict(patience=None, lr_patience=None, tensorboard=False, live=True, verbose="auto",
                  measure_input_wait=True, callbacks=None)
    kwargs |= {k: v for k, v in fit_kwargs.items() if k != "steps_per_epoch"}
    steps = fit_kwargs.get("steps_per_epoch", profile.steps_per_epoch)
    marker = directory / "phase1.weights.h5"
    phases = []
    for phase, trainable, first, last, rate in (("frozen", False, 0, frozen_epochs, lr),
                                               ("unfrozen", True, frozen_epochs, epochs, lr * lr_factor)):
        if phase == "frozen" and marker.exists():
            model.load_weights(marker)
            continue
        params = set_encoder_trainable(model, trainable)
        compile_model(model, num_classes, loss=loss, lr=rate, ignore_index=ignore_index, profile=profile)
        timings = _phase(model, train_ds, val_ds, directory, phase, first, last, steps, batch_size, **kwargs)
        phases.append(dict(phase=phase, epochs=[first + 1, last], lr=rate, trainable_params=params, timings=timings))
        if phase == "frozen":
            model.save_weights(marker)
    marker.unlink(missing_ok=True)
    extra = dict(steps_per_epoch=steps, lr=lr, frozen_epochs=frozen_epochs, lr_factor=lr_factor)
    record = _record(model, directory, name, seed, profile, phases, batch_size, extra, started, resumed)
    for backup in directory.glob("backup-*"):
        shutil.rmtree(backup, ignore_errors=True)
    return record
