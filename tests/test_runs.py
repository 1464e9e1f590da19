"""Run folders: one training per folder, a lock, damaged backups set aside, cheap checkpoints, data refused early."""

import hashlib
import os
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

import segutils  # noqa: F401
from segutils import config, training
from segutils.data.registry import registered
from segutils.training import checkpoints, runs

CI = config.get("ci")
REPO = Path(__file__).resolve().parents[1]


def tiny_model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(2, 3, padding="same", activation="relu", name="conv")(inputs)
    model = keras.Model(inputs, keras.layers.Conv2D(1, 1, activation="sigmoid", name="head")(x))
    training.compile_model(model, 2, profile=CI)
    return model


def data(n=8, seed=0):
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    x = rng.random((n, 8, 8, 1), dtype=np.float32)
    return tf.data.Dataset.from_tensor_slices((x, (x > 0.5).astype(np.int32))).batch(4)


def protocol(epochs=3):
    return training.Protocol.from_profile(CI, epochs=epochs, steps_per_epoch=2, patience=None, lr_patience=None)


def train(run_dir, epochs=3, callbacks=None, dataset="shapes"):
    return training.fit(tiny_model(), data().repeat(), data(4, seed=1), name="tiny", protocol=protocol(epochs),
                        run_dir=run_dir, quiet=True, measure_input_wait=False, callbacks=callbacks,
                        extra=dict(dataset=dataset))


class StopAt(keras.callbacks.Callback):
    """Ctrl-C at the end of epoch ``epoch`` (1-based)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            raise KeyboardInterrupt


class Spy(keras.callbacks.Callback):
    """Each epoch's weights, and whether the backup folder exists then."""

    def __init__(self, backup):
        super().__init__()
        self.backup, self.weights, self.backed_up = backup, [], []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())
        self.backed_up.append((self.backup / checkpoints.META).exists())


def interrupted_at(run_dir, epoch, epochs=3):
    with pytest.raises(KeyboardInterrupt):
        train(run_dir, epochs=epochs, callbacks=[StopAt(epoch)])


def test_make_compare_and_the_course_never_share_or_delete_each_others_runs(tmp_path, monkeypatch):
    monkeypatch.setenv(runs.RUNS_ENV_VAR, str(tmp_path))
    folder = tmp_path / "my images"
    folder.mkdir()
    course = train(None, epochs=1, dataset="membrane")
    compare = train(None, epochs=1, dataset=str(folder))
    slug = f"my_images-{hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:8]}"
    assert Path(course["model_path"]).parent == tmp_path / "train" / "ci" / "membrane" / "tiny-seed0"
    assert Path(compare["model_path"]).parent == tmp_path / "train" / "ci" / slug / "tiny-seed0"
    found = training.find_runs("ci", root=tmp_path)
    assert [r["config"]["dataset"] for r in found] == ["membrane", str(folder)]
    assert runs.run_dir("unet", 2, "cpu", root=tmp_path, dataset="camvid") == tmp_path / "train/cpu/camvid/unet-seed2"


def test_a_folder_written_relative_or_absolute_is_one_dataset_in_records_and_run_folders(tmp_path, monkeypatch, capsys):
    """make compare records a folder as its absolute path; a notebook may name it ``../my data``: one dataset."""
    from segutils.course import fallback

    monkeypatch.setenv(runs.RUNS_ENV_VAR, str(tmp_path / "runs"))
    folder = tmp_path / "my data"
    (tmp_path / "notebooks").mkdir()
    folder.mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    first = train(None, epochs=1, dataset=str(folder))
    again = train(None, epochs=1, dataset="../my data")
    replaced = "its finished run is replaced (another folder=/run_dir= keeps it)."  # fit's is run_dir=
    assert replaced in capsys.readouterr().out  # the same folder, not a second run beside it
    assert Path(again["model_path"]).parent == Path(first["model_path"]).parent
    assert [r["config"]["dataset"] for r in training.find_runs("ci")] == [str(folder)]
    assert fallback.best_run("tiny", "ci", "../my data")["config"]["dataset"] == str(folder)
    assert fallback.best_run("tiny", "ci", folder)["seed"] == 0
    assert fallback.best_run("tiny", "ci", "shapes") is None
    assert runs.dataset_text("../my data") == runs.dataset_text(str(folder)) == str(folder)
    assert runs.dataset_text("camvid") == "camvid" and runs.dataset_text("~") == str(Path.home().resolve())


