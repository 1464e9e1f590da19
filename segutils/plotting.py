"""Pictures of the data: masks, overlays, class balance, augmentations, the U-Net drawing; each returns its
``Figure``. Images: uint8 or float in ``[0, 1]``, ``H x W [x 1 or 3]``; masks: ``H x W [x 1]`` class indices.
Taught in ``notebooks/01_data.ipynb``."""

import importlib

import numpy as np

from .metrics import class_pixels
from .predict import mask_hw, prepare_image

#: Colour of class k is PALETTE[k % 20] (tab10, then tab20's light tones), unless a dataset's own ``palette`` (RGB
#: per class, e.g. ``DatasetInfo.colours``: CamVid's label colours) is passed; the ignore index is drawn black.
PALETTE = np.array([[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
                    [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207],
                    [174, 199, 232], [255, 187, 120], [152, 223, 138], [255, 152, 150], [197, 176, 213],
                    [196, 156, 148], [247, 182, 210], [199, 199, 199], [219, 219, 141], [158, 218, 229]], np.uint8)


def _palette(palette=None) -> np.ndarray:
    return PALETTE if palette is None else np.asarray(palette, np.uint8)


def colour(k: int, palette=None) -> tuple[float, float, float]:
    """Matplotlib colour (RGB in ``[0, 1]``) of class ``k``."""
    colours = _palette(palette)
    return tuple(colours[k % len(colours)] / 255.0)


def pyplot():
    """``matplotlib.pyplot``, imported on first use (importing segutils draws nothing)."""
    return importlib.import_module("matplotlib.pyplot")


def as_rgb(image) -> np.ndarray:
    """An image as float RGB ``H x W x 3`` in ``[0, 1]``."""
    image = np.asarray(image)
    image = np.clip((image / 255.0 if image.dtype == np.uint8 else image).astype(np.float32), 0.0, 1.0)
    image = image[..., None] if image.ndim == 2 else image
    return np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image[..., :3]


def mask_to_rgb(mask, ignore_index: int | None = None, palette=None) -> np.ndarray:
    """Colour-code a class mask: class k gets ``PALETTE[k]`` (or ``palette[k]``), the ignore index black; uint8 RGB."""
    mask, colours = mask_hw(mask).astype(np.int64), _palette(palette)
    rgb = colours[mask % len(colours)]
    if ignore_index is not None:
        rgb[mask == ignore_index] = 0
    return rgb


def overlay(image, mask, alpha: float = 0.45, ignore_index: int | None = None, palette=None):
    """The image (float RGB) with the colour-coded mask blended in at ``alpha``; class 0 stays uncoloured."""
    weight = np.where(mask_hw(mask)[..., None] == 0, 0.0, alpha).astype(np.float32)
    return as_rgb(image) * (1 - weight) + mask_to_rgb(mask, ignore_index, palette) / 255.0 * weight


def outline(image, mask, colour=(1.0, 0.0, 1.0)) -> np.ndarray:
    """The image (float RGB) with the mask's class boundaries painted in ``colour``: shows alignment at a glance."""
    rgb = as_rgb(image).copy()
    m = mask_hw(mask)
    edge = np.zeros(m.shape, dtype=bool)
    edge[1:] |= m[1:] != m[:-1]
    edge[:, 1:] |= m[:, 1:] != m[:, :-1]
    rgb[edge] = colour
    return rgb


def class_handles(class_names, ignore_index: int | None = None, palette=None) -> list:
    """Legend patches ``"k name"`` in the colours of :func:`mask_to_rgb`."""
    from matplotlib.patches import Patch

    return [Patch(color=(0, 0, 0) if k == ignore_index else colour(k, palette), label=f"{k} {name}")
            for k, name in enumerate(class_names)]


def show_pairs(images, masks, n: int = 4, class_names=None, ignore_index=None, titles=None, palette=None):
    """Side-by-side grid: one row per pair, columns image | mask | overlay, at the images' own aspect.
    Taught in ``notebooks/01_data.ipynb``."""
    n = min(n, len(images))
    aspect = np.shape(images[0])[0] / np.shape(images[0])[1]
    fig, axes = pyplot().subplots(n, 3, figsize=(7.5, 2.5 * aspect * n + 0.6), squeeze=False)
    for i in range(n):
        name = f" {titles[i]}" if titles is not None else ""
        panels = [(as_rgb(images[i]), f"image{name}"), (mask_to_rgb(masks[i], ignore_index, palette), "mask"),
                  (overlay(images[i], masks[i], ignore_index=ignore_index, palette=palette), "overlay")]
        for ax, (picture, title) in zip(axes[i], panels, strict=True):
            ax.imshow(picture, interpolation="nearest")
            ax.set_title(title, fontsize=9)
            ax.axis("off")
    if class_names:
        handles = class_handles(class_names, ignore_index, palette)
        fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 6), frameon=False)
    fig.tight_layout(rect=(0, 0.06 if class_names else 0, 1, 1))
    return fig


def pixel_share(masks, num_classes: int, ignore_index: int | None = None) -> np.ndarray:
    """Fraction of the mask pixels (``ignore_index``'s left out) that belong to each class, summing to 1; ValueError
    for a value outside the classes (:func:`segutils.metrics.class_pixels`)."""
    counts = class_pixels(masks, num_classes, ignore_index)
    return counts / max(counts.sum(), 1)


