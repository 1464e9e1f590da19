"""`make run` without a network and without the profile's dataset stops before the first notebook (issue 10, item 8)."""

import socket

import nbformat

from segutils.course import downloads, runner

WAYS_ON = (
    "Three ways on: run `make data` while online (it caches the datasets, so the course then runs offline); "
    "or set SEGUTILS_MIRROR to a workshop mirror or a USB copy (e.g. SEGUTILS_MIRROR=/media/usb/data/{name}); "
    "or run `SEGUTILS_PROFILE=ci make run`, which needs no download.\n"
)


def _notebook(path, marker):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("DATASET = None", metadata={"tags": ["parameters"]})
    reads = nbformat.v4.new_code_cell(f"open({str(marker)!r}, 'w')")
    nb.cells = [nbformat.v4.new_markdown_cell("# Loads data"), params, reads]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def _offline(monkeypatch):
    """No network: the pinned source refuses every connection (a closed loopback port)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    monkeypatch.delenv("SEGUTILS_MIRROR", raising=False)
    monkeypatch.setattr(downloads, "base_url", lambda name, mirror=None: (url, "the pinned source"))


def test_make_run_offline_without_the_dataset_stops_before_the_first_notebook_naming_three_ways_on(
    tmp_path, monkeypatch, capsys
):
    _offline(monkeypatch)
    monkeypatch.setenv("SEGUTILS_PROFILE", "cpu")  # reads membrane
    monkeypatch.setenv("SEGUTILS_DATA_DIR", str(tmp_path / "data"))
    marker = tmp_path / "first-notebook-ran"
    assert runner.main([str(_notebook(tmp_path / "01_x.ipynb", marker)), "--out", str(tmp_path / "runs")]) == 2
    message = capsys.readouterr().err.rstrip("\n").split("\n")[-1] + "\n"  # after the progress bar, one line
    assert message.startswith(
        f"The cpu profile's notebooks read the membrane dataset, which is not (all) in {tmp_path / 'data' / 'membrane'}"
        " and cannot be downloaded now (offline: URLError: "
    )
    assert message.endswith(WAYS_ON)
    assert not marker.exists() and not (tmp_path / "runs").exists()


def test_make_run_with_the_dataset_cached_or_a_folder_or_ci_needs_no_network(shared_data, tmp_path, monkeypatch):
    _offline(monkeypatch)
    monkeypatch.setenv("SEGUTILS_PROFILE", "cpu")
    monkeypatch.setenv("SEGUTILS_DATA_DIR", str(shared_data))  # membrane cached and verified
    marker = tmp_path / "ran"
    notebook = str(_notebook(tmp_path / "01_x.ipynb", marker))
    assert runner.main([notebook, "--out", str(tmp_path / "runs")]) == 0 and marker.exists()
    monkeypatch.setenv("SEGUTILS_DATA_DIR", str(tmp_path / "empty"))
    marker.unlink()
    argv = [notebook, "--out", str(tmp_path / "runs"), "--param", f"DATASET={str(tmp_path)!r}"]
    assert runner.main(argv) == 0 and marker.exists()  # make compare DATA=folder: the folder, no download
