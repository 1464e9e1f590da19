"""Where and how a model trains: the ``tf.distribute`` strategy, mixed precision, XLA, ``compile``; build the model,
loss, metrics and optimizer inside ``strategy().scope()``. Taught in ``notebooks/05_training.ipynb``."""

import json
import os

import keras

from .. import config

TPU_ENV_VARS = ("TPU_NAME", "COLAB_TPU_ADDR", "TPU_ACCELERATOR_TYPE")


def tf_config_workers(environ=os.environ) -> list[str]:
    """The worker addresses ``TF_CONFIG`` names (empty without it); a ValueError if it is not JSON."""
    raw = environ.get("TF_CONFIG", "").strip()
    if not raw:
        return []
    try:
        cluster = json.loads(raw).get("cluster", {})
    except (json.JSONDecodeError, AttributeError) as err:
        raise ValueError(
            f"TF_CONFIG is not valid JSON ({err}); it should look like "
            '{"cluster": {"worker": ["host1:port", "host2:port"]}, "task": {"type": "worker", "index": 0}}'
        ) from err
    return list(cluster.get("worker", [])) + list(cluster.get("chief", []))


def choose_strategy(tpu: bool, workers: int, gpus: int) -> str:
    """Name of the strategy for the hardware: ``tpu``, ``multi_worker``, ``mirrored`` or ``default``."""
    if tpu:
        return "tpu"
    if workers > 1:
        return "multi_worker"
    return "mirrored" if gpus > 1 else "default"


def strategy(environ=os.environ):
    """``TPUStrategy`` when the environment names a TPU, ``MultiWorkerMirroredStrategy`` when ``TF_CONFIG`` names
    several workers, ``MirroredStrategy`` on several GPUs, else the default one.
    Taught in ``notebooks/05_training.ipynb``."""
    tf = config.import_tensorflow()
    tpu = any(environ.get(name) for name in TPU_ENV_VARS)
    workers = len(tf_config_workers(environ))
    # MultiWorkerMirroredStrategy must come before anything starts the runtime, listing devices included
    gpus = 0 if tpu or workers > 1 else len(tf.config.list_logical_devices("GPU"))
    kind = choose_strategy(tpu, workers, gpus)
    if kind == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    others = dict(multi_worker=tf.distribute.MultiWorkerMirroredStrategy, mirrored=tf.distribute.MirroredStrategy,
                  default=tf.distribute.get_strategy)
    return others[kind]()


def set_precision(mixed_precision: bool | None = None, profile: config.Profile | None = None) -> str:
    """Set Keras' global dtype policy, ``mixed_float16`` or ``float32`` (``None``: the profile's), before building
    the model; returns its name. Taught in ``notebooks/05_training.ipynb``."""
    if mixed_precision is None:
        mixed_precision = (profile or config.active()).mixed_precision
    policy = "mixed_float16" if mixed_precision else "float32"
    keras.mixed_precision.set_global_policy(policy)
    return policy


def default_loss(*, ignore_index: int | None = None):
    """Soft Dice plus focal, the course's loss for both models, ``ignore_index`` pixels left out of both terms.
    Taught in ``notebooks/04_losses_metrics.ipynb``."""
    from ..losses import DiceLoss, FocalLoss

    return DiceLoss(ignore_index=ignore_index) + FocalLoss(ignore_index=ignore_index)


def default_metrics(num_classes: int, ignore_index: int | None = None) -> list:
    """Mean IoU (monitored for the best checkpoint) and the IoU of each class."""
    from ..metrics import ClassIoU, MeanIoU

    per_class = [ClassIoU(k, num_classes, ignore_index=ignore_index) for k in range(num_classes) if k != ignore_index]
    return [MeanIoU(num_classes, ignore_index=ignore_index), *per_class]


def compile_model(model: keras.Model, num_classes: int, loss=None, lr: float | None = None, metrics: list | None = None,
                  ignore_index: int | None = None, jit_compile: bool | None = None,
                  profile: config.Profile | None = None, run_eagerly: bool | None = None) -> keras.Model:
    """``model.compile`` with Adam, the course's loss and metrics, XLA and eager steps as the profile says; call it
    inside the strategy's scope. Taught in ``notebooks/05_training.ipynb``."""
    profile = profile or config.active()
    eager = profile.run_eagerly if run_eagerly is None else run_eagerly
    model.compile(optimizer=keras.optimizers.Adam(lr if lr is not None else profile.lr),
                  loss=loss if loss is not None else default_loss(ignore_index=ignore_index),
                  metrics=metrics if metrics is not None else default_metrics(num_classes, ignore_index),
                  jit_compile=False if eager else (profile.jit_compile if jit_compile is None else jit_compile),
                  run_eagerly=eager)
    return model
