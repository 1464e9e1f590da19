"""Shared test helpers: the repository root, the ../shared data folder (skip when absent), a practitioner's folder."""

import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data``; skips the test when the folder is not beside the checkout."""
    if not (SHARED_DATA / "membrane").is_dir():
        pytest.skip(f"{SHARED_DATA} is absent: the real-data tests need ../shared beside the checkout")
    return SHARED_DATA


@pytest.fixture
def void_folder(tmp_path) -> Path:
    """``tmp_path / "my data"``: 20 RGB 64 x 64 images with 0/1 masks and a 3-pixel band of 255 (unlabelled) at the
    top, and the ``dataset.json`` that declares it, as a practitioner brings them."""
    from PIL import Image

    root, rng = tmp_path / "my data", np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(20):
        mask = np.zeros((64, 64), np.uint8)
        top, left = rng.integers(4, 32, 2)
        mask[top : top + 21, left : left + 21] = 1
        image = np.where(mask[..., None] == 1, 200, 40).astype(np.uint8) + rng.integers(0, 30, (64, 64, 3), np.uint8)
        mask[:3] = 255
        Image.fromarray(image).save(root / "images" / f"cell {i:02d}.png")
        Image.fromarray(mask).save(root / "masks" / f"cell {i:02d}.png")
    (root / "dataset.json").write_text(json.dumps({"ignore_index": 255}))
    return root


@pytest.fixture(autouse=True)
def _setup_fetches(monkeypatch):
    """``runner.main`` run in-process sets SEGUTILS_SETUP_FETCH=0 for its kernels; no test inherits it."""
    monkeypatch.delenv("SEGUTILS_SETUP_FETCH", raising=False)


#: The longest test files (about 4.5, 3.5, 1.5 and 1.5 minutes on 2 cores), handed to the two xdist workers first: with
#: `--no-loadscope-reorder` (Makefile) each worker takes the next file when it is free, so no long file starts last.
LONGEST_FIRST = ("test_solution_leaks.py", "test_gpu_rehearsal.py", "test_evaluation.py", "test_training.py")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
