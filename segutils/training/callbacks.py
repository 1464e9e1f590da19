"""Callbacks a ``Run`` adds to ``model.fit``: a step timer, an epoch clock, live curves. Taught in notebook 05."""

import statistics
import time

import keras
import tensorflow as tf


class StepTimer(keras.callbacks.Callback):
    """Seconds of every training step but the first ``skip`` (tracing) in ``steps``; on a :meth:`stamped` dataset,
    how long after its start each step got its batch in ``delays``."""

    def __init__(self, batch_size: int, skip: int = 2):
        super().__init__()
        self.batch_size, self.skip = batch_size, skip
        self.steps: list[float] = []
        self.delays: list[float] = []
        self._arrivals: list[float] = []
        self._seen, self._start = 0, None

    def stamped(self, ds):
        """``ds`` with the moment each batch reaches the training step noted (a no-op ``py_function``)."""
        def arrived():
            self._arrivals.append(time.perf_counter())
            return 0.0

        def noted(*batch):
            with tf.control_dependencies([tf.py_function(arrived, [], tf.float32)]):
                return tuple(tf.identity(part) for part in batch)

        return ds.map(noted)

    def on_train_batch_begin(self, batch, logs=None):
        self._start, self._count = time.perf_counter(), len(self._arrivals)

    def on_train_batch_end(self, batch, logs=None):
        self._seen += 1
        if self._seen > self.skip and self._start is not None:
            self.steps.append(time.perf_counter() - self._start)
            if len(self._arrivals) > self._count:
                self.delays.append(self._arrivals[-1] - self._start)

    def batch_wait_share(self) -> float | None:
        """Seconds the timed steps waited for their batches, over their seconds (None if not :meth:`stamped`)."""
        return sum(self.delays) / sum(self.steps) if self.delays and self.steps else None

    def summary(self) -> dict:
        """``median_step_s``, ``images_per_s`` (None without a timed step), ``timed_steps``, ``batch_wait_share``."""
        median = statistics.median(self.steps) if self.steps else None
        return dict(median_step_s=median, images_per_s=self.batch_size / median if median else None,
                    timed_steps=len(self.steps), batch_wait_share=self.batch_wait_share())


class EpochClock(keras.callbacks.Callback):
    """Wall-clock seconds of each epoch, validation included; ``on_epoch`` is called after each."""

    def __init__(self, on_epoch=None):
        super().__init__()
        self.seconds: dict[int, float] = {}
        self.on_epoch, self._start = on_epoch, None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds[epoch] = time.perf_counter() - self._start
        if self.on_epoch is not None:
            self.on_epoch(epoch, self.seconds[epoch], dict(logs or {}))


class LiveCurves(keras.callbacks.Callback):
    """Redraws loss and mean-IoU curves after an epoch, at most every ``min_seconds`` and after the last; nothing
    outside IPython. ``history``: a resumed run's epochs."""

    def __init__(self, title: str = "", history: dict | None = None, metric: str = "mean_iou",
                 min_seconds: float = 10.0):
        super().__init__()
        self.title, self.metric, self.min_seconds = title, metric, min_seconds
        self.history = {k: list(v) for k, v in (history or {}).items()}
        self._handle, self._drawn, self._pending = None, -float("inf"), False

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        self._pending = True
        if time.monotonic() - self._drawn >= self.min_seconds:
            self.draw()

    def on_train_end(self, logs=None):
        if self._pending:
            self.draw()

    def draw(self):
        """Draw (or redraw) the curves of ``history`` in the notebook."""
        self._drawn, self._pending = time.monotonic(), False
        from IPython import get_ipython  # installed with ipykernel, a dependency
        from IPython.display import display

        if get_ipython() is None:
            return
        from matplotlib.ticker import MaxNLocator

        from ..plotting import pyplot

        plt = pyplot()
        fig, axes = plt.subplots(1, 2, figsize=(9, 3))
        for ax, key in zip(axes, ("loss", self.metric), strict=True):
            for name in (key, f"val_{key}"):
                if name in self.history:
                    values = self.history[name]
                    ax.plot(range(1, len(values) + 1), values, marker="o", label=name)
            ax.set_xlabel("epoch")
            epochs = max((len(v) for k, v in self.history.items() if k.endswith(key)), default=1)
            ax.set_xlim(0.5, epochs + 0.5)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))  # whole epochs, never 0.96
            ax.set_title(f"{self.title} {key}".strip())
            ax.legend()
        fig.tight_layout()
        if self._handle is None:
            self._handle = display(fig, display_id=True)
        else:
            self._handle.update(fig)
        plt.close(fig)