def test_a_registry_name_in_any_case_is_one_dataset_as_load_reads_it(tmp_path, monkeypatch, capsys):
    from segutils.course import fallback

    monkeypatch.setenv(runs.RUNS_ENV_VAR, str(tmp_path))
    first = train(None, epochs=1, dataset="Membrane")
    again = train(None, epochs=1, dataset=" membrane")
    assert "its finished run is replaced" in capsys.readouterr().out
    folder = tmp_path / "train/ci/membrane/tiny-seed0"
    assert Path(first["model_path"]).parent == Path(again["model_path"]).parent == folder
    assert [r["config"]["dataset"] for r in training.find_runs("ci")] == ["membrane"]
    assert fallback.best_run("tiny", "ci", "MEMBRANE")["config"]["dataset"] == "membrane"
    assert runs.dataset_text("unnamed") == "unnamed" and runs.dataset_text("CamVid") == "camvid"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "camvid").mkdir()  # load("camvid") still reads the registry's CamVid; load(Path("camvid")) the folder
    assert runs.dataset_text("camvid") == "camvid" and runs.dataset_text(Path("camvid")) == str(tmp_path / "camvid")
    assert [registered(n) for n in (" CamVid ", Path("camvid"), "my data")] == ["camvid", None, None]


def test_a_second_fit_on_a_busy_run_folder_stops_with_one_line_naming_it(tmp_path):
    with runs.claim(tmp_path / "run"):
        with pytest.raises(runs.RunBusyError) as caught:
            train(tmp_path / "run", epochs=1)
    assert str(caught.value) == (
        f"{tmp_path / 'run'} is busy: another fit (process {os.getpid()}) is training there. Wait for it to finish, "
        "or give this run its own folder=/run_dir= (or another seed).")  # Run.open's folder=, fit's run_dir=
    assert not (tmp_path / "run" / "log.csv").exists()  # refused before the first step
    assert train(tmp_path / "run", epochs=1)["resumed"] is False  # released on leaving


