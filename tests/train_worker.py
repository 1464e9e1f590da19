"""A training run in its own process, for the tests that need a fresh TensorFlow runtime.

``python tests/train_worker.py MODE OUT_DIR``, MODE one of:
- ``resume``: 4 epochs of a tiny U-Net on ``shapes`` through ``training.fit``; with
  ``KILL_AFTER_EPOCH=k`` the process kills itself (SIGKILL) at the end of epoch k.
- ``single`` / ``mirrored``: a tiny model trained on fixed data on one CPU device, or on two
  logical CPU devices under ``MirroredStrategy``; final weights in ``OUT_DIR/weights.npz``.
- ``worker`` / ``worker-notebook``: one worker of a ``MultiWorkerMirroredStrategy`` (``TF_CONFIG`` set by the
  test), training through ``training.fit`` or as notebook 05 does (``Run.open``, ``model.fit``, ``run.finish``).
"""

import os
import signal
import sys

import numpy as np

MODE, OUT = sys.argv[1], sys.argv[2]

import segutils  # noqa: E402,F401
from segutils import config  # noqa: E402

tf = config.import_tensorflow()
if MODE == "mirrored":
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

from segutils import training  # noqa: E402
from segutils.metrics import MeanIoU  # noqa: E402


class KillAt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            os.kill(os.getpid(), signal.SIGKILL)


def tiny_model():
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(2, 3, padding="same", activation="relu", name="conv")(inputs)
    return keras.Model(inputs, keras.layers.Conv2D(1, 1, activation="sigmoid", name="head")(x))


def fixed_data(global_batch):
    rng = np.random.default_rng(0)
    x = rng.random((16, 8, 8, 1), dtype=np.float32)
    y = (x > 0.5).astype(np.int32)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(global_batch)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options)


def train_fixed(strategy, notebook_form=False):
    keras.utils.set_random_seed(1)
    with strategy.scope():
        model = tiny_model()
        model.compile(optimizer=keras.optimizers.SGD(0.5), loss="binary_crossentropy", metrics=[MeanIoU(2)])
    ds = fixed_data(8)
    protocol = training.Protocol.from_profile(config.get("ci"), epochs=3, steps_per_epoch=2, lr=0.5, patience=None,
                                              lr_patience=None)
    if notebook_form:  # notebook 05's cells: a stamped pipeline, the learner's own model.fit, the run's callbacks
        run = training.Run.open(model, ds.repeat(), ds, "tiny", protocol, os.path.join(OUT, "run"), quiet=True)
        history = model.fit(run.stamped(ds.repeat()), validation_data=ds, epochs=protocol.epochs,
                            steps_per_epoch=protocol.steps_per_epoch, callbacks=run.callbacks(), verbose=0)
        record = run.finish(model, history)
    else:
        record = training.fit(model, ds.repeat(), ds, name="tiny", protocol=protocol, run_dir=os.path.join(OUT, "run"),
                              quiet=True, measure_input_wait=False)
    np.savez(os.path.join(OUT, "weights.npz"), *model.get_weights())
    print("replicas", record["config"]["replicas"], "epochs", len(record["history"]["loss"]),
          "input wait measured", record["timings"]["input_wait_share"] is not None)


if MODE == "resume":
    from segutils.data import load, make_dataset
    from segutils.models import build_model

    profile = config.get("ci")
    keras.utils.set_random_seed(0)
    train = make_dataset(load("shapes", "train", subset=8), 32, 4, training=True, seed=0, repeat=True)
    val = make_dataset(load("shapes", "val", subset=4), 32, 4)
    model = build_model("unet", (32, 32, 3), 4, profile=profile, depth=2)
    training.compile_model(model, 4, profile=profile)
    kill = int(os.environ.get("KILL_AFTER_EPOCH", "0"))
    protocol = training.Protocol.from_profile(profile, epochs=4, patience=None)
    record = training.fit(model, train, val, name="unet", protocol=protocol, run_dir=OUT, measure_input_wait=False,
                          callbacks=[KillAt(kill)] if kill else None)
    print("resumed", record["resumed"], "epochs", len(record["history"]["loss"]))
elif MODE == "single":
    train_fixed(tf.distribute.get_strategy())
elif MODE == "mirrored":
    train_fixed(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
elif MODE in ("worker", "worker-notebook"):
    strategy = training.strategy()
    assert isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy), type(strategy)
    train_fixed(strategy, notebook_form=MODE == "worker-notebook")
