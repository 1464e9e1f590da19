"""``fit`` and ``fine_tune``: the one-call form of a :class:`~.run.Run` around ``model.fit`` (notebook 06's
fallback). Taught in ``notebooks/05_training.ipynb``: ``fine_tune`` for a pretrained encoder, else ``model.fit``."""

import keras

from .. import _compat
from ..models.build import encoder_layers
from . import checkpoints
from .protocol import Protocol
from .run import PHASE1, Run, trainable_params


def _fit(model, run: Run, data, phase: str, first: int, last: int, callbacks, stop_early: bool = True):
    train_ds, val_ds = data
    if run.measure_input_wait:
        train_ds = run.stamped(train_ds)
    model.fit(train_ds, validation_data=val_ds, epochs=last, initial_epoch=first,
              steps_per_epoch=run.protocol.steps_per_epoch,
              callbacks=run.callbacks(phase, stop_early) + list(callbacks or []),
              verbose=0 if run.quiet else "auto", shuffle=False)


def fit(model: keras.Model, train_ds, val_ds, name: str, protocol: Protocol | None = None, run_dir=None,
        extra: dict | None = None, callbacks: list | None = None, quiet: bool = False,
        measure_input_wait: bool = True) -> dict:
    """``Run.open``, one ``model.fit`` with ``run.callbacks()`` (then ``callbacks``), ``run.finish``: the record.
    Arguments as in :meth:`Run.open` (``run_dir``: its ``folder``); called again after an interruption, it resumes."""
    with Run.open(model, train_ds, val_ds, name, protocol, run_dir, extra, quiet=quiet,
                  measure_input_wait=measure_input_wait) as run:
        _fit(model, run, (train_ds, val_ds), "train", 0, run.protocol.epochs, callbacks)
        return run.finish(model)


def set_encoder_trainable(model: keras.Model, trainable: bool, batchnorm: bool | None = None) -> int:
    """Freeze or unfreeze LinkNet's encoder (its BatchNorm as ``batchnorm``, default ``trainable``); returns the
    trainable parameters. Recompile after. Used by :func:`fine_tune` (``notebooks/05_training.ipynb``)."""
    for layer in encoder_layers(model):
        is_bn = isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = trainable if batchnorm is None or not is_bn else batchnorm
    return trainable_params(model)


def _recompile(model: keras.Model, lr: float) -> None:
    """Compile again with the caller's loss, metrics and settings, and a fresh optimizer at ``lr``."""
    settings = keras.saving.deserialize_keras_object(model.get_compile_config())
    settings["optimizer"].learning_rate = lr
    model.compile(**settings)


def fine_tune(model: keras.Model, train_ds, val_ds, name: str, protocol: Protocol | None = None, run_dir=None,
              extra: dict | None = None, callbacks: list | None = None, quiet: bool = False,
              measure_input_wait: bool = True) -> dict:
    """:func:`fit` in two phases, each recompiled with the caller's loss and metrics: ``protocol.frozen_epochs`` with
    the encoder frozen at ``protocol.lr``, then all at ``protocol.fine_tune_lr`` (BatchNorm as ``protocol.batchnorm``),
    stopping early. Returns one record with both phases."""
    protocol = protocol or Protocol.from_profile()
    if protocol.frozen_epochs >= protocol.epochs:
        raise ValueError(f"Protocol.frozen_epochs={protocol.frozen_epochs} leaves no epoch of {protocol.epochs} for "
                         "phase 2: give the Protocol more epochs, or fewer frozen_epochs")
    with Run.open(model, train_ds, val_ds, name, protocol, run_dir, extra, ("frozen", "unfrozen"), quiet,
                  measure_input_wait) as run:
        marker = run.folder / PHASE1
        if marker.exists():  # phase 1 finished before an interruption
            with _compat.without_optimizer(model):  # saved without it: phase 2 compiles anew
                model.load_weights(marker)
        else:
            set_encoder_trainable(model, False)
            _recompile(model, protocol.lr)
            _fit(model, run, (train_ds, val_ds), "frozen", 0, protocol.frozen_epochs, callbacks, stop_early=False)
            run.end_phase(model, "frozen", [1, protocol.frozen_epochs], protocol.lr)
            checkpoints.save_marker(model, marker, run.identity)
        set_encoder_trainable(model, True, batchnorm=protocol.batchnorm == "train")
        _recompile(model, protocol.fine_tune_lr)
        _fit(model, run, (train_ds, val_ds), "unfrozen", protocol.frozen_epochs, protocol.epochs, callbacks)
        run.end_phase(model, "unfrozen", [protocol.frozen_epochs + 1, protocol.epochs], protocol.fine_tune_lr)
        return run.finish(model)
