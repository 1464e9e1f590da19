"""Every notebook's setup cell, run as Colab runs it: the exact commands it would issue, none run here.

Colab is simulated by a ``google.colab`` module in ``sys.modules``; the cell runs in a real
IPython shell whose ``system`` (what ``%pip`` and ``!`` call) only records the command, and
``subprocess``/``os.system`` record anything else that would start a process.
"""

import os
import shlex
import subprocess
import sys
import types

import nbformat
import pytest
from IPython.core.interactiveshell import InteractiveShell

from segutils import config
from segutils.course import catalog as course

NOTEBOOKS = course.notebooks()


@pytest.fixture(autouse=True)
def _ci(monkeypatch):
    """The ``ci`` profile: its datasets are generated, so ``course.setup()`` fetches nothing here (that part is
    tested against a loopback mirror in ``test_data_download.py``)."""
    monkeypatch.setenv("SEGUTILS_PROFILE", "ci")


@pytest.fixture
def shell(monkeypatch):
    """An IPython shell that records the commands instead of running them; ``(shell, commands)``."""
    config.environment_report()  # import TensorFlow once first: its imports query the platform with `uname`
    sh = InteractiveShell.instance()
    commands = []
    monkeypatch.setattr(sh, "system", commands.append)
    monkeypatch.setattr(sh, "system_piped", commands.append)
    monkeypatch.setattr(os, "system", lambda cmd: commands.append(cmd) or 0)
    for name in ("run", "call", "check_call", "check_output", "Popen"):
        monkeypatch.setattr(subprocess, name, lambda cmd, *a, _n=name, **k: commands.append((_n, cmd)))
    yield sh, commands
    InteractiveShell.clear_instance()


def _on_colab(monkeypatch):
    """What Colab's runtime has imported; ``google`` itself stays the real namespace (protobuf)."""
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))


def _setup_cell(path):
    code = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    return code[0].source


def _pip(command):
    """``(arguments after "-m pip")`` of a recorded ``python -m pip ...`` command."""
    words = shlex.split(command)
    assert words[:3] == [sys.executable, "-m", "pip"], command
    return words[3:]


def _expected_on_colab(ref=course.BRANCH):
    """The one pip command a setup cell pinned at ``ref`` issues on Colab."""
    return [["install", "-q", "--no-deps", *course.COLAB_EXTRAS, f"segutils @ git+{course.REPO_URL}.git@{ref}"]]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_on_colab_the_setup_cell_installs_exactly_sm_and_segutils_without_deps(path, shell, monkeypatch, capsys):
    sh, commands = shell
    _drive(monkeypatch)
    source = _setup_cell(path)
    assert len(source.splitlines()) <= 6
    result = sh.run_cell(source, store_history=False)
    assert result.success, result.error_in_exec
    assert all(isinstance(c, str) for c in commands), f"a process was started directly: {commands}"
    assert [_pip(c) for c in commands] == _expected_on_colab(course.pinned_ref(source))
    assert "TensorFlow" in capsys.readouterr().out  # then it printed the environment report


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_locally_the_setup_cell_installs_nothing(path, shell, monkeypatch, capsys):
    sh, commands = shell
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.delenv("SEGUTILS_RUNS_DIR", raising=False)
    result = sh.run_cell(_setup_cell(path), store_history=False)
    assert result.success, result.error_in_exec
    assert commands == [] and "SEGUTILS_RUNS_DIR" not in os.environ
    out = capsys.readouterr().out
    assert "TensorFlow" in out and "Drive" not in out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_other_cell_installs_anything(path):
    code = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"][1:]
    for source in code:
        for line in source.splitlines():
            assert not line.lstrip().startswith(("%pip", "!pip", "%conda", "!conda", "!apt")), line


def test_a_fork_changes_what_colab_installs(monkeypatch, shell):
    """The badges and the install line follow REPO_URL: a fork sets it and runs `segutils.course sync`."""
    sh, commands = shell
    _drive(monkeypatch)
    monkeypatch.setattr(course, "REPO_URL", "https://github.com/someone/fork")
    assert course.colab_url("02_unet.ipynb") == (
        "https://colab.research.google.com/github/someone/fork/blob/main/notebooks/02_unet.ipynb"
    )
    assert sh.run_cell(course.setup_cell_source("v1.2"), store_history=False).success
    assert _pip(commands[0])[-1] == "segutils @ git+https://github.com/someone/fork.git@v1.2"


