"""Checks for the exercises of ``notebooks/00_setup.ipynb``: each returns None or a hint.

Taught in notebooks/00_setup.ipynb.
"""

from __future__ import annotations

import dataclasses

from segutils import config


def check_gpu_size(answer) -> str | None:
    """Exercise 1: the image side the ``gpu`` profile trains at."""
    if not isinstance(answer, int) or isinstance(answer, bool):
        return "Give the side in pixels as a whole number (an int), as a profile stores it."
    right = config.PROFILES["gpu"].img_size
    if answer == right:
        return None
    others = [name for name, p in config.PROFILES.items() if name != "gpu" and p.img_size == answer]
    if others:
        return f"That is the image size of the {others[0]!r} profile; look up the one named 'gpu'."
    return "Read it from the profile itself: config.get(name) returns a Profile with an img_size field."


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
