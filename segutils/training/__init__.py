"""Training, a thin layer over Keras' ``compile`` and ``fit``: strategies, mixed precision, the comparison's
protocol, a ``Run`` around ``model.fit``, run records. Taught in ``notebooks/05_training.ipynb``."""

import warnings

from .callbacks import EpochClock, LiveCurves, ShowPredictions, StepTimer
from .fitting import fine_tune, fit, set_encoder_trainable
from .protocol import Protocol, protocol_differences, same_protocol
from .run import Run, probe_step_seconds
from .runs import RunBusyError, find_runs, read_log, run_dir, runs_root
from .setup import choose_strategy, compile_model, default_loss, default_metrics, set_precision, strategy

# Keras warns at model.fit's default shuffle=True for every tf.data input, which it shuffles never: noise.
warnings.filterwarnings("ignore", "`shuffle=True` was passed", UserWarning)
