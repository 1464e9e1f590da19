"""``python -m segutils.course.plan``: every profile's budget, and what its steps cost on this machine.

The seconds per step come from the newest run record of the profile and model when there is
one, else from a few training steps measured here (float32, no XLA: this machine's CPU or
GPU). Notebook 00 prints the table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from segutils import config
from segutils.course.parameters import models_error

MODELS = ("unet", "linknet")
MEASURED_PIXELS = 128 * 128 * 4  # larger batches are measured at 128 px x 4 and scaled by their pixels


def duration(seconds: float) -> str:
    """``seconds`` in the unit a reader plans with: s, min or h."""
    if seconds < 120:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def budget_table(step_seconds: dict[str, dict[str, float | None]], models: tuple[str, ...] = MODELS) -> str:
    """Every profile's budget per model as a table, and the time its steps take at the given s/step.

    Args:
        step_seconds: ``{profile: {model: seconds per training step}}``; a missing one prints ``?``.
        models: the models one run of notebook 05 trains, each ``seeds`` times.
    """
    head = (f"{'profile':<8}{'steps':>7}{'images':>8}{'epochs x steps':>16}{'patience ep (steps)':>21}  "
            f"{'s/step ' + ', '.join(models):<24} time of the steps")
    lines = [head, "-" * len(head)]
    for profile in config.PROFILES.values():
        b, seconds = config.budget(profile), step_seconds.get(profile.name, {})
        steps = [seconds.get(m) for m in models]
        per_step = ", ".join("?" if s is None else f"{s:.3f}" for s in steps)
        total = "?" if None in steps else duration(b["steps"] * profile.seeds * sum(steps))
        epochs = f"{b['epochs']} x {b['steps_per_epoch']}"
        patience = f"{profile.patience} ({b['patience_steps']})"
        runs = f"{len(models)} models x {profile.seeds} seed{'s' * (profile.seeds > 1)}"
        lines.append(f"{profile.name:<8}{b['steps']:>7}{b['images']:>8}{epochs:>16}{patience:>21}  "
                     f"{per_step:<24} {total} ({runs})")
    return "\n".join(lines)


def recorded_step_seconds(profile: str, model: str) -> float | None:
    """Median s/step of the newest run record of ``model`` in ``profile`` (None without one)."""
    from segutils.training import find_runs

    found = [r for r in find_runs(profile) if r.get("model") == model and r.get("timings", {}).get("median_step_s")]
    newest = max(found, key=lambda r: Path(r["record_path"]).stat().st_mtime, default=None)
    return None if newest is None else newest["timings"]["median_step_s"]


def measure_step_seconds(profile: config.Profile, model: str, steps: int = 10) -> tuple[float, str]:
    """Median s/step of ``model`` at the profile's size, batch and width (``steps`` timed), and how it was measured."""
    import keras
    import numpy as np
    import tensorflow as tf

    from segutils.models import build_model
    from segutils.training import compile_model, probe_step_seconds

    size, batch = profile.img_size, profile.batch_size
    scale = 1.0
    if size * size * batch > MEASURED_PIXELS:
        scale, size, batch = size * size * batch / MEASURED_PIXELS, 128, 4
    keras.mixed_precision.set_global_policy("float32")
    weights = {} if model == "unet" else {"encoder_weights": None}  # the same steps, no download
    net = build_model(model, (size, size, 3), 2, profile=profile, **weights)
    compile_model(net, 2, profile=profile, jit_compile=False)
    rng = np.random.default_rng(0)
    x = rng.random((batch, size, size, 3), dtype=np.float32)
    y = (rng.random((batch, size, size, 1)) > 0.5).astype(np.int32)
    net.train_on_batch(x, y)  # builds the optimizer, which the probe restores afterwards
    seconds = probe_step_seconds(net, tf.data.Dataset.from_tensors((x, y)), steps) * scale
    how = "measured here" if scale == 1.0 else f"measured here at 128 px x 4, scaled x{scale:g} by pixels"
    return seconds, how


def table(profiles: list[str] | None = None, models: tuple[str, ...] = MODELS, measure: bool = True) -> str:
    """:func:`budget_table`, and where each s/step comes from.

    Args:
        profiles: the profiles to time (default: all); the others print ``?``.
        models: the models of one run of notebook 05.
        measure: measure the steps that have no run record (else they print ``?``).
    """
    seconds, sources = {}, []
    for name in profiles or list(config.PROFILES):
        profile = config.get(name)
        for model in models:
            value, how = recorded_step_seconds(profile.name, model), "newest run record"
            if value is None and measure:
                value, how = measure_step_seconds(profile, model)
            seconds.setdefault(profile.name, {})[model] = value
            sources.append(f"  {profile.name} {model}: " + (how if value is not None else "no run record yet"))
    return "\n".join([budget_table(seconds, models), "s/step (training steps only, no validation):", *sources])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m segutils.course.plan", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="append", help="time only this profile (repeatable; default: all)")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated (default: unet,linknet)")
    parser.add_argument("--no-measure", action="store_true", help="only run records: print ? for the others")
    args = parser.parse_args(argv)
    for name in args.profile or []:
        try:
            config.get(name)
        except config.UnknownProfileError as err:
            parser.error(f"--profile: {err}")
    config.import_tensorflow()  # its start-up lines kept out of the table
    models = tuple(m.strip().lower() for m in args.models.split(","))
    models_error(parser, ",".join(models))
    print(table(args.profile, models, measure=not args.no_measure))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