def class_balance(shares: dict[str, np.ndarray], class_names=None, palette=None):
    """Bars of each class's pixel share, one panel per ``{dataset: pixel_share(...)}``; ``class_names``:
    ``{dataset: names}``; ``palette``: the classes' colours. Taught in ``notebooks/01_data.ipynb``."""
    fig, axes = pyplot().subplots(1, len(shares), figsize=(4.2 * len(shares), 3.2), squeeze=False)
    for ax, (name, share) in zip(axes[0], shares.items(), strict=True):
        labels = (class_names or {}).get(name) or [str(k) for k in range(len(share))]
        bars = ax.bar(range(len(share)), share * 100, color=[colour(k, palette) for k in range(len(share))],
                      edgecolor="0.3", linewidth=0.5)
        ax.bar_label(bars, fmt="%.1f", fontsize=8)
        tilt = {"rotation": 45, "ha": "right"} if len(share) > 4 else {}
        ax.set_xticks(range(len(share)), labels, **tilt)
        ax.set(ylabel="% of pixels", title=name)
    fig.tight_layout()
    return fig


def augmentation_grid(image, mask, configs: dict, n: int = 4, seed: int = 0):
    """One row per ``{name: AugmentConfig}``: the original, then ``n`` random draws, each with its mask's
    :func:`outline` (aligned where it hugs the objects' edges). Taught in ``notebooks/01_data.ipynb``."""
    import tensorflow as tf

    from segutils.data.augment import augment

    x = tf.convert_to_tensor(prepare_image(image, None))  # as training sees it: uint8 / 255
    m = tf.convert_to_tensor(mask_hw(mask)[..., None].astype(np.int32))
    fig, axes = pyplot().subplots(len(configs), n + 1, figsize=(1.9 * (n + 1), 2.0 * len(configs)), squeeze=False)
    for row, (name, config) in zip(axes, configs.items(), strict=True):
        row[0].imshow(outline(x.numpy(), m.numpy()))
        row[0].set_ylabel(name, fontsize=9)
        for j, ax in enumerate(row[1:]):
            a_image, a_mask = augment(x, m, tf.constant([seed, j]), config)
            ax.imshow(outline(a_image.numpy(), a_mask.numpy()))
        for ax in row:
            ax.set(xticks=[], yticks=[])
    axes[0][0].set_title("original", fontsize=9)
    fig.tight_layout()
    return fig


def draw_unet(model_or_levels, ax=None):
    """The U of Ronneberger et al. (2015), Fig. 1, of a :func:`segutils.models.build_unet` model or its
    ``unet_levels``, into ``ax`` (default a new figure). Taught in ``notebooks/02_unet.ipynb``."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch, Rectangle

    from segutils.models.unet import unet_levels

    rows = unet_levels(model_or_levels) if hasattr(model_or_levels, "layers") else model_or_levels
    levels = [(r["level"], r["height"], r["width"], int(r["channels"])) for r in rows]
    depth = len(levels) - 1
    if ax is None:
        _, ax = pyplot().subplots(figsize=(1.4 * (2 * depth + 2), 1.1 * (depth + 1.5)))
    box_h = 0.62

    def half(c):
        return 0.09 * np.log2(max(c, 2))

    def box(x, y, label, h, w, c, colour_):
        ax.add_patch(Rectangle((x - half(c), y - box_h / 2), 2 * half(c), box_h, facecolor=colour_,
                               edgecolor="0.3", linewidth=0.8))
        ax.text(x, y, f"{label}\n{c} ch\n{h or '?'}x{w or '?'}", ha="center", va="center", fontsize=7.5)

    def arrow(start, end, colour_, dashed=False):
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=10, color=colour_,
                                     linestyle="--" if dashed else "-", linewidth=1.2, shrinkA=4, shrinkB=4))

    for k, (label, h, w, c) in enumerate(levels[:-1]):  # level k + 1 at y = -k; the next one 1 lower, 1 inwards
        enc, dec, y = k, 2 * depth - k, -k
        box(enc, y, f"enc{label}", h, w, c, "#c6dbef")
        box(dec, y, f"dec{label}", h, w, c, "#c7e9c0")
        arrow((enc + half(c), y), (dec - half(c), y), "0.5", dashed=True)
        arrow((enc, y - box_h / 2), (enc + 1, y - 1 + box_h / 2), "#d62728")
        arrow((dec - 1, y - 1 + box_h / 2), (dec, y - box_h / 2), "#2ca02c")
    box(depth, -depth, *levels[-1], "#fdd0a2")
    arrow((2 * depth + half(levels[0][3]), 0), (2 * depth + 1.0, 0), "k")
    ax.text(2 * depth + 1.05, 0, "1x1 conv\nto classes", va="center", fontsize=7.5)
    handles = [
        Line2D([], [], color="#d62728", label="max-pool 2x2, then double 3x3 conv"),
        Line2D([], [], color="#2ca02c", label="up-conv 2x2, concatenate, double 3x3 conv"),
        Line2D([], [], color="0.5", linestyle="--", label="skip: copy and concatenate"),
    ]
    ax.legend(handles=handles, loc="lower right", fontsize=7.5, frameon=False)
    ax.set(xlim=(-0.8, 2 * depth + 1.9), ylim=(-depth - 0.7, 0.7), aspect="equal")
    ax.axis("off")
    ax.set_title(f"U-Net, depth {depth}", fontsize=10)
    return ax.figure
