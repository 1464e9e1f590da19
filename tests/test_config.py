"""Profiles and the environment report."""

import dataclasses

import pytest

from segutils import config


def test_three_frozen_profiles():
    assert list(config.PROFILES) == ["ci", "cpu", "gpu"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.PROFILES["ci"].img_size = 512


def test_ci_profile_is_tiny_and_offline():
    ci = config.get("ci")
    assert (ci.dataset, ci.encoder_weights, ci.mixed_precision) == ("shapes", None, False)
    assert ci.img_size % 32 == 0 and ci.img_size <= 64
    assert ci.epochs == 1 and ci.subset <= 8 and ci.unet_filters <= 16


def test_gpu_profile_is_full_size():
    gpu = config.get("gpu")
    assert (gpu.img_size, gpu.unet_filters, gpu.mixed_precision, gpu.subset) == (512, 64, True, None)


@pytest.mark.parametrize("name", ["ci", "CPU", " gpu "])
def test_env_var_names_the_profile(monkeypatch, name):
    monkeypatch.setenv(config.ENV_VAR, name)
    assert config.active().name == name.strip().lower()


def test_unknown_profile_lists_valid_ones(monkeypatch):
    monkeypatch.setenv(config.ENV_VAR, "laptop")
    with pytest.raises(config.UnknownProfileError) as err:
        config.active()
    expected = ("Unknown profile 'laptop'. Valid profiles: ci, cpu, gpu. Give one of them; if SEGUTILS_PROFILE "
                "named it, set it to one or unset it to pick by hardware.")
    assert str(err.value) == expected
    monkeypatch.delenv(config.ENV_VAR)  # an argument (Protocol(profile=...), build_model(profile=...)): the same
    with pytest.raises(config.UnknownProfileError) as err:  # message, whose fix does not hang on the variable
        config.get("laptop")
    assert str(err.value) == expected


@pytest.mark.parametrize(("devices", "expected"), [([], "cpu"), (["GPU"], "gpu"), (["TPU"], "gpu")])
def test_hardware_picks_the_profile(monkeypatch, devices, expected):
    monkeypatch.delenv(config.ENV_VAR, raising=False)
    monkeypatch.setattr(config, "accelerators", lambda: devices)
    assert config.active().name == expected


def test_environment_report(monkeypatch):
    import numpy
    import tensorflow as tf

    monkeypatch.setenv(config.ENV_VAR, "ci")
    report = config.environment_report()
    assert list(report) == [
        "Python", "TensorFlow", "Keras", "segmentation-models", "NumPy", "Devices", "Colab", "Profile",
    ]
    assert report["TensorFlow"] == tf.__version__
    assert report["Keras"].startswith("3.")
    assert report["segmentation-models"] == "1.0.1"
    assert report["NumPy"] == numpy.__version__
    assert report["Devices"].startswith("CPU:")
    assert report["Colab"] == "no"
    assert report["Profile"] == "ci (from SEGUTILS_PROFILE)"
    assert "<th style='text-align:left'>TensorFlow</th><td>" + tf.__version__ in report._repr_html_()
    assert str(report).splitlines()[1].split() == ["TensorFlow", tf.__version__]


def test_environment_report_survives_a_bad_profile(monkeypatch):
    monkeypatch.setenv(config.ENV_VAR, "nope")
    assert config.environment_report()["Profile"].startswith("invalid: Unknown profile 'nope'")


def _cpp_sources(text: str) -> set[str]:
    """The ``file.cc:line]`` tags of TensorFlow's C++ log lines in ``text``."""
    import re

    return set(re.findall(r"\b[\w/]+\.cc:\d+\]", text))


def test_tensorflow_startup_lines_are_kept_out_of_the_output_but_not_lost():
    import subprocess
    import sys

    raw = subprocess.run(
        [sys.executable, "-c", "import tensorflow as tf; tf.config.list_physical_devices()"],
        capture_output=True, text=True, timeout=300,
    )
    quiet = subprocess.run(
        [sys.executable, "-c", "import segutils.config as c; c.environment_report(); print(c.startup_log())"],
        capture_output=True, text=True, timeout=300,
    )
    assert quiet.returncode == 0, quiet.stderr
    assert _cpp_sources(quiet.stderr) == set()
    assert _cpp_sources(quiet.stdout) == _cpp_sources(raw.stderr)


def test_a_failing_tensorflow_import_carries_the_startup_log(monkeypatch, capfd):
    import os
    import sys

    monkeypatch.setitem(sys.modules, "tensorflow", None)  # makes `import tensorflow` fail
    with pytest.raises(ImportError) as err:
        config.import_tensorflow()
    assert any(note.startswith("TensorFlow's start-up output:") for note in err.value.__notes__)
    os.write(2, b"fd 2 is restored\n")
    assert capfd.readouterr().err == "fd 2 is restored\n"


def test_every_profile_fixes_a_budget_in_steps_that_trains():
    budgets = {name: config.budget(profile) for name, profile in config.PROFILES.items()}
    assert {name: (b["steps"], b["images"], b["patience_steps"]) for name, b in budgets.items()} == {
        "ci": (2, 8, 2), "cpu": (600, 2400, 100), "gpu": (1200, 9600, 160)}
    assert budgets["gpu"]["steps"] >= 2 * budgets["cpu"]["steps"]
    assert all(b["patience_steps"] >= b["steps"] / 10 for b in budgets.values())  # early stopping waits long enough


PLAN_CI = """\
profile   steps  images  epochs x steps  patience ep (steps)  s/step unet, linknet     time of the steps
--------------------------------------------------------------------------------------------------------
ci            2       8           1 x 2                1 (2)  0.250, 1.500             3.5 s (2 models x 1 seed)
cpu         600    2400         30 x 20              5 (100)  ?, ?                     ? (2 models x 1 seed)
gpu        1200    9600         60 x 20              8 (160)  ?, ?                     ? (2 models x 3 seeds)"""


def test_plan_prints_each_profiles_budget_and_the_time_of_its_steps():
    from segutils.course import plan

    assert plan.budget_table({"ci": {"unet": 0.25, "linknet": 1.5}}) == PLAN_CI  # 2 steps x (0.25 + 1.5) s
    cpu = plan.budget_table({"cpu": {"unet": 0.3, "linknet": 0.5}}).splitlines()[3]
    assert cpu.endswith("0.300, 0.500             8 min (2 models x 1 seed)")  # 600 x 0.8 s = 480 s


def test_python_m_course_plan_takes_step_times_from_the_newest_run_record(tmp_path):
    import json
    import os
    import subprocess
    import sys

    for model, seconds in (("unet", 0.25), ("linknet", 1.5)):
        run = tmp_path / "train" / "ci" / "shapes" / f"{model}-seed0"  # <profile>/<dataset>/<run>
        run.mkdir(parents=True)
        (run / "record.json").write_text(json.dumps({"model": model, "seed": 0,
                                                     "timings": {"median_step_s": seconds}}))
    env = {**os.environ, "SEGUTILS_RUNS_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "segutils.course.plan", "--profile", "ci", "--no-measure"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout == PLAN_CI + "\ns/step (training steps only, no validation):\n  ci unet: newest run record\n" \
        "  ci linknet: newest run record\n"


@pytest.mark.parametrize(("argv", "message"), [
    (["--profile", "gpu2"], "error: --profile: Unknown profile 'gpu2'. Valid profiles: ci, cpu, gpu."),
    (["--models", "unet,segnet"], "error: --models 'unet,segnet': 'segnet' unknown; give comma-separated names "
                                  "from unet, linknet, unet-resnet34\n"),
    (["--models", " UNet,segnet"], "error: --models 'unet,segnet': 'segnet' unknown; give comma-separated names "
                                   "from unet, linknet, unet-resnet34\n"),  # plan reads names in any case
])
def test_plan_with_an_unknown_profile_or_model_says_which_in_one_line(argv, message, capsys):
    from segutils.course import plan

    with pytest.raises(SystemExit) as stop:
        plan.main([*argv, "--no-measure"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and message in err and "Traceback" not in err
