"""Training: strategies, mixed precision, the comparison's protocol, ``fit`` with callbacks, fine-tuning, run records.

A thin layer over Keras' ``compile`` and ``fit``. Taught in ``notebooks/05_training.ipynb``.
"""

from .callbacks import EpochClock, LiveCurves, StepTimer
from .fitting import fine_tune, fit, probe_step_seconds, set_encoder_trainable
from .protocol import Protocol, protocol_differences, same_protocol
from .runs import find_runs, read_log, run_dir, runs_root
from .setup import choose_strategy, compile_model, default_loss, default_metrics, set_precision, strategy

__all__ = ["EpochClock", "LiveCurves", "Protocol", "StepTimer", "choose_strategy", "compile_model", "default_loss",
           "default_metrics", "find_runs", "fine_tune", "fit", "probe_step_seconds", "protocol_differences", "read_log",
           "run_dir", "runs_root", "same_protocol", "set_encoder_trainable", "set_precision", "strategy"]  # fmt: skip

