"""An explorer of models' predictions on a test set: plain functions compute and draw each state of the controls
(image, model, threshold, opacity, errors); :class:`Explorer` wires ipywidgets to them.
Taught in ``notebooks/06_comparison.ipynb``."""

import io
from dataclasses import dataclass

import numpy as np

from . import metrics
from .compare_plots import ERROR_COLOURS, error_codes, error_handles
from .plotting import as_rgb, overlay
from .predict import head_rule, mask_hw, predict_probabilities


@dataclass
class ExplorerData:
    """What the explorer shows: test images, true masks and each model's probabilities ``(H, W, C)``."""

    images: list
    masks: list
    probabilities: dict[str, list]
    num_classes: int
    ignore_index: int | None = None
    class_names: list | None = None

    @property
    def binary(self) -> bool:
        """One sigmoid channel: the threshold applies (K channels use argmax)."""
        return all(np.asarray(p[0]).shape[-1] == 1 for p in self.probabilities.values())


def explorer_data(models: dict, images, masks, num_classes: int, ignore_index=None, class_names=None,
                  batch_size: int = 8) -> ExplorerData:
    """The probabilities of each of ``{name: model, or its probabilities}`` on ``images``, beside their true
    ``masks``. Taught in ``notebooks/06_comparison.ipynb``."""
    masks = [mask_hw(m) for m in masks]
    if not models or len(images) != len(masks) or not len(images):
        raise ValueError(f"give at least one model and as many images as masks, got {len(images)} and {len(masks)}")
    probabilities = {}
    for name, model in models.items():
        probs = predict_probabilities(model, list(images), batch_size) if hasattr(model, "predict") else model
        probabilities[name] = [np.asarray(p) for p in probs]
        if len(probabilities[name]) != len(masks):
            raise ValueError(f"{name}: {len(probabilities[name])} probability maps for {len(masks)} masks")
    return ExplorerData(list(images), masks, probabilities, num_classes, ignore_index, class_names)


def explorer_arrays(data: ExplorerData, index: int = 0, model: str | None = None, threshold: float = 0.5,
                    opacity: float = 0.45, show_errors: bool = False) -> dict:
    """One state of the controls as arrays: ``truth`` and ``prediction`` (or its ``errors``) blended into the image
    at ``opacity``, the ``probability`` shown, the ``mask``, the mean ``iou``, a ``title``.
    Taught in ``notebooks/06_comparison.ipynb``."""
    model = next(iter(data.probabilities)) if model is None else model
    if model not in data.probabilities:
        raise ValueError(f"unknown model {model!r}: choose one of {list(data.probabilities)}")
    if not 0 <= index < len(data.images):
        raise ValueError(f"index {index} is outside the test set: 0..{len(data.images) - 1}")
    if not 0 <= opacity <= 1:
        raise ValueError(f"opacity must be in [0, 1], got {opacity}")
    probs, truth, image = data.probabilities[model][index], data.masks[index], data.images[index]
    mask = head_rule(probs, threshold)  # raises on a threshold outside (0, 1)
    errors = error_codes(truth, mask, data.num_classes, ignore_index=data.ignore_index)
    if show_errors:
        weight = (errors > 0)[..., None] * opacity
        shown = as_rgb(image) * (1 - weight) + ERROR_COLOURS[errors] * weight
    else:
        shown = overlay(image, mask, opacity, data.ignore_index)
    cm = metrics.confusion_matrix(truth, mask, data.num_classes, data.ignore_index)
    iou = float(metrics.scores(cm, data.ignore_index)["mean_iou"])
    binary = probs.shape[-1] == 1
    rule = f"p > {threshold:.2f}" if binary else "argmax"
    return dict(truth=overlay(image, truth, opacity, data.ignore_index), prediction=shown,
                probability=probs[..., 0] if binary else probs.max(axis=-1), mask=mask, errors=errors, iou=iou,
                binary=binary, show_errors=show_errors, title=f"image {index}, {model} ({rule}): mean IoU {iou:.3f}")


def render(arrays: dict, data: ExplorerData, fig=None):
    """``fig`` (cleared; default a new Figure) showing ``arrays``: truth | prediction or errors | probability."""
    if fig is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(9.6, 3.6))
    fig.clear()
    axes = fig.subplots(1, 3)
    what = "errors" if arrays["show_errors"] else "prediction"
    prob_title = "probability of class 1" if arrays["binary"] else "probability of the predicted class"
    panels = [(arrays["truth"], "truth", None), (arrays["prediction"], what, None),
              (arrays["probability"], prob_title, "magma")]
    for ax, (picture, title, cmap) in zip(axes, panels, strict=True):
        shown = ax.imshow(picture, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.colorbar(shown, ax=axes[2], fraction=0.046, pad=0.04)
    fig.suptitle(arrays["title"], fontsize=10)
    if arrays["show_errors"]:
        handles = error_handles(data.num_classes, class_names=data.class_names, ignore_index=data.ignore_index)
        fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    return fig


class Explorer:
    """ipywidgets controls over :func:`explorer_arrays` and :func:`render` (threshold disabled for argmax heads);
    a moved control or ``update(index=3)`` redraws. Taught in ``notebooks/06_comparison.ipynb``."""

    def __init__(self, data: ExplorerData, index=0, model=None, threshold=0.5, opacity=0.45, show_errors=False):
        import ipywidgets as w

        self.data, self.figure = data, None
        self.controls = {
            "index": w.IntSlider(index, 0, len(data.images) - 1, description="image"),
            "model": w.Dropdown(options=list(data.probabilities), value=model or next(iter(data.probabilities)),
                                description="model"),
            "threshold": w.FloatSlider(threshold, min=0.05, max=0.95, step=0.05, description="threshold",
                                       disabled=not data.binary),
            "opacity": w.FloatSlider(opacity, min=0.0, max=1.0, step=0.05, description="opacity"),
            "show_errors": w.Checkbox(show_errors, description="show errors"),
        }
        self.image = w.Image(format="png")
        controls = list(self.controls.values())
        self.widget = w.VBox([w.HBox(controls[:3]), w.HBox(controls[3:]), self.image])
        self._holding, self.arrays = False, {}
        for control in controls:
            control.observe(lambda _change: self._redraw(), names="value")
        self.update()

    @property
    def state(self) -> dict:
        """The controls' values, as :func:`explorer_arrays` takes them."""
        return {name: control.value for name, control in self.controls.items()}

    def update(self, **changes) -> dict:
        """Set the given controls (``index=``, ``model=``, ...), then redraw once; returns the arrays."""
        unknown = sorted(set(changes) - set(self.controls))
        if unknown:
            raise ValueError(f"unknown control(s) {unknown}: the explorer has {list(self.controls)}")
        self._holding = True
        try:
            for name, value in changes.items():
                self.controls[name].value = value
        finally:
            self._holding = False
        return self._redraw()

    def _redraw(self) -> dict:
        if not self._holding:
            self.arrays = explorer_arrays(self.data, **self.state)
            self.figure = render(self.arrays, self.data, self.figure)
            buffer = io.BytesIO()
            self.figure.savefig(buffer, format="png", dpi=80)
            self.image.value = buffer.getvalue()
        return self.arrays

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