def test_a_killed_fit_leaves_no_stale_lock(tmp_path):
    script = ("import os, signal, sys; from pathlib import Path; from segutils.training import runs\n"
              "with runs.claim(Path(sys.argv[1])):\n    os.kill(os.getpid(), signal.SIGKILL)\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    killed = subprocess.run([sys.executable, "-c", script, str(tmp_path)], env=env, capture_output=True, timeout=120)
    assert killed.returncode == -9 and (tmp_path / ".lock").read_text().strip().isdigit()
    with runs.claim(tmp_path) as lock:
        assert lock.read_text() == str(os.getpid())


def test_an_interrupted_fit_resumes_after_its_last_epoch_without_duplicated_log_rows(tmp_path, capsys):
    interrupted_at(tmp_path, 2)
    assert "Interrupted: backed up in" in capsys.readouterr().out
    meta = checkpoints.read_meta(tmp_path / "backup-train")
    assert meta["epoch"] == 2 and meta["identity"]["epochs"] == 3 and meta["identity"]["dataset"] == "shapes"
    assert meta["identity"]["budget_steps"] == 6 and meta["identity"]["params"] == 23  # the protocol, the model
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # Keras: "Skipping variable loading for optimizer"
        record = train(tmp_path)
    assert f"Resuming {tmp_path} after epoch 2" in capsys.readouterr().out
    assert record["resumed"] is True and len(record["history"]["loss"]) == 3
    epochs = [line.split(",")[0] for line in (tmp_path / "log.csv").read_text().splitlines()]
    assert epochs == ["epoch", "0", "1", "2"]
    assert not (tmp_path / "backup-train").exists()


def test_resuming_refuses_a_backup_of_another_training(tmp_path, capsys):
    interrupted_at(tmp_path, 1)
    record = train(tmp_path, epochs=2)  # another budget: not the same training
    out = capsys.readouterr().out
    assert f"Set aside {tmp_path / 'backup-train'} as backup-train.set-aside-" in out
    assert (": it belongs to another training (budget_images: 24 -> 16; budget_steps: 6 -> 4; epochs: 3 -> 2). "
            "Training starts again from the last good state.") in out
    assert record["resumed"] is False and len(record["history"]["loss"]) == 2
    (aside,) = tmp_path.glob("backup-train.set-aside-*")
    assert checkpoints.read_meta(aside)["epoch"] == 1  # kept, not deleted


@pytest.mark.parametrize("damaged", [checkpoints.STATE, checkpoints.META])
def test_a_truncated_backup_is_set_aside_and_training_starts_again(tmp_path, capsys, damaged):
    interrupted_at(tmp_path, 2)
    path = tmp_path / "backup-train" / damaged
    half = path.stat().st_size // 2
    path.write_bytes(path.read_bytes()[:half])
    record = train(tmp_path)
    (line,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Set aside")]
    assert line.startswith(f"Set aside {tmp_path / 'backup-train'} as backup-train.set-aside-")
    why = "its meta.json is unreadable (JSONDecodeError" if damaged == checkpoints.META else (
        "its state.weights.h5 does not open (OSError: Unable to synchronously open file (truncated file")
    assert why in line and line.endswith(". Training starts again from the last good state.")
    assert record["resumed"] is False and len(record["history"]["loss"]) == 3 and (tmp_path / "best.keras").exists()
    (aside,) = tmp_path.glob("backup-train.set-aside-*")
    assert (aside / damaged).stat().st_size == half  # kept as it was, for a look


def test_a_corrupt_record_is_named_and_skipped_by_find_runs(tmp_path, capsys):
    good = tmp_path / "train" / "ci" / "shapes" / "unet-seed0"
    bad = tmp_path / "train" / "ci" / "shapes" / "linknet-seed0"
    for folder in (good, bad):
        folder.mkdir(parents=True)
    runs.write_json(good / runs.RECORD, dict(model="unet", seed=0))
    (bad / runs.RECORD).write_text('{"model": "linknet", "se')
    found = training.find_runs("ci", root=tmp_path)
    assert [r["model"] for r in found] == ["unet"]
    assert capsys.readouterr().out == (
        f"Skipped {bad / runs.RECORD}: unreadable (JSONDecodeError: Unterminated string starting at: line 1 column 22 "
        "(char 21)); run that training again or delete its folder.\n")


def test_fit_refuses_missing_validation_data_before_the_first_step(tmp_path):
    model = tiny_model()
    with pytest.raises(ValueError, match=r"^val_ds is None: training keeps the best model and stops early by the"):
        training.fit(model, data().repeat(), None, name="tiny", protocol=protocol(), run_dir=tmp_path / "run")
    assert int(model.optimizer.iterations) == 0 and not (tmp_path / "run").exists()


@pytest.mark.parametrize("emptied", ["train_ds", "val_ds"])
def test_fit_refuses_a_dataset_emptied_by_filter_before_the_first_step(tmp_path, emptied):
    model = tiny_model()
    nothing = data().filter(lambda x, y: False)
    train_ds, val_ds = (nothing.repeat(), data()) if emptied == "train_ds" else (data().repeat(), nothing)
    with pytest.raises(ValueError, match=rf"^{emptied} is empty: it yields no batches\. .*take\(\) or filter\(\)"):
        training.fit(model, train_ds, val_ds, name="tiny", protocol=protocol(), run_dir=tmp_path / "run")
    assert int(model.optimizer.iterations) == 0 and not (tmp_path / "run").exists()


def test_best_and_final_models_hold_the_right_weights_and_no_optimizer_state(tmp_path, monkeypatch):
    monkeypatch.setenv(checkpoints.BACKUP_ENV_VAR, "0")  # backed up every epoch, the best in the state or apart
    spy = Spy(tmp_path / "backup-train")
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path, epochs=4, callbacks=[spy, StopAt(3)])
    record = train(tmp_path, epochs=4, callbacks=[spy])  # resumed: the best of epochs 1-3 comes from the backup
    assert record["resumed"] and len(spy.weights) == 4
    best = record["best"]["epoch"]
    for name, expected in (("best.keras", spy.weights[best - 1]), ("final.keras", spy.weights[-1])):
        with zipfile.ZipFile(tmp_path / name) as archive, archive.open("model.weights.h5") as handle:
            with h5py.File(handle) as weights:
                assert sorted(weights) == ["layers", "vars"]  # no "optimizer": Adam's moments are not kept
        loaded = keras.models.load_model(tmp_path / name, compile=False)
        for a, b in zip(loaded.get_weights(), expected, strict=True):
            np.testing.assert_array_equal(a, b)
    assert record["model_path"] == str(tmp_path / "best.keras")


@pytest.mark.parametrize("seconds, expected", [("3600", [False, False, False]), ("0", [True, True, True])])
def test_the_backup_is_written_at_an_interval_not_every_short_epoch(tmp_path, monkeypatch, seconds, expected):
    monkeypatch.setenv(checkpoints.BACKUP_ENV_VAR, seconds)
    spy = Spy(tmp_path / "backup-train")
    train(tmp_path, callbacks=[spy])
    assert spy.backed_up == expected and not (tmp_path / "backup-train").exists()


def test_a_bad_backup_interval_is_one_line(monkeypatch):
    monkeypatch.setenv(checkpoints.BACKUP_ENV_VAR, "5 min")
    with pytest.raises(ValueError, match=r"^SEGUTILS_BACKUP_SECONDS='5 min' is not a number of seconds; unset it"):
        checkpoints.backup_seconds()


def test_bench_train_defaults_to_the_profiles_sizes_and_strict_exits_1_on_a_missed_target(monkeypatch, capsys):
    from segutils.course.bench import train as bench

    seen = []

    def measure(name, args):
        seen.append((name, args.profile, args.size, args.batch, args.steps, args.epochs))
        ratio = 1.2 if name == "linknet" else 1.01
        return dict(model=name, segutils_s=ratio, bare_s=1.0, ratio=ratio, quartiles=[ratio - 0.1, ratio + 0.1],
                    batch_wait_share=0.01, input_wait_share=0.09, written_mb=0.1)

    monkeypatch.setattr(bench, "measure", measure)
    monkeypatch.setenv("SEGUTILS_PROFILE", "cpu")
    assert bench.main([]) == 0  # without --strict a miss is reported, not failed
    assert seen == [("unet", "cpu", 128, 4, 20, 20), ("linknet", "cpu", 128, 4, 20, 20)]
    assert bench.main(["--strict", "--models", "unet"]) == 0
    assert bench.main(["--strict", "--profile", "ci", "--size", "96"]) == 1
    assert seen[-1] == ("linknet", "ci", 96, 4, 2, 20)
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2].split() == ["linknet", "1.200", "1.000", "1.200", "1.10-1.30", "1.0%", "9.0%", "0.1", "MB"]
    assert lines[-1] == "missed a target (ratio <= 1.05, batch wait < 5%)"
    with pytest.raises(SystemExit):
        bench.main(["--epochs", "1"])
    assert "--epochs 1: give at least 2 paired epochs" in capsys.readouterr().err


