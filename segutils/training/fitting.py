"""``fit`` and ``fine_tune``: Keras' ``model.fit`` under a protocol, with the course's callbacks and a run record.

Callbacks keep the best model (validation mean IoU), stop early, lower the learning rate on a
plateau, log to CSV, back up for resuming (:mod:`.checkpoints`), time the steps and draw the
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
from . import checkpoints, runs
from .callbacks import EpochClock, LiveCurves, StepTimer
from .protocol import LR_FACTOR, MIN_LR, MONITOR, Protocol

PHASE1 = "phase1.weights.h5"  # fine_tune's weights after its frozen phase


def _check_data(train_ds, val_ds, protocol: Protocol) -> int | None:
    """Refuse missing, empty or too short datasets before the first step; the batch size if the dataset says it."""
    if val_ds is None:
        raise ValueError("val_ds is None: fit keeps the best model and stops early by the validation mean IoU, so it "
                         "needs validation batches. Pass make_dataset(load(dataset, 'val'), size, batch) as val_ds.")
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
                         "training.compile_model(model, num_classes), or add segutils.metrics.MeanIoU(num_classes) to "
                         "its metrics.")


def probe_step_seconds(model: keras.Model, train_ds, steps: int = 10) -> float:
    """Median seconds of a training step on one batch already in memory; weights, optimizer and metrics restored.

    ``model.fit`` reuses the traced step (``train_on_batch`` would trace anew); two warm-up steps are left out.
    """
    saved = [v.numpy() for v in (*model.variables, *model.optimizer.variables)]
    timer = StepTimer(batch_size=1, skip=2)
    model.fit(train_ds.take(1).cache().repeat(), epochs=1, steps_per_epoch=steps + 2, callbacks=[timer], verbose=0,
              shuffle=False)
    for variable, value in zip((*model.variables, *model.optimizer.variables), saved, strict=True):
        variable.assign(value)
    model.reset_metrics()
    return statistics.median(timer.steps)


def _callbacks(directory: Path, phase: str, run: dict, history: dict, stop_early: bool, live: bool):
    protocol, best = run["protocol"], max(history[MONITOR]) if history.get(MONITOR) else None  # a resumed run's best
    found = [checkpoints.Checkpoints(directory, phase, run["identity"], MONITOR, best=best),
             keras.callbacks.CSVLogger(directory / "log.csv", append=True)]
    if stop_early and protocol.patience:
        found.append(keras.callbacks.EarlyStopping(monitor=MONITOR, mode="max", patience=protocol.patience))
    if protocol.lr_patience:
        found.append(keras.callbacks.ReduceLROnPlateau(monitor=MONITOR, mode="max", factor=LR_FACTOR,
                                                       patience=protocol.lr_patience, min_lr=MIN_LR))
    if live:
        found.append(LiveCurves(directory.name, history=history))
    return found


def _multi_worker_fit(model):
    """``fit`` under ``MultiWorkerMirroredStrategy`` needs two Keras workarounds (see ``_compat``)."""
    strategy = _compat.model_strategy(model)
    if isinstance(strategy, config.import_tensorflow().distribute.MultiWorkerMirroredStrategy):
        return _compat.multi_worker_fit(model, strategy)
    return contextlib.nullcontext()


def _phase(model, data, run: dict, phase: str, first: int, last: int, stop_early: bool) -> dict:
    """One ``model.fit`` call from epoch ``first`` to ``last``; returns its timings."""
    train_ds, val_ds = data
    directory, protocol = run["directory"], run["protocol"]
    timer = StepTimer(run["batch_size"])
    clock = EpochClock(on_epoch=lambda epoch, s, logs: runs.append_epoch_seconds(directory / "epochs.json", epoch, s))
    history = runs.read_log(directory / "log.csv")
    callbacks = _callbacks(directory, phase, run, history, stop_early, not run["quiet"])
    callbacks += [timer, clock, *run["callbacks"]]  # the clock last: an epoch's seconds include every callback's
    if run["measure_input_wait"] and isinstance(train_ds, config.import_tensorflow().data.Dataset):
        train_ds = timer.stamped(train_ds)  # notes when each batch reaches the step: the batch wait
    try:
        with _multi_worker_fit(model):
            model.fit(train_ds, validation_data=val_ds, epochs=last, initial_epoch=first,
                      steps_per_epoch=protocol.steps_per_epoch, callbacks=callbacks,
                      verbose=0 if run["quiet"] else "auto", shuffle=False)
    except BaseException:  # Ctrl-C, a failing callback: back up what the finished epochs reached
        callbacks[0].interrupted()
        raise
    timings = timer.summary()
    timings["steps"] = timer.steps
    if run["measure_input_wait"] and timings["median_step_s"]:
        probe = probe_step_seconds(model, train_ds)
        timings["in_memory_step_s"] = probe
        timings["input_wait_share"] = max(0.0, 1.0 - probe / timings["median_step_s"])
    return timings


def _begin(model, train_ds, val_ds, name, protocol, run_dir, phases, **run) -> dict:
    """Check everything, prepare the run folder and build the protocol dict before the first step."""
    protocol = protocol or Protocol.from_profile()
    _check_compiled(model)
    batch_size = _check_data(train_ds, val_ds, protocol) or config.get(protocol.profile).batch_size
    dataset = (run.pop("extra") or {}).get("dataset", "unnamed")
    directory = Path(run_dir or runs.run_dir(name, protocol.seed, protocol.profile, dataset=dataset))
    image_size = train_ds.element_spec[0].shape[1:3]
    image_size = list(image_size) if None not in image_size else list(model.input_shape[1:3])
    optimizer = getattr(model.optimizer, "inner_optimizer", model.optimizer)  # under mixed precision: the wrapped one
    settings = protocol.as_dict(batch_size, image_size, getattr(model.loss, "name", str(model.loss)),
                                type(optimizer).__name__, phases)
    identity = runs.identity(name, protocol.seed, protocol.profile, dataset, (train_ds, val_ds),
                             dict(settings, params=model.count_params()))
    return dict(run, directory=directory, protocol=protocol, batch_size=batch_size, settings=settings,
                identity=identity, phases=phases, callbacks=list(run["callbacks"] or []), started=time.perf_counter())


def _start(run: dict) -> bool:
    """Keep an interrupted run of this training (True) or clear a finished one; a foreign backup is set aside."""
    directory, identity = run["directory"], run["identity"]
    valid = [checkpoints.check_backup(directory / f"backup-{p}", identity) for p in run["phases"]]
    resuming = any(valid) or checkpoints.check_marker(directory / PHASE1, identity)
    if not resuming and directory.exists():
        for name in ("log.csv", "epochs.json", runs.RECORD, "best.keras", "final.keras"):
            (directory / name).unlink(missing_ok=True)
    directory.mkdir(parents=True, exist_ok=True)
    return resuming


def _pooled(phase_timings: list[dict], batch_size: int) -> dict:
    steps = list(itertools.chain.from_iterable(t.get("steps", []) for t in phase_timings))
    median = statistics.median(steps) if steps else None
    worst = {key: max((t[key] for t in phase_timings if t.get(key) is not None), default=None)
             for key in ("input_wait_share", "batch_wait_share")}
    return dict(median_step_s=median, images_per_s=batch_size / median if median else None, timed_steps=len(steps),
                **worst)


def _record(model, name, run: dict, phases: list[dict], extra) -> dict:
    directory = run["directory"]
    checkpoints.save_model(model, directory / "final.keras")
    history = runs.read_log(directory / "log.csv")
    epoch_seconds = runs.read_epoch_seconds(directory / "epochs.json")
    elapsed = list(itertools.accumulate(epoch_seconds))
    best_path = directory / "best.keras"
    settings, protocol = run["settings"], run["protocol"]
    record = dict(
        name=directory.name, model=name, seed=protocol.seed, profile=config.get(protocol.profile).as_dict(),
        environment=runs.environment(), protocol=settings,
        config=dict(img_size=settings["image_size"], batch_size=run["batch_size"], epochs=len(epoch_seconds),
                    loss=settings["loss"], encoder_pretrained=getattr(model, "encoder_pretrained", None),
                    mixed_precision=keras.mixed_precision.global_policy().name == "mixed_float16",
                    jit_compile=bool(model.jit_compile), params=model.count_params(),
                    replicas=model.distribute_strategy.num_replicas_in_sync, **(extra or {})),
        history=history, epoch_seconds=epoch_seconds, elapsed=elapsed,
        timings=_pooled([p["timings"] for p in phases], run["batch_size"]),
        best=runs.best_epoch(history, elapsed, MONITOR), train_seconds=elapsed[-1] if elapsed else 0.0,
        wall_seconds_this_session=time.perf_counter() - run["started"], resumed=run["resumed"], phases=phases,
        model_path=str(best_path if best_path.exists() else directory / "final.keras"),
    )
    for phase in phases:
        phase["timings"].pop("steps", None)
    runs.write_record(directory, record)
    return record


def fit(model: keras.Model, train_ds, val_ds, name: str, protocol: Protocol | None = None, run_dir=None,
        extra: dict | None = None, callbacks: list | None = None, quiet: bool = False,
        measure_input_wait: bool = True) -> dict:
    """Train a compiled model with ``model.fit`` under a protocol and the course's callbacks; returns the run record.

    Run it again after an interruption (Ctrl-C, a killed kernel) with the same ``run_dir``: it
    resumes after the last finished epoch. A finished run is started over.

    Args:
        model: compiled with a ``mean_iou`` metric (:func:`compile_model`); its learning rate becomes ``protocol.lr``.
        train_ds, val_ds: ``(image, mask)`` batches; ``train_ds`` repeats (or holds the budget's batches).
        name: the model's name in records and tables (``"unet"``, ``"linknet"``).
        protocol: budget, early stopping, schedule and seed (default: the active profile's).
        run_dir: default ``runs/train/<profile>/<dataset>/<name>-seed<seed>/``, the dataset from
            ``extra["dataset"]``; a second ``fit`` in a busy folder raises ``RunBusyError``.
        extra: more configuration for the record (``dataset``, split sizes, ...).
        callbacks: more Keras callbacks, called after the course's.
        quiet: no progress bar and no live curves.
        measure_input_wait: note when each batch reaches its step, and time in-memory steps after training.

    Returns:
        The run record, also in ``record.json`` (keys in :mod:`segutils.training.runs`).
    """
    return _train(model, (train_ds, val_ds), name, ["train"], protocol, run_dir, extra=extra, quiet=quiet,
                  callbacks=callbacks, measure_input_wait=measure_input_wait)


def _trainable(model) -> int:
    return int(sum(w.numpy().size for w in model.trainable_weights))


def set_encoder_trainable(model: keras.Model, trainable: bool, batchnorm: bool | None = None) -> int:
    """Freeze or unfreeze LinkNet's encoder; returns the trainable parameters. Recompile after.

    ``batchnorm`` sets the encoder's BatchNorm layers apart (default: as ``trainable``). Keras runs a frozen
    ``BatchNormalization`` in inference mode; ``sm.Linknet(encoder_freeze=True)`` leaves BatchNorm training.
    """
    for layer in encoder_layers(model):
        is_bn = isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = trainable if batchnorm is None or not is_bn else batchnorm
    return _trainable(model)


def _recompile(model: keras.Model, lr: float) -> None:
    """Compile again with the caller's loss, metrics and settings, and a fresh optimizer at ``lr``."""
    settings = keras.saving.deserialize_keras_object(model.get_compile_config())
    settings["optimizer"].learning_rate = lr
    model.compile(**settings)


def fine_tune(model: keras.Model, train_ds, val_ds, name: str, protocol: Protocol | None = None, run_dir=None,
              extra: dict | None = None, callbacks: list | None = None, quiet: bool = False,
              measure_input_wait: bool = True) -> dict:
    """Two-phase training of a pretrained encoder within the protocol's budget; one run record with both phases.

    Phase 1 trains the decoder for ``protocol.frozen_epochs`` with the encoder frozen (BatchNorm
    in inference mode) at ``protocol.lr``; phase 2 trains everything for the remaining epochs at
    ``protocol.fine_tune_lr`` with ``fit``'s early stopping. In phase 2 the encoder's BatchNorm
    follows ``protocol.batchnorm``: ``"frozen"`` (default) keeps it in inference mode, as the Keras
    transfer-learning guide advises (measured once here, encoder not pretrained: best validation
    mean IoU 0.561 frozen, 0.526 trained). Each phase recompiles with the caller's loss and metrics
    and a fresh optimizer. Arguments as in :func:`fit`; resumable like it, also between phases.
    """
    protocol = protocol or Protocol.from_profile()
    if protocol.frozen_epochs >= protocol.epochs:
        raise ValueError(f"Protocol.frozen_epochs={protocol.frozen_epochs} leaves no epoch of {protocol.epochs} for "
                         "phase 2: give fine_tune more epochs, or fewer frozen_epochs")
    return _train(model, (train_ds, val_ds), name, ["frozen", "unfrozen"], protocol, run_dir, extra=extra,
                  quiet=quiet, callbacks=callbacks, measure_input_wait=measure_input_wait)


def _train(model, data, name: str, names: list[str], protocol, run_dir, **settings) -> dict:
    """``fit``'s one phase or ``fine_tune``'s two, in a claimed run folder, resumed where a backup says."""
    run = _begin(model, *data, name, protocol, run_dir, names, **settings)
    with runs.claim(run["directory"]):
        run["resumed"] = _start(run)
        return _run_phases(model, data, name, run, settings["extra"])


def _run_phases(model, data, name: str, run: dict, extra) -> dict:
    protocol, marker, phases = run["protocol"], run["directory"] / PHASE1, []
    plan = {"train": (0, protocol.epochs, protocol.lr), "frozen": (0, protocol.frozen_epochs, protocol.lr),
            "unfrozen": (protocol.frozen_epochs, protocol.epochs, protocol.fine_tune_lr)}
    for phase in run["phases"]:
        first, last, rate = plan[phase]
        if phase == "frozen" and marker.exists():
            checkpoints.load_weights(model, marker)
            continue
        if phase == "train":
            model.optimizer.learning_rate, params = rate, _trainable(model)
        else:
            unfrozen = phase == "unfrozen"
            params = set_encoder_trainable(model, unfrozen, batchnorm=unfrozen and protocol.batchnorm == "train")
            _recompile(model, rate)
        timings = _phase(model, data, run, phase, first, last, stop_early=phase != "frozen")
        phases.append(dict(phase=phase, epochs=[first + 1, last], lr=rate, trainable_params=params, timings=timings))
        if phase == "frozen":
            checkpoints.save_marker(model, marker, run["identity"])
    for path in (marker, marker.with_suffix(".json")):
        path.unlink(missing_ok=True)
    record = _record(model, name, run, phases, extra)
    for phase in run["phases"]:
        shutil.rmtree(run["directory"] / f"backup-{phase}", ignore_errors=True)
    return record
