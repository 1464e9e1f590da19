"""The one home of the private Keras and TensorFlow internals the package needs; not taught. A version that moved
one fails with :class:`CompatError` naming the :data:`TESTED` versions and the fix."""

import contextlib

from .config import package_version

#: The major.minor versions these internals were checked against.
TESTED = {"keras": ("3",), "tensorflow": ("2.16", "2.17", "2.18", "2.19", "2.20", "2.21")}


class CompatError(RuntimeError):
    """A private Keras/TensorFlow internal the course uses is missing in this version."""


def _moved(what: str, error: Exception) -> CompatError:
    found = ", ".join(f"{name} {package_version(name)}" for name in TESTED)
    return CompatError(f"{what} is not where this course expects it in {found} ({type(error).__name__}: {error}). It "
                       f"was written for keras 3 and tensorflow {TESTED['tensorflow'][0]}-{TESTED['tensorflow'][-1]}. "
                       "Fix: install the locked versions (`make setup`, or pip install -c constraints.txt -e .).")


def batch_size_of(dataset) -> int | None:
    """The ``n`` of ``dataset.batch(n)``, also through ``repeat``, ``prefetch``, ``take``, ...; None if unbatched."""
    import tensorflow as tf

    while dataset is not None:
        size = getattr(dataset, "_batch_size", None)
        if isinstance(size, int | tf.Tensor):
            return int(size)
        dataset = getattr(dataset, "_input_dataset", None)
    return None


def finite_input(dataset):
    """``dataset``, or the first finite dataset under it when it repeats for ever; None when there is none."""
    import tensorflow as tf

    while dataset is not None and dataset.cardinality() == tf.data.INFINITE_CARDINALITY:
        dataset = getattr(dataset, "_input_dataset", None)
    return dataset


def reraised_as_is(error: Exception) -> Exception:
    """``error``, marked so that Keras re-raises it from a layer call unwrapped: its message is the first line read."""
    error._keras_call_info_injected = True
    return error


def producing_layer_name(tensor) -> str:
    """The name of the layer whose output ``tensor`` (a symbolic Keras tensor) is."""
    try:
        return tensor._keras_history[0].name
    except (AttributeError, IndexError) as error:
        raise _moved("KerasTensor._keras_history", error) from None


@contextlib.contextmanager
def multi_worker_fit(model, strategy):
    """While in it, ``fit`` runs under ``MultiWorkerMirroredStrategy`` (keras-team/keras#20585): the model builds
    at its first traced step and logged scalars are averaged across workers."""
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


def set_initial_epoch(model, epoch: int | None) -> None:
    """Make the next ``fit`` start at ``epoch``, as ``BackupAndRestore`` does; Keras never resets it: None when done."""
    if not hasattr(model, "_initial_epoch"):
        raise _moved("keras.Model._initial_epoch", AttributeError("_initial_epoch"))
    model._initial_epoch = epoch


@contextlib.contextmanager
def without_optimizer(model):
    """Hide the optimizer while saving, so the file holds the weights only (Keras has no switch to leave it out)."""
    optimizer = getattr(model, "optimizer", None)
    model.optimizer = None
    try:
        yield model
    finally:
        model.optimizer = optimizer
