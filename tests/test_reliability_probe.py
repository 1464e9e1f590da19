"""Issue 23: no plausible number from a broken input. One test per BAD and WEAK case of the 135-input probe
(BAD 2, the verdict over one test image, is tested with notebook 06)."""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import nbformat
import numpy as np
import pytest

from segutils.course import parameters, runner

ROOT = Path(__file__).resolve().parents[1]
_NOON = datetime(2026, 1, 1, 12, 0, 0)
COMPARE = [str(ROOT / "notebooks" / "05_training.ipynb"), str(ROOT / "notebooks" / "06_comparison.ipynb")]


def _notebook(path, parameters, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]})]
    nb.cells += [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


# BAD 4 ---------------------------------------------------------------------------------------------------------


def test_bad4_a_misspelt_notebook_parameter_is_an_error_listing_the_known_ones(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SEGUTILS_PROFILE", "ci")
    assert runner.main([*COMPARE, "--out", str(tmp_path), "--param", "EPOCH=1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "--param EPOCH: no notebook run here has that parameter (did you mean EPOCHS?). Their "
        "parameters cells set: BATCH_SIZE, BENCH_REPEATS, DATASET, EPOCHS, EXPERIMENT_EPOCHS, "
    )
    assert "LR, MIXED_PRECISION, MODELS, REPORT_DIR, RETRAIN_SEEDS, SEEDS, STEPS_PER_EPOCH, SUBSET, THRESHOLD" in err
    assert not list(tmp_path.iterdir())  # stopped before the first notebook


def test_bad4_a_parameter_goes_only_to_the_notebooks_that_declare_it(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGUTILS_PROFILE", "ci")
    first = _notebook(tmp_path / "a.ipynb", "EPOCHS = 3", "print(EPOCHS)")
    second = _notebook(tmp_path / "b.ipynb", "SEED = 0", "print('EPOCHS' in dir())")
    assert runner.main([str(first), str(second), "--out", str(tmp_path / "out"), "--param", "EPOCHS=1"]) == 0
    (run,) = (tmp_path / "out").iterdir()
    assert nbformat.read(run / "a.ipynb", 4).cells[2].outputs[0]["text"] == "1\n"
    assert nbformat.read(run / "b.ipynb", 4).cells[1].outputs[0]["text"] == "False\n"


# WEAK: notebook parameters of the wrong type --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ("EPOCHS=two", "--param EPOCHS takes a whole number like its default 1; got 'two' (str)"),
        ("EPOCHS=", "--param EPOCHS takes a whole number like its default 1; got '' (str)"),
        ("EPOCHS=1.5", "--param EPOCHS takes a whole number like its default 1; got 1.5 (float)"),
        ("SEEDS=0", "--param SEEDS must be a whole number >= 1, got 0 (int)"),
        ("LR=fast", "--param LR takes a number like its default 0.001; got 'fast' (str)"),
        ("LR=0", "--param LR must be > 0, got 0"),
        (
            "DATASET=42",
            "--param DATASET takes a quoted string like its default 'shapes'; got 42 (int): quote it "
            "to pass it as text, --param \"DATASET='42'\"",
        ),
        (
            "MODELS=unet",
            "--param MODELS takes a list like its default ['unet', 'linknet']; got 'unet' (str): write "
            "--param \"MODELS=['unet']\" for a list of one",
        ),
        ("SUBSET=True", "--param SUBSET takes a whole number like its default 8; got True (bool)"),
    ],
)
def test_weak_notebook_parameters_of_the_wrong_type_are_refused_before_any_notebook(
    param, message, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("SEGUTILS_PROFILE", "ci")
    assert runner.main([*COMPARE, "--out", str(tmp_path), "--param", param]) == 2
    assert capsys.readouterr().err == message + "\n"
    assert not list(tmp_path.iterdir())


def test_weak_notebook_parameters_of_the_right_type_pass_the_check(monkeypatch):
    monkeypatch.setenv("SEGUTILS_PROFILE", "ci")
    params = {"EPOCHS": 1, "SEEDS": 2, "LR": 1, "SUBSET": None, "MODELS": ("unet",), "DATASET": "/x y/é"}
    shares = parameters.notebook_parameters(COMPARE, params)
    assert shares[0] == params
    assert shares[1] == {"SUBSET": None, "MODELS": ("unet",), "DATASET": "/x y/é", "SEEDS": 2}


# WEAK: make compare with odd paths ------------------------------------------------------------------------------


def _make_compare(tmp_path, data, cwd):
    """The Makefile's compare target with a stub python that prints what the runner makes of --data."""
    stub = tmp_path / "stub-python"
    stub.write_text(
        f"#!{sys.executable}\nimport json, sys\nsys.path.insert(0, {str(ROOT)!r})\n"
        "from segutils.course.parameters import resolve_data\n"
        "print(json.dumps([sys.argv[1:4], resolve_data(sys.argv[-1])]))\n"
    )
    stub.chmod(0o755)
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    for name in ("pyproject.toml", "constraints.txt"):  # older than the stamp: the install rule does not run
        (cwd / name).touch()
        os.utime(cwd / name, (0, 0))
    (tmp_path / "stamp").touch()
    done = subprocess.run(
        [
            "make",
            "-s",
            "-f",
            str(ROOT / "Makefile"),
            "compare",
            f"DATA={data}",
            f"PY={stub}",
            f"STAMP={tmp_path / 'stamp'}",
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    argv, dataset = json.loads(done.stdout)
    assert argv == ["-m", "segutils.course.runner", "--compare"]
    return dataset


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ("my data", "my data"),  # a space
        ("données d'été/crème", "données d'été/crème"),  # non-ASCII letters and a quote
        ("~/my runs", "../home/my runs"),  # ~, as typed in quotes (the shell leaves it)
        ("../up here", "../up here"),  # relative to where make runs
        ("a $b", "a $b"),
    ],
)
def test_weak_make_compare_with_paths_holding_spaces_non_ascii_tilde_or_relative(data, where, tmp_path):
    cwd = tmp_path / "course"
    cwd.mkdir()
    (cwd / where).mkdir(parents=True)  # where, relative to where make runs
    assert _make_compare(tmp_path, data, cwd) == str((cwd / where).resolve())


def test_weak_make_compare_keeps_a_registered_name_and_names_a_missing_folder(tmp_path):
    assert _make_compare(tmp_path, "camvid", tmp_path) == "camvid"
    notebooks = runner.ROOT / "notebooks"
    assert runner.compare_notebooks("camvid") == [notebooks / "08_street_scenes.ipynb"]  # its 4:3 aspect, not square
    folder = runner.compare_notebooks(str(tmp_path))
    assert folder == [notebooks / "05_training.ipynb", notebooks / "06_comparison.ipynb"]
    assert runner.compare_notebooks("membrane") == folder
    with pytest.raises(ValueError) as err:
        parameters.resolve_data(str(tmp_path / "nope"))
    assert str(err.value) == (
        f"DATA={str(tmp_path / 'nope')!r}: there is no folder {tmp_path / 'nope'} (and it is not one of the "
        "datasets membrane, camvid, streets, shapes): give a folder holding images/ and masks/, e.g. make compare "
        "DATA=~/my_data"
    )


# WEAK: Ctrl-C during make compare -------------------------------------------------------------------------------


def test_weak_ctrl_c_during_make_compare_says_it_was_interrupted_and_what_is_kept(tmp_path):
    started = tmp_path / "started"
    slow = _notebook(
        tmp_path / "05_slow.ipynb", "SEED = 0", f"open({str(started)!r}, 'w').close()\nimport time\ntime.sleep(60)"
    )
    env = {**os.environ, "SEGUTILS_PROFILE": "ci", "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "segutils.course.runner", str(slow), "--out", str(tmp_path / "out")]
    proc = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    for _ in range(1200):  # the kernel reached the slow cell (at most 120 s on a busy machine)
        if started.exists() or proc.poll() is not None:
            break
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group
    out, err = proc.communicate(timeout=120)
    (run,) = (tmp_path / "out").iterdir()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "DeadKernelError" not in err and "AssertionError" not in err
    assert err.strip().splitlines()[-1] == (
        f"Interrupted during 05_slow.ipynb. Kept: the notebooks run so far and this one up to the interrupted "
        f"cell in {run}; finished training runs in their run folders (an unfinished one resumes from its last "
        "backup when you start the same command again)."
    )
    assert (run / "05_slow.ipynb").exists()


# BAD 1: a model whose weights (or outputs) are not finite -------------------------------------------------------


@pytest.fixture()
def tiny_unet():
    import keras

    from segutils.models import build_unet

    keras.utils.set_random_seed(0)
    return build_unet((None, None, 1), 1, filters=4, depth=2)


def _nan_outputs():
    """Finite (no) weights, NaN outputs: 3e38 x 10 overflows to inf, and inf x 0 is NaN."""
    import keras

    inputs = keras.Input((None, None, 1))
    x = keras.layers.Rescaling(0.0)(keras.layers.Rescaling(10.0)(keras.layers.Rescaling(3e38)(inputs + 1.0)))
    return keras.Model(inputs, keras.layers.Activation("sigmoid")(x), name="overflows")


def test_bad1_a_model_with_nan_weights_is_refused_by_evaluate_predict_masks_and_predict_tiled(tiny_unet):
    import numpy as np

    from segutils.evaluation import evaluate
    from segutils.predict import predict_masks
    from segutils.tiling import predict_tiled

    for w in tiny_unet.weights[:3]:
        w.assign(np.full(w.shape, np.nan, "float32"))
    images = np.zeros((2, 32, 32, 1), "uint8")
    masks = np.zeros((2, 32, 32), "uint8")
    expected = (
        f"model {tiny_unet.name!r} has NaN or infinite weights in 3 variable(s), e.g. {tiny_unet.weights[0].path}: "
        "its predictions mean nothing. Training diverged: load an earlier checkpoint (the run's best.keras) or train "
        "again with a lower learning rate."
    )
    for call in (
        lambda: evaluate(tiny_unet, (images, masks), 2),
        lambda: predict_masks(tiny_unet, images),
        lambda: predict_tiled(tiny_unet, images[0], tile=32, overlap=0),
    ):
        with pytest.raises(ValueError) as err:
            call()
        assert str(err.value) == expected


def test_bad1_a_model_whose_outputs_are_nan_is_refused_by_evaluate_predict_masks_and_predict_tiled():
    import numpy as np

    from segutils.evaluation import evaluate
    from segutils.predict import predict_masks
    from segutils.tiling import predict_tiled

    model = _nan_outputs()
    images = np.full((2, 32, 32, 1), 255, "uint8")
    for call, count in (
        (lambda: evaluate(model, (images, np.zeros((2, 32, 32), "uint8")), 2), 2 * 32 * 32),
        (lambda: predict_masks(model, images), 2 * 32 * 32),
        (lambda: predict_tiled(model, images[0], tile=32, overlap=0), 32 * 32),
    ):
        with pytest.raises(ValueError) as err:
            call()
        assert str(err.value) == (
            f"model 'overflows' output {count} NaN or infinite values: its masks would mean nothing. Training "
            "diverged: load an earlier checkpoint (the run's best.keras) or train again with a lower learning rate."
        )


# WEAK: evaluate on an empty test set ----------------------------------------------------------------------------


def test_weak_evaluate_on_an_empty_test_set_says_it_is_empty(tiny_unet):
    import numpy as np
    import tensorflow as tf

    from segutils.evaluation import evaluate

    empty = tf.data.Dataset.from_tensor_slices((np.zeros((4, 32, 32, 1), "float32"), np.zeros((4, 32, 32, 1))))
    for data in ((np.zeros((0, 32, 32, 1)), np.zeros((0, 32, 32))), empty.filter(lambda x, m: False).batch(2)):
        with pytest.raises(ValueError) as err:
            evaluate(tiny_unet, data, 2)
        assert str(err.value) == (
            "the test set is empty (0 masks): nothing to score; check the split, its subset, or a filter/take that "
            "left no batch"
        )


# BAD 3, BAD 7 and WEAK: export ----------------------------------------------------------------------------------


def test_bad3_a_failing_export_with_overwrite_keeps_the_previous_one(tiny_unet, tmp_path, monkeypatch):
    from segutils import export

    for fmt in ("litert", "saved_model"):
        first = export.export_model(tiny_unet, tmp_path, fmt)
        before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))

        def fails(path, fmt=fmt, **_):
            Path(path).mkdir() if fmt == "saved_model" else Path(path).write_bytes(b"half")  # half written
            raise RuntimeError("converter crashed")

        monkeypatch.setattr(tiny_unet, "export", fails)
        with pytest.raises(RuntimeError, match="converter crashed"):
            export.export_model(tiny_unet, tmp_path, fmt, overwrite=True)
        assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing lost, no debris
        monkeypatch.undo()
        assert export.export_model(tiny_unet, tmp_path, fmt, overwrite=True) == first
        assert export.load_exported(first, fmt) is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.tflite", "saved_model"]


def test_bad7_export_to_a_tilde_path_writes_under_home(tiny_unet, tmp_path, monkeypatch):
    from segutils import export

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    fmt = "onnx" if importlib.util.find_spec("tf2onnx") else "litert"
    path = export.export_model(tiny_unet, "~/exports", fmt)
    assert path == tmp_path / "home" / "exports" / export.FILENAMES[fmt] and path.is_file()
    assert not (tmp_path / "~").exists()
    rows = export.compare_exports(tiny_unet, np.zeros((1, 32, 32, 1), "float32"), "~/table", formats=(), repeats=1)
    assert rows[0]["path"] == tmp_path / "home" / "table" / "model.keras" and not (tmp_path / "~").exists()


@pytest.mark.parametrize("blocked", ["a file", "under a file", "/sys/segutils-export"])
def test_weak_export_into_a_read_only_or_blocked_folder_names_it_and_the_fix(blocked, tiny_unet, tmp_path):
    from segutils import export

    (tmp_path / "a file").write_text("notes")
    target = {"a file": tmp_path / "a file", "under a file": tmp_path / "a file" / "exports"}.get(blocked)
    target = target or Path(blocked)
    why = f"{tmp_path / 'a file'} is a file, not a folder" if target != Path(blocked) else "Operation not permitted"
    for call, what in (
        (lambda: export.export_model(tiny_unet, target, "litert"), "the litert export"),
        (lambda: export.compare_exports(tiny_unet, np.zeros((1, 32, 32, 1)), target, formats=()), "the exports"),
    ):
        with pytest.raises(OSError) as err:
            call()
        assert str(err.value) == (
            f"cannot write {what} into {target}: {why}. Choose a folder you can write to (or move the file out of "
            "the way)."
        )
    assert (tmp_path / "a file").read_text() == "notes"


# BAD 6 and WEAK: the workshop kit -------------------------------------------------------------------------------


def test_bad6_kit_verify_of_another_good_kit_never_replaces_the_unpacked_one_without_replace(tmp_path, capsys):
    from segutils.course import kit, kit_unpack
    from tests.test_kit import _small_kit

    root = kit_unpack.unpack(_small_kit(tmp_path, "first.tar"), tmp_path)
    (root / "NOTES.txt").write_text("room 4, projector code 1234")
    other = _small_kit(tmp_path, "other-good-kit.tar", text=b"other pixels")
    assert kit.main(["verify", str(other)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err == (
        f"error: {root} already holds a kit that differs from other-good-kit.tar (its MANIFEST.json lists other "
        "files): left as it is. Pass --replace to replace it (files you added there are kept), or unpack the new "
        "kit elsewhere.\n"
    )
    assert (root / "data/membrane/a.png").read_bytes() == b"membrane pixels"
    assert kit.main(["verify", str(_small_kit(tmp_path, "same.tar"))]) == 1  # the same kit: kept, NOTES.txt too
    assert capsys.readouterr().out == "NOTES.txt: not in MANIFEST.json\n"
    assert (root / "NOTES.txt").exists()
    assert kit.main(["verify", str(other), "--replace"]) == 1  # replaced; the instructor's file is kept
    assert (root / "data/membrane/a.png").read_bytes() == b"other pixels"
    assert (root / "NOTES.txt").read_text() == "room 4, projector code 1234"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first.tar", "other-good-kit.tar", "same.tar", "segutils-kit"]


def test_bad6_a_damaged_unpacked_kit_is_repaired_only_with_replace(tmp_path):
    from segutils.course import kit_unpack
    from tests.test_kit import _small_kit

    archive = _small_kit(tmp_path)
    root = kit_unpack.unpack(archive, tmp_path)
    (root / "data/membrane/a.png").write_bytes(b"edited")
    differ = r"\(1 of its files differ, e.g. data/membrane/a.png: size or SHA-256"
    with pytest.raises(kit_unpack.KitError, match=differ):
        kit_unpack.unpack(archive, tmp_path)
    assert kit_unpack.unpack(archive, tmp_path, replace=True) == root
    assert (root / "data/membrane/a.png").read_bytes() == b"membrane pixels"


@pytest.mark.parametrize("blocked", ["under a file", "a folder named like the archive", "a folder named like .part"])
def test_weak_kit_build_into_a_blocked_target_is_one_error_line(blocked, tmp_path, monkeypatch, capsys):
    from segutils.course import kit

    (tmp_path / "a file").write_text("notes")
    out = {"under a file": tmp_path / "a file" / "kit.tar"}.get(blocked, tmp_path / "kit.tar")
    why = {
        "under a file": f"{tmp_path / 'a file'} is a file, not a folder",
        "a folder named like the archive": f"{out} is a folder",
        "a folder named like .part": f"{out}.part is a folder",
    }[blocked]
    if blocked != "under a file":
        Path(f"{out}.part" if "part" in blocked else out).mkdir()
    monkeypatch.setattr(kit, "collect", lambda *a: ({}, []))
    assert kit.main(["build", "--out", str(out), "--no-wheels"]) == 1
    assert capsys.readouterr().err == (
        f"error: cannot write the kit to {out}: {why}. Give --out a file in a folder you can write to (make "
        "offline-kit KIT=path/segutils-kit.tar).\n"
    )
    assert (tmp_path / "a file").read_text() == "notes"


# BAD 9: the report names its dataset ----------------------------------------------------------------------------


def _runs(dataset, **sizes):
    protocol = {"epochs": 1, "seed": 0, "phases": ["train"]}
    config = {"dataset": dataset, **sizes}
    return [{"model": m, "seed": 0, "protocol": protocol, "config": config} for m in ("unet", "linknet")]


def test_bad9_the_report_of_make_compare_names_the_folder_and_the_split_sizes(tmp_path):
    from segutils.course.report import write_report
    from segutils.evaluation import compare
    from tests.test_evaluation import _rows

    folder = "/home/me/my cells/é"
    profile = {"name": "ci", "dataset": "shapes", "epochs": 1}
    runs = _runs(folder, train_images=8, val_images=2)
    text = write_report(tmp_path, compare(_rows([0.8], [0.7])), profile=profile, runs=runs, splits={"test": 3})
    report = text.read_text()
    assert f"## Data\n\n- dataset: {folder}\n- split sizes: train 8, val 2, test 3\n" in report
    assert "- dataset: shapes (the profile's default, not used here: see Data)\n" in report
    assert "- dataset: shapes\n" not in report


def test_bad9_a_registered_dataset_is_named_and_runs_on_two_datasets_are_flagged(tmp_path):
    from segutils.course.report import data_lines, write_report
    from segutils.evaluation import compare
    from tests.test_evaluation import _rows

    report = write_report(tmp_path, compare(_rows([0.8], [0.7])), profile={"dataset": "camvid"}, runs=_runs("camvid"))
    assert "## Data\n\n- dataset: camvid\n- split sizes: not recorded\n" in report.read_text()
    assert "## Profile\n\n- dataset: camvid\n" in report.read_text()  # the profile's own dataset: no note
    mixed = _runs("camvid")[:1] + _runs("/data/cells")[1:]
    assert data_lines(mixed, {"test": 233}) == [
        "- **Not one dataset**: the runs trained on ['camvid', '/data/cells']",
        "- split sizes: test 233",
    ]


# BAD 5, BAD 8 and WEAK: the training guards (segutils.training.run, called by Run.open before the first step) --------


def _pairs(classes, n=4, side=8):
    """``n`` (image, mask) pairs whose masks hold exactly ``classes``, as a tf.data.Dataset of pairs."""
    import tensorflow as tf

    masks = np.zeros((n, side, side, 1), "uint8")
    for i, c in enumerate(classes):
        masks[i % n, i // n, :] = c
    return tf.data.Dataset.from_tensor_slices((np.zeros((n, side, side, 1), "float32"), masks))


def test_bad5_num_classes_larger_than_the_classes_present_warns_naming_the_absent_ones():
    import warnings

    from segutils.training import run as run_module

    train, val = _pairs([0, 1, 2, 3]).batch(2).repeat(), _pairs([0, 1, 2]).batch(2)
    with pytest.warns(run_module.AbsentClassesWarning) as caught:
        found = run_module.warn_absent_classes(10, train=train, val=val)
    assert found == {"train": [4, 5, 6, 7, 8, 9], "val": [3, 4, 5, 6, 7, 8, 9]}
    assert [str(w.message) for w in caught] == [
        f"num_classes=10, but no {split} mask holds class(es) {absent}: their IoU is 0 or undefined and the mean IoU "
        "is averaged over them. Pass the number of classes your masks hold, or check the masks' encoding (a "
        "palette, 0/255 values)."
        for split, absent in found.items()
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert run_module.warn_absent_classes(4, ignore_index=3, train=train, val=val, test=None) == {
            "train": [],
            "val": [],
        }
    assert run_module.absent_classes(_pairs([0]).batch(2), 1) == [1]  # a one-channel head has classes 0 and 1


@pytest.mark.parametrize(
    "make",
    [
        lambda ds: ds.filter(lambda x, m: False).repeat().batch(2),
        lambda ds: ds.take(0).repeat().batch(2),
        lambda ds: ds.filter(lambda x, m: False).batch(2),
    ],
    ids=["filter-repeat", "take0-repeat", "filter-finite"],
)
def test_bad8_a_training_set_filtered_to_nothing_is_refused_before_the_first_step(tmp_path, make):
    """A bare model.fit warns "ran out of data" and returns an empty history (Keras 3.15); the Run refuses it."""
    from segutils import training
    from tests.test_runs import data, protocol, tiny_model

    model = tiny_model()
    with pytest.raises(ValueError, match=r"^train_ds is empty: it yields no batches\. .*take\(\) or filter\(\)"):
        training.Run.open(model, make(_pairs([0, 1])), data(), "tiny", protocol(), folder=tmp_path / "run")
    assert int(model.optimizer.iterations) == 0 and not (tmp_path / "run").exists()
    run = training.Run.open(model, _pairs([0, 1]).filter(lambda x, m: True).repeat().batch(2), data(), "tiny",
                            protocol(), folder=tmp_path / "one", quiet=True)  # one batch is enough
    run.close()


def test_weak_fit_on_a_numpy_tuple_is_a_clear_type_error():
    from segutils.training import run as run_module

    with pytest.raises(TypeError) as err:
        run_module.check_dataset_type((np.zeros((2, 8, 8, 1)), np.zeros((2, 8, 8, 1))))
    assert str(err.value) == (
        "train_ds must be a tf.data.Dataset of (image, mask) batches, got a tuple (NumPy arrays?): make one with "
        "segutils.data.make_dataset(split, img_size, batch_size), or "
        "tf.data.Dataset.from_tensor_slices((images, masks)).batch(8)"
    )
    run_module.check_dataset_type(None, "val_ds", none_ok=True)
    run_module.check_dataset_type(_pairs([0]).batch(1))


@pytest.mark.parametrize("blocked", ["under a file", "/sys/segutils-runs/unet"])
def test_weak_fit_run_folder_read_only_or_blocked_is_a_clear_error(blocked, tmp_path):
    from segutils.checks import writable

    (tmp_path / "runs").write_text("a file named like the runs folder")
    folder = tmp_path / "runs" / "unet-seed0" if blocked == "under a file" else Path(blocked)
    why = f"{tmp_path / 'runs'} is a file, not a folder" if blocked == "under a file" else "Operation not permitted"
    with pytest.raises(OSError) as err:
        writable(folder, "the training run")
    assert str(err.value) == (
        f"cannot write the training run into {folder}: {why}. Choose a folder you can write to (or move the file "
        "out of the way)."
    )
    assert writable(tmp_path / "ok" / "unet", "the training run") == tmp_path / "ok" / "unet"
    assert list((tmp_path / "ok" / "unet").iterdir()) == []


# WEAK: make check ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("runs", ["under a file", "/sys/segutils-runs"])
def test_weak_make_check_is_not_ready_when_the_runs_folder_is_read_only_or_blocked(runs, tmp_path, monkeypatch):
    from segutils.course import readiness

    (tmp_path / "file").write_text("x")
    folder = tmp_path / "file" / "runs" if runs == "under a file" else Path(runs)
    monkeypatch.setenv("SEGUTILS_RUNS_DIR", str(folder))
    why = f"{tmp_path / 'file'} is a file, not a folder" if runs == "under a file" else "Operation not permitted"
    checks = readiness.run([readiness._runs_folder])
    assert not checks.ready
    assert str(checks) == (
        f"[FAIL] Runs folder writable: cannot write training runs into {folder}: {why}. Choose a folder you can "
        "write to (or move the file out of the way).\n       fix: Set SEGUTILS_RUNS_DIR to a folder you can write "
        "to.\nNot ready: fix the FAIL rows, then run the checklist again."
    )
    monkeypatch.setenv("SEGUTILS_RUNS_DIR", str(tmp_path / "runs"))
    assert readiness._runs_folder() == readiness.Check("Runs folder writable", True, str(tmp_path / "runs"))


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        ("ten", "SEGUTILS_BACKUP_SECONDS='ten' is not a number of seconds; unset it or set e.g. 600"),
        ("-5", "SEGUTILS_BACKUP_SECONDS=-5 is negative"),
    ],
)
def test_weak_make_check_is_not_ready_when_backup_seconds_is_not_seconds(value, detail, monkeypatch):
    from segutils.course import readiness

    monkeypatch.setenv("SEGUTILS_BACKUP_SECONDS", value)
    check = readiness._backup_seconds()
    assert (check.ok, check.detail, check.required) == (False, detail, True)
    monkeypatch.setenv("SEGUTILS_BACKUP_SECONDS", "0")
    assert readiness._backup_seconds().detail == "every epoch"


def test_weak_make_check_with_tf_use_legacy_keras_prints_the_checklist_with_a_red_row(tmp_path):
    for name in ("pyproject.toml", "constraints.txt"):  # older than the stamp: the install rule does not run
        (tmp_path / name).touch()
        os.utime(tmp_path / name, (0, 0))
    (tmp_path / "stamp").touch()
    env = {
        **os.environ,
        "TF_USE_LEGACY_KERAS": "1",
        "PYTHONPATH": str(ROOT),
        "SEGUTILS_PROFILE": "ci",
        "SEGUTILS_RUNS_DIR": str(tmp_path / "runs"),
        "SEGUTILS_DATA_DIR": str(tmp_path / "data"),
    }
    env.pop("SEGUTILS_MIRROR", None)
    argv = ["make", "-s", "-f", str(ROOT / "Makefile"), "check", f"PY={sys.executable}", f"STAMP={tmp_path / 'stamp'}"]
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    assert (
        "[FAIL] Keras 3: TF_USE_LEGACY_KERAS=1 in the shell: tf.keras would be the legacy Keras 2, and segutils "
        "refuses to import\n       fix: `unset TF_USE_LEGACY_KERAS` in the shell (in a notebook: restart the "
        "kernel, then run %env TF_USE_LEGACY_KERAS=0 before any import).\n"
    ) in done.stdout
    assert done.stdout.endswith("Not ready: fix the FAIL rows, then run the checklist again.\n")
    assert done.returncode != 0


# WEAK: first lines of the model call and of make_dataset on paths -------------------------------------------------


@pytest.mark.parametrize("sides", [(None, None), (64, 64)], ids=["any-size", "fixed"])
def test_weak_models_called_on_3_channels_of_a_1_channel_model_say_so_on_the_first_line(sides):
    from segutils.models import build_unet

    model = build_unet((*sides, 1), 1, filters=4, depth=2)
    for call in (model, lambda x: model.predict(x, verbose=0)):
        with pytest.raises(ValueError) as err:
            call(np.zeros((1, 64, 64, 3), "float32"))
        assert str(err.value) == (
            "unet takes images with 1 channel(s), got 3 (input shape (1, 64, 64, 3)): x.mean(-1, keepdims=True) "
            "makes grey"
        )


@pytest.mark.parametrize("shape", [(1, 50, 70, 1), (1, 40, 40, 1)])
def test_weak_models_called_on_50x70_or_40x40_name_the_valid_sizes_on_the_first_line(shape):
    from segutils.models import build_linknet, build_unet

    unet = build_unet((None, None, 1), 1, filters=4, depth=4)
    linknet = build_linknet((None, None, 1), 1, encoder_weights=None, backbone="resnet18")
    for model, why, factor in ((unet, "U-Net with depth=4", 16), (linknet, "Linknet-resnet18", 32)):
        with pytest.raises(ValueError) as err:
            model(np.zeros(shape, "float32"))
        first = str(err.value).splitlines()[0]
        assert first.startswith(f"{why} down-samples by {factor}, so height and width must be multiples of {factor}; ")
        assert first.endswith(
            "Pad or crop the images to those sizes (segutils.predict.predict_masks pads and crops for you)."
        )


def test_weak_make_dataset_on_png_paths_with_a_bad_file_names_it_first(tmp_path):
    from PIL import Image

    from segutils.data import make_dataset

    images, masks = [], []
    for i in range(3):
        for kind, store in (("images", images), ("masks", masks)):
            path = tmp_path / kind / f"p{i}.png"
            path.parent.mkdir(exist_ok=True)
            Image.fromarray(np.full((32, 32), i % 2, "uint8")).save(path)
            store.append(path)
    images[1].write_bytes(images[1].read_bytes()[:40])  # half written
    with pytest.raises(ValueError) as err:
        make_dataset((images, masks), 32, 2)
    assert str(err.value).startswith(f"cannot read the image {images[1]}: ")
    assert str(err.value).endswith(" (truncated or damaged?); re-export it as PNG, or leave it and its mask out")
    images.pop(1), masks.pop(1)
    assert next(iter(make_dataset((images, masks), 32, 2)))[0].shape == (2, 32, 32, 1)


# Item 4: this helper's own probe (the cases it found WEAK or BAD) -------------------------------------------------


def test_probe_an_empty_data_is_refused_not_read_as_the_current_folder():
    with pytest.raises(ValueError) as err:
        parameters.resolve_data(" ")
    assert str(err.value) == (
        "DATA is empty: give a folder holding images/ and masks/ (make compare DATA=~/my_data) or a dataset's name "
        "(membrane, camvid, streets, shapes)"
    )


def test_probe_a_half_written_notebook_is_named(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SEGUTILS_PROFILE", "ci")
    half = tmp_path / "05_half.ipynb"
    half.write_text('{"cells": [')
    assert runner.main([str(half), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (
        f"cannot read the notebook {half}: Notebook does not appear to be JSON: '{{\"cells\": [' (half written? "
        f"restore it with `git checkout -- {half}`)\n"
    )
    assert not (tmp_path / "out").exists()


def test_probe_a_second_run_in_the_same_second_gets_its_own_folder_and_out_takes_tilde(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGUTILS_PROFILE", "ci")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(runner, "datetime", type("Frozen", (), {"now": staticmethod(lambda: _NOON)}))
    notebook = _notebook(tmp_path / "a.ipynb", "SEED = 0", "print(SEED)")
    for _ in range(3):
        assert runner.main([str(notebook), "--out", "~/course runs"]) == 0
    folders = sorted(p.name for p in (tmp_path / "home" / "course runs").iterdir())
    assert folders == ["20260101-120000", "20260101-120000-2", "20260101-120000-3"]
    assert all((tmp_path / "home" / "course runs" / f / "summary.md").exists() for f in folders)
    assert not (tmp_path / "~").exists()


def test_probe_a_blocked_out_folder_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SEGUTILS_PROFILE", "ci")
    (tmp_path / "runs").write_text("a file")
    notebook = _notebook(tmp_path / "a.ipynb", "SEED = 0")
    assert runner.main([str(notebook), "--out", str(tmp_path / "runs")]) == 2
    assert capsys.readouterr().err.endswith(
        f"cannot write the course run into {tmp_path / 'runs'}: {tmp_path / 'runs'} is a file, not a folder. Choose "
        "a folder you can write to (or move the file out of the way).\n"
    )


def test_probe_kit_serve_on_a_bad_port_is_one_error_line(tmp_path, capsys):
    from segutils.course import kit

    (tmp_path / "kit").mkdir()
    assert kit.main(["serve", str(tmp_path / "kit"), "--port", "99999", "--bind", "127.0.0.1"]) == 1
    out, err = capsys.readouterr()
    assert err == (
        "error: cannot serve on 127.0.0.1:99999 (bind(): port must be 0-65535.): pick a free port from 1024 to "
        "65535, e.g. --port 8001\n"
    )


def test_probe_make_dataset_and_load_exported_take_tilde_paths(tmp_path, monkeypatch, tiny_unet):
    from PIL import Image

    from segutils import export
    from segutils.data import make_dataset

    monkeypatch.setenv("HOME", str(tmp_path))
    for kind in ("images", "masks"):
        (tmp_path / "cells é" / kind).mkdir(parents=True)
        Image.fromarray(np.ones((32, 32), "uint8")).save(tmp_path / "cells é" / kind / "a.png")
    ds = make_dataset((["~/cells é/images/a.png"], ["~/cells é/masks/a.png"]), 32, 1)
    assert next(iter(ds))[1].numpy().sum() == 32 * 32
    export.export_model(tiny_unet, "~/exports", "saved_model")
    assert export.load_exported("~/exports/saved_model", "saved_model")(np.zeros((1, 32, 32, 1))).shape == (
        1,
        32,
        32,
        1,
    )


def test_probe_float_batch_size_and_zero_classes_are_named(tiny_unet):
    from segutils.evaluation import evaluate
    from segutils.predict import predict_masks

    with pytest.raises(ValueError, match=r"^batch_size must be a whole number >= 1, got 2.0 \(float\) \(use // "):
        predict_masks(tiny_unet, np.zeros((32, 32), "uint8"), batch_size=2.0)
    with pytest.raises(ValueError, match=r"^num_classes must be a whole number >= 1, got 0 \(int\)$"):
        evaluate(tiny_unet, (np.zeros((1, 32, 32, 1), "uint8"), np.zeros((1, 32, 32), "uint8")), 0)


@pytest.mark.parametrize("timeout", ["0", "-5", "ten"])
def test_probe_a_timeout_that_is_not_whole_seconds_is_refused_not_read_as_no_limit(timeout, capsys):
    with pytest.raises(SystemExit) as exit_:
        runner.main(["--timeout", timeout])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.endswith(f"error: argument --timeout: takes whole seconds >= 1, got {timeout!r}\n")


def test_probe_kit_build_to_a_tilde_path_over_a_stale_part_prints_one_line(tmp_path, monkeypatch, capsys):
    from segutils.course import kit

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(kit, "collect", lambda *a: ({}, []))
    (tmp_path / "kits é").mkdir()
    (tmp_path / "kits é" / "kit.tar.part").write_bytes(b"left by a killed build")
    assert kit.main(["build", "--out", "~/kits é/kit.tar", "--no-wheels"]) == 0
    assert capsys.readouterr().out == ("~/kits é/kit.tar: 1 files, 0.0 MB: datasets [], weights [], 0 wheels, 0 runs "
                                       "[]\n")
    assert sorted(p.name for p in (tmp_path / "kits é").iterdir()) == ["kit.tar"] and not (tmp_path / "~").exists()


def test_probe_fit_run_dir_with_tilde_is_expanded_by_writable(tmp_path, monkeypatch):
    """fit(run_dir="~/tilde runs") wrote into ./~/tilde runs; the Run uses writable's return value."""
    from segutils.checks import writable

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert writable("~/tilde runs", "the training run") == tmp_path / "home" / "tilde runs"
    assert (tmp_path / "home" / "tilde runs").is_dir() and not (tmp_path / "~").exists()


def test_probe_a_missing_notebook_or_kit_is_one_line(tmp_path, monkeypatch, capsys):
    from segutils.course import kit

    monkeypatch.setenv("SEGUTILS_PROFILE", "ci")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert runner.main([str(tmp_path / "05_nope.ipynb"), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (
        f"no notebook {tmp_path / '05_nope.ipynb'}: give the path of an .ipynb file (default: all of notebooks/)\n"
    )
    (tmp_path / "README.md").write_text("# not a notebook\n")
    assert runner.main([str(tmp_path / "README.md"), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (
        f"not a notebook (.ipynb): {tmp_path / 'README.md'}: give the path of an .ipynb file (default: all of "
        "notebooks/)\n"  # it said "cannot read the notebook ... (half written? restore it with git checkout)"
    )
    (tmp_path / "README.md").unlink()
    assert kit.main(["verify", "~/nokit.tar"]) == 1
    assert capsys.readouterr().err == (
        f"error: there is no kit at {tmp_path / 'nokit.tar'}: give the archive (segutils-kit.tar) or its unpacked "
        "folder\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_probe_write_report_to_a_tilde_folder(tmp_path, monkeypatch):
    from segutils.course.report import write_report
    from segutils.evaluation import compare
    from tests.test_evaluation import _rows

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    report = write_report("~/my reports", compare(_rows([0.8], [0.7])))
    assert report == tmp_path / "home" / "my reports" / "report.md" and report.exists()
    assert not (tmp_path / "~").exists()
