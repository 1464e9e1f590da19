"""Pictures of a comparison of models: learning curves, per-class IoU, speed against accuracy, masks with their
errors, each model's worst images; each returns its ``Figure``. Taught in ``notebooks/06_comparison.ipynb``."""

import math
import statistics

import numpy as np

from .evaluation.table import COLUMNS, Table
from .plotting import as_rgb, class_handles, mask_to_rgb, pyplot
from .predict import mask_hw

#: Colours of :func:`error_codes`: 0 correct (white), 1 false positive, 2 false negative, 3 wrong class, 4 ignored.
ERROR_COLOURS = np.array([[1.0, 1.0, 1.0], [0.85, 0.1, 0.1], [0.1, 0.3, 0.85], [0.6, 0.2, 0.7], [0.6, 0.6, 0.6]],
                         np.float32)


def model_colour(name: str, index: int = 0) -> str:
    """A model's colour in every comparison figure: unet tab10 blue, linknet orange, others tab10's next ones."""
    return {"unet": "tab:blue", "linknet": "tab:orange"}.get(name, f"C{(index + 2) % 10}")


def time_to_reach(record: dict, target: float, metric: str = "val_mean_iou") -> tuple[float, float]:
    """``(epoch from 1, training seconds)`` when the run's ``metric`` first reached ``target`` (``>=``), else
    ``(nan, nan)``. Taught in ``notebooks/06_comparison.ipynb``."""
    history = record.get("history", {}).get(metric, [])
    for epoch, (value, elapsed) in enumerate(zip(history, record.get("elapsed", []), strict=False), 1):
        if value >= target:
            return float(epoch), float(elapsed)
    return math.nan, math.nan


def first_to_reach(runs: list[dict], target_iou: float, metric: str = "val_mean_iou") -> dict[str, dict]:
    """``{model: {"epoch": e, "seconds": s}}``: medians over seeds of when ``metric`` first reached ``target_iou``
    (a seed that never did counts as infinitely late; NaN: the median never did)."""
    per_model: dict[str, list[tuple[float, float]]] = {}
    for record in runs:
        reached = (math.inf if math.isnan(v) else v for v in time_to_reach(record, target_iou, metric))
        per_model.setdefault(record["model"], []).append(tuple(reached))
    result = {}
    for model, reached in per_model.items():
        medians = (statistics.median(v) for v in zip(*reached, strict=True))
        epoch, seconds = (m if math.isfinite(m) else math.nan for m in medians)
        result[model] = {"epoch": epoch, "seconds": seconds}
    return result


def _who_first(reach: dict[str, dict], key: str) -> str:
    def when(v):
        return "never" if math.isnan(v) else f"epoch {v:g}" if key == "epoch" else f"{v:.3g} s"

    done = {m: r[key] for m, r in reach.items() if not math.isnan(r[key])}
    first = [m for m, v in done.items() if v == min(done.values())]
    verdict = "none reached it" if not first else f"tie: {' = '.join(first)}" if len(first) > 1 else f"{first[0]} first"
    times = ", ".join(f"{m} {when(r[key])}" for m, r in reach.items())
    return f"{verdict} ({times})"


def learning_curves(runs: list[dict], target_iou: float | None = None, metric: str = "val_mean_iou"):
    """Validation curves of the ``runs`` (records with ``history[metric]`` and ``elapsed``) against epochs and
    seconds; ``target_iou``: a line, and who reached it first (:func:`first_to_reach`) in the titles.
    Taught in ``notebooks/06_comparison.ipynb``."""
    if not runs:
        raise ValueError("learning_curves needs at least one run record (segutils.training.find_runs)")
    for r in runs:
        if not r.get("history", {}).get(metric) or not r.get("elapsed"):
            raise ValueError(f"run {r.get('model')} seed {r.get('seed')} has no history[{metric!r}] or 'elapsed'")
    from matplotlib.ticker import MaxNLocator

    models = list(dict.fromkeys(r["model"] for r in runs))
    fig, (ax_e, ax_s) = pyplot().subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for r in runs:
        values = r["history"][metric]
        colour = model_colour(r["model"], models.index(r["model"]))
        style = dict(color=colour, marker="o", markersize=3, alpha=1.0 if r.get("seed", 0) == 0 else 0.5)
        label = f"{r['model']} seed {r.get('seed', 0)}"
        ax_e.plot(np.arange(1, len(values) + 1), values, label=label, **style)
        n = min(len(values), len(r["elapsed"]))
        ax_s.plot(r["elapsed"][:n], values[:n], label=label, **style)
    ax_e.set(xlabel="epoch", xlim=(0.5, max(len(r["history"][metric]) for r in runs) + 0.5))
    ax_e.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax_s.set_xlabel("wall-clock training seconds")
    ax_e.set_ylabel(metric.replace("val_", "validation ").replace("_", " ").replace("iou", "IoU"))
    if target_iou is not None:
        reach = first_to_reach(runs, target_iou, metric)
        for ax, key in ((ax_e, "epoch"), (ax_s, "seconds")):
            ax.axhline(target_iou, color="0.3", linestyle="--", linewidth=1, label=f"target {target_iou:.3f}")
            for m, r in reach.items():
                if not math.isnan(r[key]):
                    ax.axvline(r[key], color=model_colour(m, models.index(m)), linestyle=":", linewidth=1.2)
            ax.set_title(f"to {target_iou:.3f}: {_who_first(reach, key)}", fontsize=8.5)
    ax_s.legend(fontsize=7.5, loc="best")
    fig.tight_layout()
    return fig


