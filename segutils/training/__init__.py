"""Training: strategies, mixed precision, ``fit`` with callbacks, fine-tuning, run records.

A thin layer over Keras' ``compile`` and ``fit``. Taught in ``notebooks/05_training.ipynb``.
"""

from .callbacks import EpochClock, LiveCurves, StepTimer
from .fitting import fine_tune, fit, probe_step_seconds, set_encoder_trainable
from .runs import find_runs, read_log, run_dir, runs_root
from .setup import (
    choose_strategy,
    compile_model,
    default_loss,
    default_metrics,
    set_precision,
    strategy,
    tf_config_workers,
)

__all__ = [
    "EpochClock",
    "LiveCurves",
    "StepTimer",
    "choose_strategy",
    "compile_model",
    "default_loss",
    "default_metrics",
    "find_runs",
    "fine_tune",
    "fit",
    "probe_step_seconds",
    "read_log",
    "run_dir",
    "runs_root",
    "set_encoder_trainable",
    "set_precision",
    "strategy",
    "tf_config_workers",
]
