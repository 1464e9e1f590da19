"""Notebook 05 trains with Keras' own model.fit in its cell (issue 21): the cell runs, and the call is its source."""

import json

import nbformat

from segutils.course import runner

NOTEBOOK = runner.ROOT / "notebooks" / "05_training.ipynb"


def _training_cell(nb) -> int:
    found = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "history = model.fit(train_ds" in c.source]
    assert found, "notebook 05 has no cell that calls model.fit(train_ds, ...) itself"
    return found[0]


def test_notebook_05_prints_no_source_excerpt_and_calls_model_fit_in_view():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    source = _training_cell(nb)
    cell = nb.cells[source].source
    assert "callbacks=run.callbacks()" in cell and "training.Run.open(" in cell and "run.finish(model, history)" in cell
    assert not any("inspect.getsource" in c.source for c in nb.cells)


def test_the_cell_that_trains_runs_and_leaves_a_record(tmp_path, monkeypatch, void_folder):
    """On a practitioner's folder named relative to the notebook: the record holds its absolute path and its void."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells = nb.cells[: _training_cell(nb) + 1]  # everything up to the U-Net's model.fit, in a fresh kernel
    path = tmp_path / "notebooks" / NOTEBOOK.name
    path.parent.mkdir()
    nbformat.write(nb, path)
    monkeypatch.setenv("SEGUTILS_PROFILE", "ci")
    monkeypatch.setenv("SEGUTILS_RUNS_DIR", str(tmp_path / "runs"))
    result = runner.run_notebook(path, tmp_path / "out", 600, show_progress=False, params={"DATASET": "../my data"})
    assert (result.ok, result.error) == (True, "")
    executed = nbformat.read(tmp_path / "out" / NOTEBOOK.name, as_version=4).cells[-1]
    text = "".join(o.get("text", "") for o in executed.outputs)
    assert "U-Net seed 0: best val mean IoU" in text
    (record_path,) = (tmp_path / "runs" / "train" / "ci").glob("*/unet-seed0/record.json")
    record = json.loads(record_path.read_text())
    assert record["model"] == "unet" and record["protocol"]["phases"] == ["train"]
    assert (record["config"]["dataset"], record["config"]["ignore_index"]) == (str(void_folder), 255)
    assert len(record["history"]["loss"]) == record["protocol"]["epochs"]
