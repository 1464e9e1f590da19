"""Importing segutils: silent, sets SM_FRAMEWORK, refuses Keras 2 with the exact fix."""

import os
import subprocess
import sys

import pytest

import segutils


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in {"SM_FRAMEWORK", "TF_USE_LEGACY_KERAS"}}
    environ.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environ, timeout=300)


def test_import_prints_nothing():
    result = _python("import segutils")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == ""


def test_import_sets_sm_framework_so_segmentation_models_works_under_keras3():
    result = _python(
        "import os, segutils, segmentation_models as sm, keras; "
        "print(os.environ['SM_FRAMEWORK'], keras.__version__.split('.')[0], sm.__version__)"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-3:] == ["tf.keras", "3", "1.0.1"]


def test_user_choice_of_sm_framework_is_kept():
    result = _python("import os, segutils; print(os.environ['SM_FRAMEWORK'])", SM_FRAMEWORK="keras")
    assert result.stdout.strip() == "keras"


def test_legacy_keras_flag_fails_with_explained_error():
    result = _python("import segutils", TF_USE_LEGACY_KERAS="1")
    assert result.returncode == 1
    assert "KerasVersionError: TF_USE_LEGACY_KERAS=1 makes tf.keras the legacy Keras 2" in result.stderr
    assert result.stderr.rstrip().endswith(  # %env before a restart is lost: the restarted kernel has the server's
        "Fix: unset it before starting Python or the kernel: `unset TF_USE_LEGACY_KERAS` in the shell, or in a "
        "notebook restart the kernel, then run `%env TF_USE_LEGACY_KERAS=0` before any import.")


def test_keras2_installed_fails_with_explained_error(monkeypatch):
    from importlib import metadata

    monkeypatch.setattr(metadata, "version", lambda name: "2.15.0" if name == "keras" else "1.0")
    with pytest.raises(segutils.KerasVersionError, match=r"keras 2\.15\.0 is installed.*needs Keras 3") as err:
        segutils._check_keras()
    assert 'pip install "tensorflow>=2.16" "keras>=3"' in str(err.value)


def test_legacy_flag_false_values_are_accepted(monkeypatch):
    monkeypatch.setenv("TF_USE_LEGACY_KERAS", "0")
    segutils._check_keras()  # no error
