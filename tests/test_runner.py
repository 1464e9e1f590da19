"""`make run`'s runner: executed copies and a summary; a failing cell names notebook and cell."""

import json

import nbformat
import pytest

from segutils.course import runner


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Tiny")] + [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_all_pass_writes_executed_copies_and_summary(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SEGUTILS_PROFILE", "ci")
    first = _notebook(tmp_path / "00_a.ipynb", "import os\nprint(os.environ['SEGUTILS_PROFILE'], "
                      "os.environ['SEGUTILS_SETUP_FETCH'])")
    second = _notebook(tmp_path / "01_b.ipynb", "x = 6 * 7", "print(x)")
    assert runner.main([str(first), str(second), "--out", str(tmp_path / "runs")]) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    executed = nbformat.read(run_dir / "00_a.ipynb", as_version=4)
    assert executed.cells[1].outputs[0]["text"] == "ci 0\n"  # the runner fetched: course.setup() fetches nothing
    assert nbformat.read(run_dir / "01_b.ipynb", as_version=4).cells[2].outputs[0]["text"] == "42\n"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["profile"] == "ci"
    assert [(r["notebook"], r["ok"]) for r in summary["results"]] == [("00_a.ipynb", True), ("01_b.ipynb", True)]
    assert "| 01_b.ipynb | ok |" in (run_dir / "summary.md").read_text()
    out = capsys.readouterr().out
    assert "All 2 notebooks passed" in out and "No comparison report was written" in out


_WRITE_REPORT = ("import os, pathlib\nfolder = pathlib.Path(os.environ['SEGUTILS_REPORT_DIR'])\n"
                 "folder.mkdir(parents=True)\n"
                 "(folder / 'report.md').write_text('# r\\n\\n| model |\\n|---|\\n| {} |\\n')")


def test_two_notebooks_that_write_a_report_keep_both_and_both_tables_are_printed(tmp_path, monkeypatch, capsys):
    """A course run used to give 06 and 08 one report folder: 08's CamVid report.md replaced 06's membrane one."""
    monkeypatch.setenv("SEGUTILS_PROFILE", "ci")
    paths = [_notebook(tmp_path / f"{stem}.ipynb", _WRITE_REPORT.format(model))
             for stem, model in (("06_comparison", "unet on membrane"), ("08_street_scenes", "unet on camvid"))]
    assert runner.main([*map(str, paths), "--out", str(tmp_path / "runs")]) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("report.md")) == [
        "06_comparison/report.md", "08_street_scenes/report.md"]
    out = capsys.readouterr().out
    assert out.index(f"Comparison report: {run_dir / '06_comparison' / 'report.md'}\n| model |\n|---|\n"
                     "| unet on membrane |\n") < out.index("| unet on camvid |")
    assert "No comparison report" not in out


def test_failing_cell_exits_nonzero_naming_notebook_and_cell(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SEGUTILS_PROFILE", "ci")
    bad = _notebook(tmp_path / "00_bad.ipynb", "a = 1", "raise ValueError('mask and image differ')", "b = 2")
    never = _notebook(tmp_path / "01_never.ipynb", "c = 3")
    assert runner.main([str(bad), str(never), "--out", str(tmp_path / "runs")]) == 1
    err = capsys.readouterr().err
    assert f"FAILED: {bad} at cell 3 (as numbered in JupyterLab): ValueError: mask and image differ" in err
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert (run_dir / "00_bad.ipynb").exists() and not (run_dir / "01_never.ipynb").exists()
    assert (run_dir / "00_bad.kernel.log").exists()
    result = json.loads((run_dir / "summary.json").read_text())["results"][0]
    assert (result["ok"], result["failed_cell"]) == (False, 3)


def test_unknown_profile_is_refused(monkeypatch, capsys):
    monkeypatch.setenv("SEGUTILS_PROFILE", "huge")
    assert runner.main([]) == 2
    assert "Valid profiles: ci, cpu, gpu" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--help"]])
def test_help(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        runner.main(argv)
    assert exit_.value.code == 0 and "--timeout" in capsys.readouterr().out


def test_a_dying_kernel_is_a_named_failure(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SEGUTILS_PROFILE", "ci")
    dies = _notebook(tmp_path / "00_dies.ipynb", "a = 1", "import os\nos._exit(1)")
    assert runner.main([str(dies), "--out", str(tmp_path / "runs")]) == 1
    err = capsys.readouterr().err
    assert f"FAILED: {dies} at cell 3 (as numbered in JupyterLab): the kernel died (out of memory?)" in err
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert json.loads((run_dir / "summary.json").read_text())["results"][0]["failed_cell"] == 3


def test_a_slow_cell_is_reported_as_a_timeout(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SEGUTILS_PROFILE", "ci")
    slow = _notebook(tmp_path / "00_slow.ipynb", "import time\ntime.sleep(30)")
    assert runner.main([str(slow), "--out", str(tmp_path / "runs"), "--timeout", "2"]) == 1
    err = capsys.readouterr().err
    expected = "at cell 2 (as numbered in JupyterLab): the cell ran longer than 2 s (raise --timeout)"
    assert f"FAILED: {slow} {expected}" in err
