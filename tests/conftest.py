"""Shared test helpers: the repository root and the ../shared data folder (skip when absent)."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data``; skips the test when the folder is not beside the checkout."""
    if not (SHARED_DATA / "membrane").is_dir():
        pytest.skip(f"{SHARED_DATA} is absent: the real-data tests need ../shared beside the checkout")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _setup_fetches(monkeypatch):
    """``runner.main`` run in-process sets SEGUTILS_SETUP_FETCH=0 for its kernels; no test inherits it."""
    monkeypatch.delenv("SEGUTILS_SETUP_FETCH", raising=False)
