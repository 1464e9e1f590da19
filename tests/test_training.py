"""training: strategies, fit's callbacks and run record, resume after a kill, fine-tuning, devices."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import segutils  # noqa: F401
from segutils import config, training
from segutils.data import load, make_dataset
from segutils.models import build_model, encoder_layers

WORKER = Path(__file__).with_name("train_worker.py")
CI = config.get("ci")


def run_worker(*args, env=None, timeout=300):
    env = {**os.environ, "SEGUTILS_PROFILE": "ci", **(env or {})}
    return subprocess.run([sys.executable, str(WORKER), *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def shapes():
    train = make_dataset(load("shapes", "train", subset=8), 32, 4, training=True, seed=0)
    val = make_dataset(load("shapes", "val", subset=4), 32, 4)
    return train, val


@pytest.mark.parametrize(
    "tpu, workers, gpus, expected",
    [(True, 4, 8, "tpu"), (False, 2, 8, "multi_worker"), (False, 1, 2, "mirrored"), (False, 1, 1, "default"),
     (False, 0, 0, "default")],
)
def test_choose_strategy(tpu, workers, gpus, expected):
    assert training.choose_strategy(tpu, workers, gpus) == expected


def test_tf_config_workers_and_a_bad_tf_config():
    cluster = {"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "task": {"type": "worker", "index": 0}}
    assert training.tf_config_workers({"TF_CONFIG": json.dumps(cluster)}) == ["127.0.0.1:1", "127.0.0.1:2"]
    assert training.tf_config_workers({}) == []
    with pytest.raises(ValueError, match=r"TF_CONFIG is not valid JSON .*it should look like"):
        training.tf_config_workers({"TF_CONFIG": "{worker: [a, b]}"})
    assert type(training.strategy({})).__name__ == "_DefaultDistributionStrategy"


def test_fit_writes_a_run_record_that_find_runs_finds(shapes, tmp_path):
    train, val = shapes
    model = build_model("unet", (32, 32, 3), 4, profile=CI, depth=2)
    training.compile_model(model, 4, profile=CI)
    record = training.fit(model, train, val, name="unet", seed=3, epochs=3, profile=CI,
                          run_dir=tmp_path / "train" / "ci" / "unet-seed3", live=False, verbose=0)
    assert [len(record["history"][k]) for k in ("loss", "mean_iou", "val_loss", "val_mean_iou")] == [3, 3, 3, 3]
    assert len(record["epoch_seconds"]) == 3 and record["elapsed"][-1] == pytest.approx(sum(record["epoch_seconds"]))
    best = int(np.argmax(record["history"]["val_mean_iou"]))
    assert record["best"]["epoch"] == best + 1
    assert record["best"]["val_mean_iou"] == max(record["history"]["val_mean_iou"])
    expected = {"batch_size": 4, "epochs": 3, "steps_per_epoch": 2, "img_size": [32, 32]}
    assert {key: record["config"].get(key) for key in expected} == expected
    assert record["config"]["loss"] == "dice_plus_focal" and record["config"]["params"] == model.count_params()
    timings = record["timings"]
    assert timings["timed_steps"] == 3 * 2 - 2  # two compile steps left out
    assert timings["images_per_s"] == pytest.approx(4 / timings["median_step_s"])
    assert 0.0 <= timings["input_wait_share"] < 1.0
    assert (tmp_path / "train" / "ci" / "unet-seed3" / "best.keras").exists()
    found = training.find_runs("ci", root=tmp_path)
    assert [r["name"] for r in found] == ["unet-seed3"] and found[0]["seed"] == 3
    assert json.loads(Path(found[0]["record_path"]).read_text())["history"] == record["history"]
    assert training.find_runs("gpu", root=tmp_path) == []


def test_fit_refuses_an_empty_dataset(shapes, tmp_path):
    train, val = shapes
    model = build_model("unet", (32, 32, 3), 4, profile=CI, depth=2)
    training.compile_model(model, 4, profile=CI)
    with pytest.raises(ValueError, match=r"train_ds is empty: it yields no batches\. Check the split has images"):
        training.fit(model, train.take(0), val, name="unet", run_dir=tmp_path, live=False)


def test_a_killed_run_resumes_at_the_next_epoch(tmp_path):
    killed = run_worker("resume", str(tmp_path), env={"KILL_AFTER_EPOCH": "2"})
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


def test_fine_tune_freezes_the_encoder_with_batchnorm_in_inference_mode(shapes, tmp_path):
    train, val = shapes
    model = build_model("linknet", (32, 32, 3), 4, profile=CI)
    bn = next(layer for layer in encoder_layers(model) if layer.name == "bn0")
    before = [w.copy() for w in bn.get_weights()]
    seen = {}

    class Spy(training.StepTimer):
        def on_epoch_end(self, epoch, logs=None):
            seen[epoch] = [np.array(w) for w in bn.get_weights()], bn.trainable

    record = training.fine_tune(model, train, val, name="linknet", num_classes=4, epochs=2, frozen_epochs=1,
                                lr=1e-3, profile=CI, run_dir=tmp_path, live=False, verbose=0, callbacks=[Spy(4)])
    frozen, unfrozen = record["phases"]
    assert (frozen["phase"], frozen["epochs"], frozen["lr"]) == ("frozen", [1, 1], 1e-3)
    assert (unfrozen["phase"], unfrozen["epochs"], unfrozen["lr"]) == ("unfrozen", [2, 2], pytest.approx(1e-4))
    encoder_params = sum(w.numpy().size for layer in encoder_layers(model) for w in layer.trainable_weights)
    assert unfrozen["trainable_params"] - frozen["trainable_params"] == encoder_params > 21_000_000
    weights, trainable = seen[0]
    assert trainable is False
    for a, b in zip(before, weights, strict=True):  # gamma, beta, moving mean and variance all unchanged
        np.testing.assert_array_equal(a, b)
    assert seen[1][1] is True and not np.array_equal(seen[1][0][2], before[2])  # moving mean moves again
    assert len(record["history"]["loss"]) == 2 and not (tmp_path / "phase1.weights.h5").exists()


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


def test_two_workers_on_loopback_end_with_equal_weights(tmp_path):
    workers = [f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"]
    procs = []
    for index in range(2):
        out = tmp_path / f"w{index}"
        out.mkdir()
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "SEGUTILS_PROFILE": "ci", "TF_CONFIG": json.dumps(tf_config)}
        procs.append(subprocess.Popen([sys.executable, str(WORKER), "worker", str(out)], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-3000:]
        assert "replicas 2 epochs 3" in out
    a, b = np.load(tmp_path / "w0" / "weights.npz"), np.load(tmp_path / "w1" / "weights.npz")
    for key in a.files:
        np.testing.assert_array_equal(a[key], b[key])
