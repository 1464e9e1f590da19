"""Checks for the exercises of ``notebooks/00_setup.ipynb``: each returns None or a hint.

Taught in notebooks/00_setup.ipynb.
"""

from __future__ import annotations

import dataclasses

from segutils import config


def check_gpu_steps(answer) -> str | None:
    """Exercise 1: the optimizer steps the ``gpu`` profile trains each model for (its budget)."""
    if not isinstance(answer, int) or isinstance(answer, bool):
        return "Give the number of steps as a whole number (an int)."
    gpu = config.PROFILES["gpu"]
    if answer == gpu.epochs * gpu.steps_per_epoch:
        return None
    if answer == gpu.epochs:
        return "That is the number of epochs; each epoch is steps_per_epoch optimizer steps."
    if answer == gpu.steps_per_epoch:
        return "That is one epoch's steps; the budget covers every epoch."
    if answer == gpu.epochs * gpu.steps_per_epoch * gpu.batch_size:
        return "That counts images; one optimizer step takes a whole batch of them."
    others = [name for name, p in config.PROFILES.items() if name != "gpu" and p.epochs * p.steps_per_epoch == answer]
    if others:
        return f"That is the budget of the {others[0]!r} profile; look up the one named 'gpu'."
    return "Read epochs and steps_per_epoch from config.get('gpu'): the budget is epochs x steps_per_epoch."


def check_small_batch(answer, profile: config.Profile | None = None) -> str | None:
    """Exercise 2: a copy of ``profile`` (default: the active one) with batch size 2, the rest unchanged."""
    profile = profile if profile is not None else config.active()
    if not isinstance(answer, config.Profile):
        return "Store a Profile (a changed copy of PROFILE), not a number or a dict."
    if answer.batch_size != 2:
        return "The copy still has the wrong batch size: the exercise asks for 2 images per step."
    changed = [f.name for f in dataclasses.fields(profile) if f.name != "batch_size"
               and getattr(answer, f.name) != getattr(profile, f.name)]
    if changed:
        return f"Only the batch size should change, but {', '.join(changed)} differ from PROFILE: copy PROFILE itself."
    return None
