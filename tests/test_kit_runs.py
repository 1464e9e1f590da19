"""``kit build --runs``: a finished course run's models in the kit; a room unpacks them and 06/07 train nothing."""

import dataclasses
import shutil
import sys

import keras
import numpy as np
import pytest

from segutils import config, training
from segutils.course import fallback, kit, kit_unpack
from segutils.data import load

TINY = dataclasses.replace(config.get("ci"), img_size=32, batch_size=2, epochs=2, steps_per_epoch=1)


@pytest.fixture(scope="module")
def course_runs(tmp_path_factory):
    """notebook 05's runs of a finished course run: U-Net and LinkNet, one seed, trained for real (2 steps)."""
    root = tmp_path_factory.mktemp("course") / "runs"
    splits = load("shapes", "train", subset=4), load("shapes", "val", subset=4)
    for name in ("unet", "linknet"):
        fallback.train_run(name, 0, splits, TINY, training.run_dir(name, 0, "ci", root, "shapes"), "shapes")
    return root


@pytest.fixture
def room(course_runs, tmp_path, monkeypatch):
    """The course run's runs folder copied, with a backup, and a run being trained (its lock held) beside them."""
    runs = tmp_path / "instructor-runs"
    shutil.copytree(course_runs, runs)
    (runs / "train/ci/shapes/unet-seed0/backup-train").mkdir()
    (runs / "train/ci/shapes/unet-seed0/backup-train/model.keras").write_bytes(b"a backup")
    busy = runs / "train/ci/shapes/linknet-seed1"
    shutil.copytree(runs / "train/ci/shapes/linknet-seed0", busy)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # no encoder weights to pack
    monkeypatch.setenv("SEGUTILS_RUNS_DIR", str(runs))
    with training.runs.claim(busy):  # as fit holds it while it trains
        yield runs


def test_a_kits_runs_let_06_and_07_skip_training(room, tmp_path, monkeypatch, capsys):
    manifest = kit.build(tmp_path / "kit.tar", data_dir=tmp_path / "no-data", wheels=False, runs=[])
    assert manifest["runs"] == ["ci/shapes/linknet-seed0", "ci/shapes/unet-seed0"]
    packed = sorted(f["path"] for f in manifest["files"] if f["path"].startswith("runs/"))
    assert packed == sorted(f"runs/train/ci/shapes/{run}-seed0/{f}" for run in ("linknet", "unet")
                            for f in ("best.keras", "epochs.json", "log.csv", "record.json"))  # best, not final
    assert "runs: ci/shapes/linknet-seed1 left out: a fit is training in it right now (its .lock is held)" in (
        manifest["notes"])

    shutil.rmtree(room)  # the room never sees the instructor's folder
    unpacked = kit_unpack.unpack(tmp_path / "kit.tar", tmp_path / "room")
    assert kit_unpack.verify(unpacked) == []
    monkeypatch.setenv("SEGUTILS_RUNS_DIR", str(unpacked / "runs"))
    capsys.readouterr()

    runs, note = fallback.runs_for(("unet", "linknet"), "shapes", 1, TINY)  # notebook 06
    assert capsys.readouterr().out == ""  # no retraining estimate: nothing trains
    assert note == f"2 run(s) of notebook 05 from {unpacked}/runs/train/ci."
    assert [(r["model"], r["seed"]) for r in runs] == [("unet", 0), ("linknet", 0)]
    best = fallback.best_run("unet", "ci", "shapes")  # notebook 07
    assert best["model_path"] == str(unpacked / "runs/train/ci/shapes/unet-seed0/best.keras")
    model = keras.models.load_model(best["model_path"], compile=False)
    assert model.predict(np.zeros((1, 32, 32, 3), np.float32), verbose=0).shape == (1, 32, 32, 4)  # 4 classes
    assert [r["model_path"] for r in runs][0] == best["model_path"]


def test_kit_build_runs_on_the_command_line(room, tmp_path, capsys):
    out = tmp_path / "kit.tar"
    assert kit.main(["build", "--out", str(out), "--data-dir", str(tmp_path / "no-data"), "--no-wheels",
                     "--runs", "ci"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(f"{out}: 9 files, ") and first.endswith(
        "MB: datasets [], weights [], 0 wheels, 2 runs ['ci/shapes/linknet-seed0', 'ci/shapes/unet-seed0']")


def test_no_finished_run_is_one_error_line(room, tmp_path, capsys):
    assert kit.main(["build", "--out", str(tmp_path / "kit.tar"), "--data-dir", str(tmp_path / "no-data"),
                     "--no-wheels", "--runs", "gpu"]) == 1
    out, err = capsys.readouterr()
    assert err == (f"error: no finished run of profile(s) gpu under {room}/train: run notebook 05 (or `make run`) to "
                   "the end first, or point SEGUTILS_RUNS_DIR at the runs folder of a finished course run\n")
    assert not (tmp_path / "kit.tar").exists()
