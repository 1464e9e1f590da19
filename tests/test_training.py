"""training: strategies, fit's callbacks and run record, resume after a kill, fine-tuning, devices."""

import dataclasses
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

import segutils  # noqa: F401
from segutils import config, training
from segutils.data import load, make_dataset
from segutils.models import build_model, encoder_layers
from segutils.training import setup

WORKER = Path(__file__).with_name("train_worker.py")
CI = config.get("ci")
SIZE = CI.img_size  # 64: the ci profile's images


def run_worker(*args, env=None, timeout=300):
    env = {**os.environ, "SEGUTILS_PROFILE": "ci", **(env or {})}
    return subprocess.run([sys.executable, str(WORKER), *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def shapes():
    train = make_dataset(load("shapes", "train", subset=8), SIZE, 4, training=True, seed=0, repeat=True)
    val = make_dataset(load("shapes", "val", subset=4), SIZE, 4)
    return train, val


#: One protocol for both models: 2 epochs of 2 steps; LinkNet's phase 1 is the first epoch.
PROTOCOL = training.Protocol.from_profile(CI, epochs=2, seed=3)
AUGMENT = ("crop_scale=0.8, flip_horizontal=True, flip_vertical=True, rotate90=True, brightness=0.1, contrast=0.2, "
           "gamma=0.2, elastic=False, elastic_grid=3, elastic_sigma=10.0")
RECORD_KEYS = ["best", "config", "elapsed", "environment", "epoch_seconds", "history", "model", "model_path", "name",
               "phases", "profile", "protocol", "resumed", "seed", "timings", "train_seconds",
               "wall_seconds_this_session"]


class BatchNormSpy(training.StepTimer):
    """Keeps, at the end of every epoch, LinkNet's first encoder BatchNorm: its weights and whether it trains."""

    def __init__(self, layer):
        super().__init__(4)
        self.layer, self.seen = layer, {}

    def on_epoch_end(self, epoch, logs=None):
        self.seen[epoch] = [np.array(w) for w in self.layer.get_weights()], self.layer.trainable


@pytest.fixture(scope="module")
def trained(shapes, tmp_path_factory):
    """A tiny U-Net through fit and a tiny LinkNet through fine_tune, under PROTOCOL."""
    from segutils.metrics import ClassIoU, MeanIoU

    train, val = shapes
    root = tmp_path_factory.mktemp("runs")
    unet = build_model("unet", (SIZE, SIZE, 3), 4, profile=CI, depth=2)
    training.compile_model(unet, 4, profile=CI)
    unet_record = training.fit(unet, train, val, name="unet", protocol=PROTOCOL,
                               run_dir=root / "train" / "ci" / "shapes" / "unet", quiet=True)
    linknet = build_model("linknet", (SIZE, SIZE, 3), 4, profile=CI)
    training.compile_model(linknet, 4, profile=CI, metrics=[MeanIoU(4), ClassIoU(2, 4)])  # the caller's metrics
    bn = next(layer for layer in encoder_layers(linknet) if layer.name == "bn0")
    before, spy = [w.copy() for w in bn.get_weights()], BatchNormSpy(bn)
    linknet_record = training.fine_tune(linknet, train, val, name="linknet", protocol=PROTOCOL,
                                        run_dir=root / "linknet", quiet=True, callbacks=[spy])
    return dict(root=root, unet=unet, unet_record=unet_record, linknet=linknet, linknet_record=linknet_record,
                bn_before=before, bn_seen=spy.seen)


def expected_protocol(phases):
    return {"profile": "ci", "budget_steps": 4, "budget_images": 16, "epochs": 2, "steps_per_epoch": 2,
            "batch_size": 4, "image_size": [64, 64], "monitor": "val_mean_iou", "patience_epochs": 1,
            "patience_steps": 2, "lr_schedule": "ReduceLROnPlateau(factor=0.5, min_lr=1e-06)",
            "lr_patience_epochs": 1, "lr_patience_steps": 2, "optimizer": "Adam", "lr": 1e-3, "frozen_epochs": 1,
            "fine_tune_lr": 1e-4, "batchnorm": "frozen", "loss": "dice_plus_focal", "augmentation": AUGMENT,
            "seed": 3, "phases": phases}


@pytest.mark.parametrize(
    "tpu, workers, gpus, expected",
    [(True, 4, 8, "tpu"), (False, 2, 8, "multi_worker"), (False, 1, 2, "mirrored"), (False, 1, 1, "default"),
     (False, 0, 0, "default")],
)
def test_choose_strategy(tpu, workers, gpus, expected):
    assert training.choose_strategy(tpu, workers, gpus) == expected


def test_tf_config_workers_and_a_bad_tf_config():
    cluster = {"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "task": {"type": "worker", "index": 0}}
    assert setup.tf_config_workers({"TF_CONFIG": json.dumps(cluster)}) == ["127.0.0.1:1", "127.0.0.1:2"]
    assert setup.tf_config_workers({}) == []
    with pytest.raises(ValueError, match=r"TF_CONFIG is not valid JSON .*it should look like"):
        setup.tf_config_workers({"TF_CONFIG": "{worker: [a, b]}"})
    assert type(training.strategy({})).__name__ == "_DefaultDistributionStrategy"


def test_fit_writes_a_run_record_that_find_runs_finds(trained):
    record, root = trained["unet_record"], trained["root"]
    assert sorted(record) == RECORD_KEYS
    assert record["protocol"] == expected_protocol(["train"])
    assert [len(record["history"][k]) for k in ("loss", "mean_iou", "val_loss", "val_mean_iou")] == [2, 2, 2, 2]
    assert len(record["epoch_seconds"]) == 2 and record["elapsed"][-1] == pytest.approx(sum(record["epoch_seconds"]))
    best = int(np.argmax(record["history"]["val_mean_iou"]))
    assert record["best"]["epoch"] == best + 1
    assert record["best"]["val_mean_iou"] == max(record["history"]["val_mean_iou"])
    expected = {"batch_size": 4, "epochs": 2, "img_size": [64, 64], "loss": "dice_plus_focal"}
    assert {key: record["config"].get(key) for key in expected} == expected
    assert record["config"]["params"] == trained["unet"].count_params()
    assert [(p["phase"], p["epochs"], p["lr"]) for p in record["phases"]] == [("train", [1, 2], 1e-3)]
    timings = record["timings"]
    assert timings["timed_steps"] == 2 * 2 - 2  # two compile steps left out
    assert timings["images_per_s"] == pytest.approx(4 / timings["median_step_s"])
    assert 0.0 <= timings["input_wait_share"] < 1.0 and 0.0 <= timings["batch_wait_share"] < 1.0
    assert (root / "train" / "ci" / "shapes" / "unet" / "best.keras").exists()
    found = training.find_runs("ci", root=root)
    assert [r["name"] for r in found] == ["unet"] and found[0]["seed"] == 3
    assert json.loads(Path(found[0]["record_path"]).read_text())["protocol"] == record["protocol"]
    assert training.find_runs("gpu", root=root) == []


def test_fine_tune_record_keeps_both_phases_and_the_callers_metrics(trained):
    record = trained["linknet_record"]
    assert sorted(record) == RECORD_KEYS
    assert record["protocol"] == expected_protocol(["frozen", "unfrozen"])
    frozen, unfrozen = record["phases"]
    assert (frozen["phase"], frozen["epochs"], frozen["lr"]) == ("frozen", [1, 1], 1e-3)
    assert (unfrozen["phase"], unfrozen["epochs"], unfrozen["lr"]) == ("unfrozen", [2, 2], 1e-4)
    # compiled with MeanIoU and ClassIoU(2) only: fine_tune recompiles with them, not with the defaults
    assert sorted(record["history"]) == ["iou_2", "loss", "mean_iou", "val_iou_2", "val_loss", "val_mean_iou"]
    assert len(record["history"]["loss"]) == 2 and not (trained["root"] / "linknet" / "phase1.weights.h5").exists()


def test_unet_and_linknet_trained_under_one_protocol_have_equal_protocols(trained):
    unet, linknet = trained["unet_record"], trained["linknet_record"]
    assert training.same_protocol(unet, linknet) and training.protocol_differences(unet, linknet) == {}
    other = {**linknet, "protocol": {**linknet["protocol"], "patience_epochs": 5, "patience_steps": 10}}
    assert not training.same_protocol(unet, other)
    assert training.protocol_differences(unet, other) == {"patience_epochs": (1, 5), "patience_steps": (2, 10)}
    with pytest.raises(ValueError, match=r"^run 'old' has no protocol: it was trained before protocols were recorded"):
        training.same_protocol(unet, {"name": "old"})


def test_patience_is_counted_in_epochs_and_in_steps():
    protocol = training.Protocol.from_profile(config.get("cpu"), patience=7, lr_patience=None)
    settings = protocol.as_dict(4, [128, 128], "dice_plus_focal", "Adam", ["train"])
    assert (settings["patience_epochs"], settings["patience_steps"]) == (7, 140)
    assert (settings["lr_patience_epochs"], settings["lr_patience_steps"]) == (None, None)
    assert (settings["budget_steps"], settings["budget_images"], settings["frozen_epochs"]) == (600, 2400, 10)


@pytest.mark.parametrize(("change", "message"), [
    (dict(steps_per_epoch=None), r"^Protocol\.steps_per_epoch is None: the budget is counted in optimizer steps"),
    (dict(patience=0), r"^Protocol\.patience must be a whole number >= 1 \(or None\), got 0 \(int\)$"),
    (dict(batchnorm="moving"), r"^Protocol\.batchnorm must be one of \('frozen', 'train'\), got 'moving'$"),
    (dict(profile="laptop"), r"^Unknown profile 'laptop'"),
])
def test_a_bad_protocol_says_what_to_fix(change, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(PROTOCOL, **change)


def test_fine_tune_refuses_a_protocol_without_a_second_phase(tmp_path):
    with pytest.raises(ValueError) as err:  # fine_tune takes no epochs=: the Protocol's are meant
        training.fine_tune(None, None, None, "linknet", protocol=training.Protocol.from_profile(CI), run_dir=tmp_path)
    assert str(err.value) == ("Protocol.frozen_epochs=1 leaves no epoch of 1 for phase 2: give the Protocol more "
                              "epochs, or fewer frozen_epochs")
    assert list(tmp_path.iterdir()) == []
    longer = training.Protocol.from_profile(CI, epochs=3)  # the fix named: phase 2 gets epochs 2 and 3
    assert (longer.frozen_epochs, longer.epochs) == (1, 3)


def test_fit_refuses_an_empty_dataset(shapes, tmp_path):
    train, val = shapes
    model = build_model("unet", (SIZE, SIZE, 3), 4, profile=CI, depth=2)
    training.compile_model(model, 4, profile=CI)
    with pytest.raises(ValueError, match=r"train_ds is empty: it yields no batches\. Check the split has images"):
        training.fit(model, train.take(0), val, name="unet", run_dir=tmp_path, quiet=True)


def test_fit_refuses_a_training_set_shorter_than_the_budget(shapes, tmp_path):
    train, val = shapes
    model = build_model("unet", (SIZE, SIZE, 3), 4, profile=CI, depth=2)
    training.compile_model(model, 4, profile=CI)
    with pytest.raises(ValueError, match=r"^train_ds holds 3 batches, but the protocol trains 2 epochs of 2 steps "
                                         r"\(4 steps\): Keras would run out of data\. Repeat the training set"):
        training.fit(model, train.take(3), val, name="unet", protocol=PROTOCOL, run_dir=tmp_path, quiet=True)
    assert not tmp_path.joinpath("log.csv").exists()


def test_fit_refuses_a_model_without_mean_iou(shapes, tmp_path):
    train, val = shapes
    model = build_model("unet", (SIZE, SIZE, 3), 4, profile=CI, depth=2)
    with pytest.raises(ValueError, match=r"^the model is not compiled: call training\.compile_model"):
        training.fit(model, train, val, name="unet", protocol=PROTOCOL, run_dir=tmp_path, quiet=True)
    training.compile_model(model, 4, profile=CI, metrics=["accuracy"])
    with pytest.raises(ValueError, match=r"^the model was compiled without a 'mean_iou' metric \(its metrics: "
                                         r"\['accuracy'\]\), but training keeps the best model and stops early on "
                                         r"val_mean_iou\. Compile it with training\.compile_model"):
        training.fit(model, train, val, name="unet", protocol=PROTOCOL, run_dir=tmp_path, quiet=True)


def test_a_killed_run_resumes_at_the_next_epoch(tmp_path):
    killed = run_worker("resume", str(tmp_path), env={"KILL_AFTER_EPOCH": "2", "SEGUTILS_BACKUP_SECONDS": "0"})
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert training.read_log(tmp_path / "log.csv")["loss"].__len__() == 2
    assert not (tmp_path / "record.json").exists()
    resumed = run_worker("resume", str(tmp_path))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Epoch 3/4" in resumed.stdout and "Epoch 1/4" not in resumed.stdout
    assert "resumed True epochs 4" in resumed.stdout
    record = json.loads((tmp_path / "record.json").read_text())
    assert len(record["history"]["val_mean_iou"]) == len(record["epoch_seconds"]) == 4
    assert not (tmp_path / "backup-train").exists()  # deleted once the run finished


def _scale_and_offset(batchnorm) -> int:
    return sum(w.numpy().size for layer in batchnorm for w in (layer.gamma, layer.beta) if w is not None)


def test_fine_tune_keeps_the_encoders_batchnorm_in_inference_mode(trained):
    model, before, seen = trained["linknet"], trained["bn_before"], trained["bn_seen"]
    frozen, unfrozen = trained["linknet_record"]["phases"]
    encoder_params = sum(w.numpy().size for layer in encoder_layers(model) for w in layer.trainable_weights)
    batchnorm = [layer for layer in encoder_layers(model) if isinstance(layer, keras.layers.BatchNormalization)]
    bn_params = _scale_and_offset(batchnorm)  # they stay frozen in phase 2
    assert unfrozen["trainable_params"] - frozen["trainable_params"] == encoder_params > 21_000_000
    assert not any(layer.trainable for layer in batchnorm) and bn_params > 0
    for epoch in (0, 1):  # both phases: gamma, beta, moving mean and variance all unchanged
        weights, trainable = seen[epoch]
        assert trainable is False
        for a, b in zip(before, weights, strict=True):
            np.testing.assert_array_equal(a, b)


def test_set_encoder_trainable_sets_batchnorm_apart():
    model = build_model("linknet", (32, 32, 3), 2, profile=CI)
    batchnorm = [layer for layer in encoder_layers(model) if isinstance(layer, keras.layers.BatchNormalization)]
    others = [layer for layer in encoder_layers(model) if layer not in batchnorm and layer.weights]
    trained_bn = training.set_encoder_trainable(model, True, batchnorm=True)
    assert all(layer.trainable for layer in batchnorm + others)
    frozen_bn = training.set_encoder_trainable(model, True, batchnorm=False)
    assert all(layer.trainable for layer in others) and not any(layer.trainable for layer in batchnorm)
    assert trained_bn - frozen_bn == _scale_and_offset(batchnorm) > 0


def test_mirrored_over_two_cpu_devices_trains_to_the_same_weights(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    for mode, out, replicas in (("single", one, 1), ("mirrored", two, 2)):
        out.mkdir()
        done = run_worker(mode, str(out))
        assert done.returncode == 0, done.stderr[-3000:]
        assert f"replicas {replicas} epochs 3" in done.stdout
    a, b = np.load(one / "weights.npz"), np.load(two / "weights.npz")
    assert len(a.files) == len(b.files) == 4
    for key in a.files:
        np.testing.assert_allclose(a[key], b[key], atol=1e-5)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_workers_on_loopback_end_with_equal_weights_through_fit_and_notebook_05s_own_model_fit(tmp_path):
    """keras-team/keras#20585: a bare model.fit fails under MultiWorkerMirroredStrategy ("PerReplica ... to a
    Tensor"); an open Run works around it, so notebook 05's cells train across machines as training.fit does."""
    weights = {}
    for mode in ("worker", "worker-notebook"):
        workers = [f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"]
        procs = []
        for index in range(2):
            out = tmp_path / mode / f"w{index}"
            out.mkdir(parents=True)
            tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
            env = {**os.environ, "SEGUTILS_PROFILE": "ci", "TF_CONFIG": json.dumps(tf_config)}
            procs.append(subprocess.Popen([sys.executable, str(WORKER), mode, str(out)], env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        outputs = [p.communicate(timeout=300) for p in procs]
        for proc, (out, err) in zip(procs, outputs, strict=True):
            assert proc.returncode == 0, f"{mode}: {err[-3000:]}"
            assert f"replicas 2 epochs 3 input wait measured {mode == 'worker-notebook'}" in out  # its probe's fit too
        weights[mode] = [np.load(tmp_path / mode / f"w{index}" / "weights.npz") for index in range(2)]
    first = weights["worker"][0]
    for a in (*weights["worker"], *weights["worker-notebook"]):
        assert len(a.files) == len(first.files) == 4
        for key in a.files:
            np.testing.assert_array_equal(a[key], first[key])


def _slow_batches(seconds: float):
    """Batches of 4 images 64 x 64 x 8 that take ``seconds`` each to make (0: ready at once, cached in memory)."""
    import time

    import tensorflow as tf

    def slow(x, y):
        with tf.control_dependencies([tf.py_function(lambda: time.sleep(seconds) or 0.0, [], tf.float32)]):
            return tf.identity(x), tf.identity(y)

    ds = tf.data.Dataset.from_tensors((tf.ones([4, 64, 64, 8]), tf.ones([4, 64, 64, 1])))
    return (ds.repeat().map(slow) if seconds else ds.cache().repeat()).prefetch(1)


@pytest.mark.parametrize(("seconds", "low", "high"), [(0.0, 0.0, 0.3), (0.2, 0.7, 1.0)])
def test_the_step_timer_sees_a_step_wait_for_its_batch(seconds, low, high):
    """A 0.2 s pipeline under a step of a few ms: the step waits ~95% of its time; ready batches: hardly at all."""
    model = keras.Sequential([keras.Input((64, 64, 8)), keras.layers.Conv2D(64, 3, padding="same"),
                              keras.layers.Conv2D(1, 1)])
    model.compile("sgd", "mse")
    timer = training.StepTimer(4)
    model.fit(timer.stamped(_slow_batches(seconds)), epochs=1, steps_per_epoch=10, callbacks=[timer], verbose=0)
    assert len(timer.steps) == 8 and 6 <= len(timer.delays) <= 8
    assert low <= timer.batch_wait_share() <= high
    assert timer.summary()["batch_wait_share"] == timer.batch_wait_share()
    assert training.StepTimer(4).batch_wait_share() is None  # not stamped: nothing to say
