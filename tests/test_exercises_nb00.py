"""Exercise checks of notebook 00 accept the solution and reject wrong answers with a hint."""

import dataclasses

import pytest

from segutils import config
from segutils.course.exercises import nb00


def test_gpu_steps_solution_and_hints():
    gpu = config.get("gpu")
    assert (gpu.epochs, gpu.steps_per_epoch, gpu.batch_size, config.budget(gpu)["steps"]) == (60, 20, 8, 1200)
    assert nb00.check_gpu_steps(1200) is None
    assert nb00.check_gpu_steps(60) == "That is the number of epochs; each epoch is steps_per_epoch optimizer steps."
    assert nb00.check_gpu_steps(20) == "That is one epoch's steps; the budget covers every epoch."
    assert nb00.check_gpu_steps(9600) == "That counts images; one optimizer step takes a whole batch of them."
    assert nb00.check_gpu_steps(600) == "That is the budget of the 'cpu' profile; look up the one named 'gpu'."
    assert "epochs x steps_per_epoch" in nb00.check_gpu_steps(1000)
    assert "whole number" in nb00.check_gpu_steps(1200.0)
    assert "whole number" in nb00.check_gpu_steps(True)
    for wrong in (60, 20, 9600, 600, 1000, 1200.0):
        assert "1200" not in nb00.check_gpu_steps(wrong) and "1,200" not in nb00.check_gpu_steps(wrong)


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
