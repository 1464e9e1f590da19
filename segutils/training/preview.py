"""Watch a model learn: redraw its prediction on one image after every epoch.

Taught in ``notebooks/02_unet.ipynb``.
"""

from __future__ import annotations

import keras
import numpy as np


def predicted_mask(probabilities) -> np.ndarray:
    """Class indices ``(H, W)`` from one output ``(H, W, K)``: argmax, or ``p > 0.5`` for one sigmoid channel."""
    p = np.asarray(probabilities)
    return (p[..., 0] > 0.5).astype(np.uint8) if p.shape[-1] == 1 else p.argmax(-1).astype(np.uint8)


class ShowPredictions(keras.callbacks.Callback):
    """After every ``every``-th epoch, draw one image, its true mask and the model's prediction.

    Args:
        image: one image ``(H, W, C)`` as the model takes it (the pipeline's floats in ``[0, 1]``).
        mask: its true mask of class indices, ``(H, W)`` or ``(H, W, 1)``.
        every: draw after epochs ``every``, ``2 * every``, ... (and before training, as epoch 0).
        show: called with each new figure; the default replaces the previous figure in a notebook
            (``IPython.display``), so the cell shows one figure that changes as the model learns.

    After training, ``predictions`` maps each drawn epoch to its predicted mask ``(H, W)``.
    Raises ``ValueError`` when image and mask differ in height and width, or ``every < 1``.
    """

    def __init__(self, image, mask, every: int = 1, show=None):
        super().__init__()
        self.image = np.asarray(image, dtype="float32")
        self.mask = np.asarray(mask)
        self.mask = self.mask[..., 0] if self.mask.ndim == 3 and self.mask.shape[-1] == 1 else self.mask
        if self.image.ndim != 3 or self.image.shape[:2] != self.mask.shape:
            raise ValueError(f"ShowPredictions needs one image (H, W, C) and its mask (H, W): got image "
                             f"{self.image.shape} and mask {np.shape(mask)}; pass images[0], masks[0] of a batch.")
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a whole number of epochs >= 1, got {every!r}")
        self.every, self.show = every, show or _replace_in_notebook
        self.predictions: dict[int, np.ndarray] = {}

    def on_train_begin(self, logs=None):
        self._draw(0, logs)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            self._draw(epoch + 1, logs)

    def _draw(self, epoch: int, logs) -> None:
        import matplotlib.pyplot as plt

        predicted = predicted_mask(self.model(self.image[None], training=False)[0])  # eager: no graph to trace
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