def _drive(monkeypatch):
    """``google.colab.drive`` whose ``mount`` records its folder instead of asking Google."""
    mounted = []
    drive = types.ModuleType("google.colab.drive")
    drive.mount = mounted.append
    colab = types.ModuleType("google.colab")
    colab.drive = drive
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setitem(sys.modules, "google.colab.drive", drive)
    monkeypatch.delenv("SEGUTILS_RUNS_DIR", raising=False)
    return mounted


def test_on_colab_setup_keeps_runs_on_google_drive_and_says_how_to_opt_out(shell, monkeypatch, capsys):
    """By default: Colab's runtime loses its files, and 06 and 07 read 05's runs."""
    from segutils.training import runs_root

    sh, commands = shell
    mounted = _drive(monkeypatch)
    assert sh.run_cell(course.setup_cell_source(), store_history=False).success
    assert mounted == ["/content/drive"]
    assert os.environ["SEGUTILS_RUNS_DIR"] == "/content/drive/MyDrive/segutils/runs"
    assert str(runs_root()) == "/content/drive/MyDrive/segutils/runs"
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == (
        "Runs go to /content/drive/MyDrive/segutils/runs on Google Drive, so notebooks 06 and 07 find notebook "
        "05's runs after this runtime stops; course.setup(drive=False) keeps them in the runtime."
    )
    assert [_pip(c) for c in commands] == _expected_on_colab()  # Drive adds no install


def test_on_colab_drive_false_mounts_nothing_and_says_runs_stay_in_the_runtime(monkeypatch, capsys):
    from segutils.course import setup

    mounted = _drive(monkeypatch)
    setup(drive=False)
    assert mounted == [] and "SEGUTILS_RUNS_DIR" not in os.environ
    assert capsys.readouterr().out.splitlines()[-1] == (
        "Runs stay in this Colab runtime and vanish with it; course.setup() keeps them on Google Drive."
    )


def test_on_colab_a_runs_folder_the_learner_chose_is_kept(monkeypatch, capsys):
    from segutils.course import setup

    mounted = _drive(monkeypatch)
    monkeypatch.setenv("SEGUTILS_RUNS_DIR", "/content/drive/MyDrive/elsewhere")
    setup()
    assert mounted == ["/content/drive"] and os.environ["SEGUTILS_RUNS_DIR"] == "/content/drive/MyDrive/elsewhere"
    assert "Runs go to /content/drive/MyDrive/elsewhere on Google Drive" in capsys.readouterr().out


def test_locally_setup_prints_the_report_and_changes_nothing(monkeypatch, capsys):
    from segutils.course import setup

    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.delenv("SEGUTILS_RUNS_DIR", raising=False)
    assert setup() is None and setup(drive=False) is None
    assert "SEGUTILS_RUNS_DIR" not in os.environ
    out = capsys.readouterr().out
    assert out.count("TensorFlow") == 2 and "Drive" not in out


def test_without_runs_notebooks_06_and_07_say_where_they_looked_and_what_to_do(monkeypatch, tmp_path):
    from segutils.course.fallback import no_runs_advice

    monkeypatch.setenv("SEGUTILS_RUNS_DIR", str(tmp_path))
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert no_runs_advice("cpu") == (
        f"Looked for notebook 05's runs in {tmp_path}/train/cpu. To use its runs, run notebook 05 first in the "
        "'cpu' profile, or point SEGUTILS_RUNS_DIR at the folder that holds its train/cpu/."
    )
    _drive(monkeypatch)
    monkeypatch.setenv("SEGUTILS_RUNS_DIR", str(tmp_path))
    assert no_runs_advice("gpu").endswith(
        "'gpu' profile: on Colab each notebook has its own runtime, so run notebook 05 and this one with "
        "course.setup() in their setup cell, not course.setup(drive=False) (runs then go to Google Drive, where "
        "this runtime finds them)."
    )
