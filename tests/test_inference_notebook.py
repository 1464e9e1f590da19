"""Notebook 07 on a practitioner's folder whose masks hold an unlabelled value (255, declared in dataset.json)."""

import json

import nbformat

from segutils.course import runner


def test_07_takes_runs_of_its_own_dataset_only_and_leaves_the_void_out_of_its_ious(tmp_path, monkeypatch, void_folder):
    folder = void_folder
    # A better U-Net of another dataset: 07 must not take it (its model file does not even exist).
    other = tmp_path / "runs" / "train" / "ci" / "shapes" / "unet-seed0"
    other.mkdir(parents=True)
    (other / "record.json").write_text(json.dumps({"model": "unet", "seed": 0, "model_path": "best.keras",
                                                   "config": {"dataset": "shapes", "num_classes": 4},
                                                   "best": {"val_mean_iou": 0.99}}))
    monkeypatch.setenv("SEGUTILS_PROFILE", "ci")
    monkeypatch.setenv("SEGUTILS_RUNS_DIR", str(tmp_path / "runs"))
    nb = nbformat.read(runner.ROOT / "notebooks" / "07_inference.ipynb", as_version=4)
    last = next(i for i, c in enumerate(nb.cells) if "no overlap\": seams_mask" in c.source)
    nb.cells = nb.cells[: last + 1]  # up to the tiles' IoU table: the exports and flips use the same mean_iou
    nbformat.write(nb, tmp_path / "07_inference.ipynb")
    result = runner.run_notebook(tmp_path / "07_inference.ipynb", tmp_path / "out", 600, show_progress=False,
                                 params={"DATASET": str(folder)})
    assert (result.ok, result.error) == (True, "")
    cells = json.loads((tmp_path / "out" / "07_inference.ipynb").read_text())["cells"]
    text = "\n".join("".join(o.get("text", "")) for c in cells for o in c.get("outputs", []))
    assert f"No run of notebook 05 for profile 'ci': trained a small U-Net here on 14 {folder} images" in text
    iou = float(text.split("validation mean IoU ")[1].split()[0].rstrip(";"))
    assert 0.5 < iou <= 1.0  # 0.864 here; counting the void, confusion_matrix refused the masks (255 is no class)
    shown = [o.get("data", {}) for o in cells[-1]["outputs"]]
    (table,) = ["".join(data["text/markdown"]) for data in shown if "text/markdown" in data]
    assert table.splitlines()[2].startswith("| whole image | ")  # the large image's IoU, void left out
