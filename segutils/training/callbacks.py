"""Callbacks for ``model.fit``: a step timer, an epoch clock and live curves, which a ``Run`` adds (notebook 05), and
``ShowPredictions``, a prediction redrawn every epoch (notebook 02)."""

import statistics
import time

import keras
import numpy as np
import tensorflow as tf

from ..checks import whole
from ..functional import head_rule
from ..predict import mask_hw


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


class ShowPredictions(keras.callbacks.Callback):
    """After every ``every``-th epoch (and before training, as epoch 0), draw ``image`` ``(H, W, C)`` as the model
    takes it, its true ``mask`` ``(H, W[, 1])`` and the prediction, and pass the figure to ``show`` (default: it
    replaces the notebook's previous one); ``predictions`` maps each drawn epoch to its mask. ValueError when image
    and mask differ in height and width, or ``every < 1``. Taught in ``notebooks/02_unet.ipynb``."""

    def __init__(self, image, mask, every: int = 1, show=None):
        super().__init__()
        self.image = np.asarray(image, dtype="float32")
        self.mask = mask_hw(mask)
        if self.image.ndim != 3 or self.image.shape[:2] != self.mask.shape:
            raise ValueError(f"ShowPredictions needs one image (H, W, C) and its mask (H, W): got image "
                             f"{self.image.shape} and mask {np.shape(mask)}; pass images[0], masks[0] of a batch.")
        self.every, self.show = whole(every, "every"), show or _replace_in_notebook
        self.predictions: dict[int, np.ndarray] = {}

    def on_train_begin(self, logs=None):
        self._draw(0, logs)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            self._draw(epoch + 1, logs)

    def _draw(self, epoch: int, logs) -> None:
        import matplotlib.pyplot as plt

        predicted = head_rule(np.asarray(self.model(self.image[None], training=False)[0]))  # eager: no graph
        self.predictions[epoch] = predicted
        scores = ", ".join(f"{k} {v:.3f}" for k, v in (logs or {}).items() if k.startswith("val_"))
        fig, axes = plt.subplots(1, 3, figsize=(8, 3.1), layout="constrained")
        gray = self.image.shape[-1] == 1
        axes[0].imshow(np.clip(self.image[..., 0] if gray else self.image[..., :3], 0, 1), cmap="gray", vmin=0, vmax=1)
        for ax, mask in ((axes[1], self.mask), (axes[2], predicted)):  # class k: colour k of tab10
            ax.imshow(mask, cmap="tab10", vmin=0, vmax=9, interpolation="nearest")
        predicted_title = f"predicted, epoch {epoch}" + (f"\n{scores}" if scores else "")
        for ax, title in zip(axes, ("image", "true mask", predicted_title), strict=True):
            ax.set_title(title, fontsize=9)
            ax.axis("off")
        self.show(fig)
        plt.close(fig)


def _replace_in_notebook(fig) -> None:
    """Show ``fig`` in place of the figure shown before (as the TF segmentation tutorial's DisplayCallback)."""
    from IPython.display import clear_output, display

    clear_output(wait=True)
    display(fig)