@pytest.mark.parametrize("control", [False, True])
def test_bench_train_trains_two_copies_one_epoch_each_in_turn_with_the_course_callbacks_on_one(monkeypatch, control):
    from types import SimpleNamespace

    from segutils.course.bench import train as bench

    calls = []

    def copies(name, split, args, profile, count):
        made = [tiny_model() for _ in range(count)]
        for copy, model in enumerate(made):
            def spy(*args, _fit=model.fit, _copy=copy, **kwargs):
                calls.append((_copy, kwargs["initial_epoch"], sorted(type(c).__name__ for c in kwargs["callbacks"])))
                return _fit(*args, **kwargs)
            model.fit = spy
        return made

    monkeypatch.setattr(bench, "_models", copies)
    args = SimpleNamespace(epochs=2, steps=2, control=control)
    seconds = bench.paired_epochs("tiny", None, data().repeat(), data(4, seed=1), CI, args)
    assert [call[:2] for call in calls] == [(0, 0), (1, 0), (1, 1), (0, 1), (0, 2), (1, 2)]  # who goes first alternates
    assert all(call[2] == ["EpochClock"] for call in calls if call[0] == 1 or control)
    if not control:
        assert calls[0][2] == ["CSVLogger", "Checkpoints", "EpochClock", "EpochClock", "ReduceLROnPlateau",
                               "StepTimer"]
    assert len(seconds["segutils"]) == len(seconds["bare"]) == 2  # the first pair, which compiles, left out
    assert all(0 < s < 60 for s in seconds["segutils"] + seconds["bare"])
