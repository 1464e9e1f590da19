"""The readiness checklist: green/red rows with fixes, never a crash."""

import pytest

from segutils.course import readiness
from segutils.course.readiness import Check


def test_all_green_is_ready():
    checks = readiness.run([lambda: Check("a", True, "1.0"), lambda: Check("b", True, "ok")])
    assert checks.ready
    assert str(checks).splitlines() == ["[OK  ] a: 1.0", "[OK  ] b: ok", "Ready."]


def test_red_required_row_blocks_and_shows_the_fix():
    checks = readiness.run([lambda: Check("TensorFlow", False, "2.12", "pip install tensorflow>=2.16")])
    assert not checks.ready
    assert "fix: pip install tensorflow>=2.16" in str(checks)
    assert "#cf222e" in checks._repr_html_() and "Not ready" in checks._repr_html_()


def test_red_optional_row_is_a_warning_only():
    checks = readiness.run([lambda: Check("disk", False, "1 GB", "free space", required=False)])
    assert checks.ready
    assert str(checks).startswith("[WARN] disk: 1 GB")


def test_a_crashing_check_becomes_a_red_row():
    def _exploding():
        raise OSError("no such device")

    checks = readiness.run([_exploding])
    assert [(c.name, c.ok, c.detail) for c in checks] == [("exploding", False, "OSError: no such device")]


def test_this_machine_is_ready(monkeypatch, tmp_path):
    monkeypatch.setenv("SEGUTILS_PROFILE", "ci")
    monkeypatch.setenv("SEGUTILS_DATA_DIR", str(tmp_path))
    checks = readiness.run()
    assert checks.ready, str(checks)
    assert len(checks) == len(readiness.CHECKS)


def test_unwritable_data_dir_is_red(monkeypatch, tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("SEGUTILS_DATA_DIR", str(blocked / "data"))
    check = readiness._writable()
    assert not check.ok and "SEGUTILS_DATA_DIR" in check.fix
    assert check.detail == (f"cannot write datasets into {blocked / 'data'}: {blocked} is a file, not a folder. "
                            "Choose a folder you can write to (or move the file out of the way).")


def test_help_prints_the_usage_and_runs_no_check(monkeypatch, capsys):
    monkeypatch.setattr(readiness, "run", lambda: pytest.fail("--help ran the checklist"))
    with pytest.raises(SystemExit) as stop:
        readiness.main(["--help"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.startswith("usage: python -m segutils.course.readiness [-h]\n")
    with pytest.raises(SystemExit) as stop:
        readiness.main(["--profile", "ci"])
    assert stop.value.code == 2
    assert "error: unrecognized arguments: --profile ci" in capsys.readouterr().err


def test_missing_dataset_is_a_warning_with_the_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("SEGUTILS_PROFILE", "cpu")
    monkeypatch.setenv("SEGUTILS_DATA_DIR", str(tmp_path))
    check = readiness._dataset()
    assert (check.ok, check.required) == (False, False)
    assert check.detail == "membrane: 60 file(s) missing or bad"
    assert "make data" in check.fix and "SEGUTILS_MIRROR" in check.fix


def test_verified_dataset_is_green(monkeypatch, shared_data):
    monkeypatch.setenv("SEGUTILS_PROFILE", "cpu")
    monkeypatch.setenv("SEGUTILS_DATA_DIR", str(shared_data))
    check = readiness._dataset()
    assert (check.ok, check.detail) == (True, "membrane: all files present and verified")
