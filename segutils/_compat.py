"""The one home of private Keras and TensorFlow internals the course leans on.

Five things have no public API: the batch size a ``tf.data`` pipeline was batched with,
the layer that produced a symbolic tensor, the per-replica reduction inside Keras'
TensorFlow trainer (for ``MultiWorkerMirroredStrategy``, keras-team/keras#20585), the epoch a
resumed ``fit`` starts at, and saving a model without its optimizer's state. Each use
is here, behind :func:`check_versions`, so a Keras or TensorFlow that moved them fails with
one line naming the versions this was written for instead of an ``AttributeError`` deep in
training. Not taught: a learner never needs to open it.
"""

from __future__ import annotations

import contextlib
from importlib import metadata

#: The major.minor versions these internals were checked against.
TESTED = {"keras": ("3",), "tensorflow": ("2.16", "2.17", "2.18", "2.19", "2.20", "2.21")}


class CompatError(RuntimeError):
    """A private Keras/TensorFlow internal the course uses is missing in this version."""


def _moved(what: str, error: Exception) -> CompatError:
    found = ", ".join(f"{name} {_version(name)}" for name in TESTED)
    return CompatError(
        f"{what} is not where this course expects it in {found} ({type(error).__name__}: {error}). It was "
        f"written for keras 3 and tensorflow {TESTED['tensorflow'][0]}-{TESTED['tensorflow'][-1]}. "
        "Fix: install the locked versions (`make setup`, or pip install -c constraints.txt -e .)."
    )


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "(not installed)"


def check_versions() -> list[str]:
    """The installed packages whose major.minor version is not in :data:`TESTED` (empty when all are)."""
    return [
        f"{name} {_version(name)}" for name, prefixes in TESTED.items()
        if not any(_version(name) == p or _version(name).startswith(p + ".") for p in prefixes)
    ]


def batch_size_of(dataset) -> int | None:
    """The batch size ``dataset.batch(n)`` was called with, or None (tf.data keeps it private).

    Looks through the datasets wrapped around the batch (``repeat``, ``prefetch``, ``take``, ...).
    """
    import tensorflow as tf

    while dataset is not None:
        size = getattr(dataset, "_batch_size", None)
        if isinstance(size, int | tf.Tensor):
            return int(size)
        dataset = getattr(dataset, "_input_dataset", None)
    return None


def producing_layer_name(tensor) -> str:
    """The name of the layer whose output ``tensor`` (a symbolic Keras tensor) is."""
    try:
        return tensor._keras_history[0].name
    except (AttributeError, IndexError) as error:
        raise _moved("KerasTensor._keras_history", error) from None


@contextlib.contextmanager
def multi_worker_fit(model, strategy):
    """Let ``fit`` run under ``MultiWorkerMirroredStrategy``, which Keras 3 breaks (keras-team/keras#20585).

    Two workarounds, active only during ``fit``: (1) Keras 3 builds a model made in a strategy's
    scope from a first batch reduced across workers, which fails; without the model's reference to
    the strategy it builds at the first traced step, inside the scope, as Keras 2 did. (2) Its step
    averages each logged scalar over ``axis=0``, which a scalar lacks; the scalars are averaged
    across workers instead. The weights are all-reduced by TensorFlow as usual.
    """
    import keras

    try:
        from keras.src.backend.tensorflow import trainer as keras_trainer

        original = keras_trainer.reduce_per_replica
        is_multi_worker = keras_trainer._collective_all_reduce_multi_worker
    except (ImportError, AttributeError) as error:
        raise _moved("keras.src.backend.tensorflow.trainer.reduce_per_replica", error) from None

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and is_multi_worker(strategy):
            return keras.tree.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return original(values, strategy, reduction)

    model._distribute_strategy = None
    keras_trainer.reduce_per_replica = reduce_per_replica
    try:
        with strategy.scope():
            yield
    finally:
        keras_trainer.reduce_per_replica = original
        model._distribute_strategy = strategy


def model_strategy(model):
    """The ``tf.distribute`` strategy a Keras model was built under (None outside any scope)."""
    return getattr(model, "_distribute_strategy", None)


def set_initial_epoch(model, epoch: int | None) -> None:
    """Make the next ``fit`` start at ``epoch`` whatever its ``initial_epoch`` (None: as passed).

    Keras' own ``BackupAndRestore`` resumes this way (``Trainer._initial_epoch``, read once ``fit``
    has started); Keras never resets it, so a resumed run must set it back to None when done.
    """
    if not hasattr(model, "_initial_epoch"):
        raise _moved("keras.Model._initial_epoch", AttributeError("_initial_epoch"))
    model._initial_epoch = epoch


@contextlib.contextmanager
def without_optimizer(model):
    """Hide the optimizer while saving, so a ``.keras`` file or ``save_weights`` holds the weights only.

    Keras saves whatever state the model's ``optimizer`` attribute holds (Adam: two moments per
    weight, so a file three times the weights') and offers no switch to leave it out; with the
    attribute None for the save, the file loads with ``load_model(path, compile=False)``.
    """
    optimizer = getattr(model, "optimizer", None)
    model.optimizer = None
    try:
        yield model
    finally:
        model.optimizer = optimizer