def class_iou_bars(evaluations: dict, class_names=None, title: str = "test IoU per class"):
    """Bars of each class's IoU per model of ``{model: Evaluation or per-class IoU}`` (``n/a`` where a class never
    occurs; an Evaluation's ignored class left out; over 6 classes, one horizontal row per class).
    Taught in ``notebooks/06_comparison.ipynb``."""
    ious = {m: np.asarray(e.scores["iou"] if hasattr(e, "scores") else e, dtype=float) for m, e in evaluations.items()}
    lengths = [len(v) for v in ious.values()]
    if len(set(lengths)) > 1:
        raise ValueError(f"every model needs the IoU of the same classes, got lengths {lengths}")
    kept = [c for c in range(lengths[0]) if c not in {getattr(e, "ignore_index", None) for e in evaluations.values()}]
    names, k, wide = [list(class_names)[c] if class_names else str(c) for c in kept], len(kept), len(kept) > 6
    size = (7.5, 0.32 * k * len(ious) + 1.2) if wide else (max(4.5, 1.1 * k * len(ious)), 3.4)
    fig, ax = pyplot().subplots(figsize=size)
    width = 0.8 / len(ious)
    for j, (model, iou) in enumerate(ious.items()):
        x, iou = np.arange(k) - 0.4 + width * (j + 0.5), iou[kept]
        bars = (ax.barh if wide else ax.bar)(x, np.nan_to_num(iou), width, color=model_colour(model, j),
                                             label=f"{model} (mean {np.nanmean(iou):.3f})")
        ax.bar_label(bars, labels=["n/a" if math.isnan(v) else f"{v:.3f}" for v in iou], fontsize=7, padding=2)
    if wide:  # class 0 on top, in class order
        ax.set(yticks=range(k), yticklabels=names, xlim=(0, 1.12), xlabel="IoU", ylim=(k - 0.5, -0.5))
    else:
        ax.set_xticks(range(k), names, **({"rotation": 45, "ha": "right"} if k > 4 else {}))
        ax.set(ylim=(0, 1.12), ylabel="IoU")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower right" if wide else "upper left", ncol=1 if wide else len(ious), frameon=False)
    fig.tight_layout()
    return fig


def speed_vs_accuracy(table, speeds=("latency_ms", "step_s"), metric: str = "mean_iou"):
    """Each model's mean (+- std over seeds) of ``metric`` against each of ``speeds`` the ``table`` (or its rows)
    has, one panel a speed. Taught in ``notebooks/06_comparison.ipynb``."""
    table = table if isinstance(table, Table) else Table(list(table))
    shown = [c for c in speeds if c in table.columns]
    if not shown or metric not in table.columns:
        raise ValueError(f"the table needs {metric!r} and one of {list(speeds)}; it has {table.columns}")
    fig, axes = pyplot().subplots(1, len(shown), figsize=(4.4 * len(shown), 3.4), squeeze=False)
    for ax, column in zip(axes[0], shown, strict=True):
        for j, model in enumerate(table.models):
            x, y = table.mean(model, column), table.mean(model, metric)
            if math.isnan(x) or math.isnan(y):  # this model has no such figure
                continue
            xerr, yerr = (None if math.isnan(s) else s for s in (table.std(model, column), table.std(model, metric)))
            ax.errorbar([x], [y], xerr=xerr, yerr=yerr, fmt="o", markersize=8, capsize=3,
                        color=model_colour(model, j), label=model)
            ax.annotate(model, (x, y), textcoords="offset points", xytext=(6, 6), fontsize=8)
        ax.set(xlabel=COLUMNS.get(column, column), ylabel=COLUMNS.get(metric, metric))
        ax.set_title("better: up and to the left", fontsize=8.5)
        ax.margins(0.3)
    fig.tight_layout()
    return fig


def error_codes(truth, prediction, num_classes: int = 2, positive: int = 1, ignore_index: int | None = None):
    """Per pixel, uint8 ``H x W``: 0 correct; two classes: 1 false positive (``positive`` predicted, not true), 2
    false negative (``positive`` true, not predicted); more classes: 3 wrong class; 4 an ignored true pixel."""
    truth, prediction = mask_hw(truth), np.asarray(prediction)
    if truth.shape != prediction.shape:
        raise ValueError(f"truth {truth.shape} and prediction {prediction.shape} must have the same H x W")
    codes = np.zeros(truth.shape, np.uint8)
    if num_classes == 2:
        codes[(prediction == positive) & (truth != positive)] = 1
        codes[(prediction != positive) & (truth == positive)] = 2
    else:
        codes[prediction != truth] = 3
    if ignore_index is not None:
        codes[truth == ignore_index] = 4
    return codes


