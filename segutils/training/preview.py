"""Watch a model learn: redraw its prediction on one image after every epoch. Taught in ``notebooks/02_unet.ipynb``."""

import keras
import numpy as np

from ..checks import whole
from ..functional import head_rule
from ..predict import mask_hw


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
