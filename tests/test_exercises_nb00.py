"""Exercise checks of notebook 00 accept the solution and reject wrong answers with a hint."""

import dataclasses

import pytest

from segutils import config
from segutils.course.exercises import nb00


def test_gpu_size_solution_and_hints():
    assert config.get("gpu").img_size == 512
    assert nb00.check_gpu_size(config.get("gpu").img_size) is None
    assert nb00.check_gpu_size(128) == "That is the image size of the 'cpu' profile; look up the one named 'gpu'."
    assert "config.get(name)" in nb00.check_gpu_size(300)
    assert "whole number" in nb00.check_gpu_size(512.0)
    assert "whole number" in nb00.check_gpu_size("512")
    for wrong in (128, 64, 300, 512.0):
        assert "512" not in nb00.check_gpu_size(wrong)


@pytest.mark.parametrize("name", ["ci", "cpu", "gpu"])
def test_small_batch_solution_for_every_profile(name):
    profile = config.get(name)
    assert nb00.check_small_batch(dataclasses.replace(profile, batch_size=2), profile) is None


def test_small_batch_hints():
    profile = config.get("cpu")
    assert nb00.check_small_batch(2, profile) == "Store a Profile (a changed copy of PROFILE), not a number or a dict."
    assert "wrong batch size" in nb00.check_small_batch(profile, profile)
    other = dataclasses.replace(profile, batch_size=2, epochs=profile.epochs + 1, seeds=profile.seeds + 1)
    assert nb00.check_small_batch(other, profile) == (
        "Only the batch size should change, but epochs, seeds differ from PROFILE: copy PROFILE itself."
    )


def test_small_batch_defaults_to_the_active_profile(monkeypatch):
    monkeypatch.setenv("SEGUTILS_PROFILE", "ci")
    assert nb00.check_small_batch(dataclasses.replace(config.get("ci"), batch_size=2)) is None
    assert "differ from PROFILE" in nb00.check_small_batch(dataclasses.replace(config.get("cpu"), batch_size=2))