def error_map(truth, prediction, num_classes: int = 2, positive: int = 1, ignore_index: int | None = None):
    """:func:`error_codes` in colour (:data:`ERROR_COLOURS`): float RGB ``H x W x 3``, white where right."""
    return ERROR_COLOURS[error_codes(truth, prediction, num_classes, positive, ignore_index)]


def error_handles(num_classes: int = 2, positive: int = 1, class_names=None, ignore_index=None) -> list:
    """Legend patches for the colours of :func:`error_map`."""
    from matplotlib.patches import Patch

    name = class_names[positive] if class_names is not None else f"class {positive}"
    if num_classes == 2:
        labels = {1: f"false positive ({name} predicted, not true)", 2: f"false negative ({name} true, missed)"}
    else:
        labels = {3: "wrong class"}
    if ignore_index is not None:
        labels[4] = "ignored"
    return [Patch(facecolor=ERROR_COLOURS[c], edgecolor="0.4", label=text) for c, text in labels.items()]


def _grid(rows, ncols, num_classes, positive, class_names, ignore_index, width=2.0, palette=None):
    """Draw ``rows`` of ``(ylabel, [(picture, title), ...])`` at the pictures' aspect, one legend below."""
    width = min(width, 15.0 / ncols)  # at most 15 inches wide
    aspect = rows[0][1][0][0].shape[0] / rows[0][1][0][0].shape[1]
    height = (width * aspect + 0.3) * len(rows) + 0.6 + 0.2 * (num_classes > 4)
    fig, axes = pyplot().subplots(len(rows), ncols, figsize=(width * ncols, height), squeeze=False)
    for axrow, (ylabel, panels) in zip(axes, rows, strict=True):
        for ax, (picture, title) in zip(axrow, panels, strict=True):
            ax.imshow(picture, interpolation="nearest")
            ax.set_title(title, fontsize=7.5)
            ax.set(xticks=[], yticks=[])
        axrow[0].set_ylabel(ylabel, fontsize=8)
    handles = class_handles(class_names, ignore_index, palette) if class_names is not None else []
    handles += error_handles(num_classes, positive, class_names, ignore_index)
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 7), fontsize=7.5, frameon=False)
    fig.tight_layout(rect=(0, 0.5 / height, 1, 1))
    return fig


def comparison_grid(images, masks, predictions: dict, indices=None, num_classes: int = 2, positive: int = 1,
                    ignore_index=None, class_names=None, per_image: dict | None = None, palette=None):
    """Rows of test images (``indices``, default the first three): image | truth | per model of ``{model: masks}``
    its mask and :func:`error_map`; ``per_image``: ``{model: per-image mean IoU}`` for the titles; ``palette``: the
    dataset's class colours. Taught in ``notebooks/06_comparison.ipynb``."""
    indices = list(range(min(3, len(images)))) if indices is None else list(indices)
    rows = []
    for i in indices:
        panels = [(as_rgb(images[i]), "image"), (mask_to_rgb(masks[i], ignore_index, palette), "truth")]
        for model, masks_of in predictions.items():
            iou = "" if per_image is None else f", IoU {per_image[model][i]:.3f}"
            panels.append((mask_to_rgb(masks_of[i], ignore_index, palette), f"{model}{iou}"))
            panels.append((error_map(masks[i], masks_of[i], num_classes, positive, ignore_index), f"{model} errors"))
        rows.append((f"image {i}", panels))
    return _grid(rows, 2 + 2 * len(predictions), num_classes, positive, class_names, ignore_index, palette=palette)


def worst_indices(per_image_iou, k: int = 3) -> list[int]:
    """Indices of the ``k`` images with the lowest per-image IoU, lowest first (NaN skipped, ties by index)."""
    values = np.asarray(per_image_iou, dtype=float)
    order = np.argsort(np.where(np.isnan(values), np.inf, values), kind="stable")
    return [int(i) for i in order if not np.isnan(values[i])][:k]


def worst_images(images, masks, predictions: dict, per_image: dict, k: int = 2, num_classes: int = 2,
                 positive: int = 1, ignore_index=None, class_names=None, palette=None):
    """Each model's ``k`` worst images (:func:`worst_indices`): image | truth | mask | errors, with the other models'
    IoU there; arguments as in :func:`comparison_grid`. Taught in ``notebooks/06_comparison.ipynb``."""
    rows = []
    for model, masks_of in predictions.items():
        for rank, i in enumerate(worst_indices(per_image[model], k), 1):
            others = ", ".join(f"{m} {per_image[m][i]:.3f}" for m in predictions if m != model)
            errors = f"errors; {others} here" if others else "errors"
            panels = [(as_rgb(images[i]), f"image {i}"), (mask_to_rgb(masks[i], ignore_index, palette), "truth"),
                      (mask_to_rgb(masks_of[i], ignore_index, palette), f"{model}, IoU {per_image[model][i]:.3f}"),
                      (error_map(masks[i], masks_of[i], num_classes, positive, ignore_index), errors)]
            rows.append((f"{model} worst {rank}", panels))
    return _grid(rows, 4, num_classes, positive, class_names, ignore_index, width=2.2, palette=palette)
