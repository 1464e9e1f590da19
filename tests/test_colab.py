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


EXPECTED_ON_COLAB = [
    ["install", "-q", "segmentation-models==1.0.1"],
    ["install", "-q", "--no-deps", f"segutils @ git+{course.REPO_URL}.git@{course.BRANCH}"],
]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_on_colab_the_setup_cell_installs_exactly_sm_and_segutils_without_deps(path, shell, monkeypatch, capsys):
    sh, commands = shell
    _on_colab(monkeypatch)
    result = sh.run_cell(_setup_cell(path), store_history=False)
    assert result.success, result.error_in_exec
    assert all(isinstance(c, str) for c in commands), f"a process was started directly: {commands}"
    assert [_pip(c) for c in commands] == EXPECTED_ON_COLAB
    assert "TensorFlow" in capsys.readouterr().out  # then it printed the environment report


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_locally_the_setup_cell_installs_nothing(path, shell, monkeypatch, capsys):
    sh, commands = shell
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    result = sh.run_cell(_setup_cell(path), store_history=False)
    assert result.success, result.error_in_exec
    assert commands == []
    assert "TensorFlow" in capsys.readouterr().out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_other_cell_installs_anything(path):
    code = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"][1:]
    for source in code:
        for line in source.splitlines():
            assert not line.lstrip().startswith(("%pip", "!pip", "%conda", "!conda", "!apt")), line


def test_a_fork_changes_what_colab_installs(monkeypatch, shell):
    """The badges and the install line follow REPO_URL: a fork sets it and runs `segutils.course sync`."""
    sh, commands = shell
    _on_colab(monkeypatch)
    monkeypatch.setattr(course, "REPO_URL", "https://github.com/someone/fork")
    assert course.colab_url("02_unet.ipynb") == (
        "https://colab.research.google.com/github/someone/fork/blob/main/notebooks/02_unet.ipynb"
    )
    assert sh.run_cell(course.setup_cell_source(), store_history=False).success
    assert _pip(commands[1])[-1] == "segutils @ git+https://github.com/someone/fork.git@main"


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


def test_on_colab_the_setup_cell_offers_to_keep_runs_on_google_drive(shell, monkeypatch):
    """Off by default (mounting asks for Google's authorisation); set to True it mounts Drive and keeps runs there."""
    from segutils.training import runs_root

    sh, commands = shell
    mounted = _drive(monkeypatch)
    source = course.setup_cell_source()
    assert "KEEP_RUNS_ON_DRIVE = False  # Colab: True keeps training runs on Google Drive" in source
    assert sh.run_cell(source, store_history=False).success
    assert mounted == [] and "SEGUTILS_RUNS_DIR" not in os.environ
    kept = source.replace("KEEP_RUNS_ON_DRIVE = False", "KEEP_RUNS_ON_DRIVE = True")
    assert sh.run_cell(kept, store_history=False).success
    assert mounted == ["/content/drive"]
    assert os.environ["SEGUTILS_RUNS_DIR"] == "/content/drive/MyDrive/segutils/runs"
    assert str(runs_root()) == "/content/drive/MyDrive/segutils/runs"
    assert [_pip(c) for c in commands] == EXPECTED_ON_COLAB * 2  # Drive adds no install


def test_locally_keep_runs_on_drive_changes_nothing(shell, monkeypatch):
    sh, commands = shell
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.delenv("SEGUTILS_RUNS_DIR", raising=False)
    kept = course.setup_cell_source().replace("KEEP_RUNS_ON_DRIVE = False", "KEEP_RUNS_ON_DRIVE = True")
    assert sh.run_cell(kept, store_history=False).success
    assert commands == [] and "SEGUTILS_RUNS_DIR" not in os.environ


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
        "'gpu' profile: on Colab each notebook has its own runtime, so set KEEP_RUNS_ON_DRIVE = True in the setup "
        "cell of notebook 05 and of this one (runs go to Google Drive, where this runtime finds them)."
    )
