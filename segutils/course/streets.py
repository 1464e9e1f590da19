"""Notebook 08's plumbing: the class-weights experiment's table and check, the budget's limits, the paper's figures.

Course machinery (``notebooks/08_street_scenes.ipynb`` calls it); the lessons themselves use ``segutils``.
"""

from __future__ import annotations

import math

import numpy as np

from .. import config

#: What the LinkNet paper states about itself, quoted (Chaurasia & Culurciello 2017, "LinkNet: Exploiting Encoder
#: Representations for Efficient Semantic Segmentation", arXiv:1707.03718). Its CamVid per-class table and training
#: conditions are not copied here: read them in the paper.
LINKNET_PAPER = {
    "source": "Chaurasia & Culurciello 2017, arXiv:1707.03718; parameters and GFLOPs from its abstract",
    "encoder": "ResNet18, pretrained on ImageNet",
    "parameters": "11.5 M",
    "gflops": "21.2 GFLOPs for an image of 3 x 640 x 360",
    "hardware": "NVIDIA Titan X and Jetson TX1 (GPUs)",
    "claim": "state-of-the-art accuracy on CamVid and Cityscapes at real-time speed",
}


def rare_classes(shares, ignore_index: int | None = None, k: int = 4) -> list[int]:
    """The ``k`` classes with the smallest pixel share (the ignored class left out), rarest first."""
    order = [int(c) for c in np.argsort(np.asarray(shares, float), kind="stable") if c != ignore_index]
    return order[:k]


def normalised_alpha(weights, ignore_index: int | None = None, mean: float = 0.25) -> list[float]:
    """Per-class focal ``alpha`` in the proportions of ``weights`` (ENet's), averaging ``mean`` over counted classes.

    The course's focal loss weighs every class by 0.25; scaled this way the weighted loss keeps that average, so
    only the balance between the classes changes, not the loss's size beside the Dice term.
    """
    weights = np.asarray(weights, float)
    counted = np.arange(len(weights)) != (-1 if ignore_index is None else ignore_index)
    return (weights * mean / weights[counted].mean()).tolist()


def weights_effect(plain, weighted, shares, names, ignore_index: int | None = None, k: int = 4) -> dict:
    """The class-weights experiment: test IoU of the ``k`` rarest classes without and with the weights.

    ``plain``, ``weighted``: per-class test IoU ``(K,)`` of the same model trained without and with them.
    Returns ``rows`` (``name, share, plain, weighted, change``), ``rare_plain``, ``rare_weighted`` (mean IoU of the
    rare classes, NaN ones left out), ``change`` and ``verdict``: "helped", "hurt" or "changed nothing measurable"
    (within 0.005).
    """
    plain, weighted = np.asarray(plain, float), np.asarray(weighted, float)
    if plain.shape != weighted.shape or plain.shape != np.shape(shares):
        raise ValueError(f"give one IoU per class for both runs and one share per class, got {plain.shape}, "
                         f"{weighted.shape} and {np.shape(shares)}")
    rare = rare_classes(shares, ignore_index, k)
    rows = [dict(name=names[c], share=float(shares[c]), plain=float(plain[c]), weighted=float(weighted[c]),
                 change=float(weighted[c] - plain[c])) for c in rare]
    both = [c for c in rare if not (math.isnan(plain[c]) or math.isnan(weighted[c]))]
    before = float(np.mean(plain[both])) if both else math.nan
    after = float(np.mean(weighted[both])) if both else math.nan
    change = after - before
    verdict = "changed nothing measurable" if not abs(change) > 0.005 else "helped" if change > 0 else "hurt"
    return dict(rows=rows, rare_plain=before, rare_weighted=after, change=change, verdict=verdict)


def budget_lines(record: dict, profile: config.Profile, full_size) -> list[str]:
    """What limits a run's figures, read from its ``record``, and what the ``gpu`` profile changes."""
    protocol, cfg = record.get("protocol", {}), record.get("config", {})
    size = " x ".join(str(s) for s in protocol.get("image_size") or cfg.get("img_size") or [])
    gpu = config.get("gpu").streets
    pretrained = cfg.get("encoder_pretrained")
    lines = [f"resolution: the models saw {size} pixels (the labels are {full_size[0]} x {full_size[1]})",
             f"steps: {protocol.get('budget_steps')} optimizer steps of {protocol.get('batch_size')} images "
             f"({record.get('train_seconds', 0):.0f} s of training)",
             "encoder: " + ("pretrained on ImageNet" if pretrained else
                            "NOT pretrained: a random ResNet34 (the ImageNet weights are unavailable here)"
                            if pretrained is False else "U-Net's own, trained from scratch")]
    if profile.name != "gpu":
        lines.append(f"the gpu profile trains at {gpu.img_size[0]} x {gpu.img_size[1]} (padded to multiples of 32), "
                     f"{gpu.epochs * gpu.steps_per_epoch} steps of {gpu.batch_size} images, {gpu.seeds} seeds, "
                     f"U-Net with {gpu.unet_filters} filters, the encoder pretrained when the weights download")
    return lines
