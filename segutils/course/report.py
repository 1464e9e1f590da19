"""The comparison's report: its conclusion written from measured numbers, and ``report.md`` with the table, data,
protocol, figures, machine, profile and versions (notebook 06's *Behind the scenes*, ``make compare``)."""

from __future__ import annotations

import csv
import math
import platform
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ..data.sources import parse_size
from ..evaluation.stats import paired_bootstrap, verdict
from ..evaluation.table import Table
from ..evaluation.writeup import WRITEUP_NAME

#: The original write-up's claims, shown beside the measured figures.
CLAIMS = {"accuracy": "U-Net 0.981 vs LinkNet 0.979 accuracy",
          "speed": "8 s (U-Net) vs 1-2 s (LinkNet) per training step, hardware unknown",
          "convergence": "LinkNet converges faster"}
#: The gaps the conclusion tests, ``(a, b, what a - b measures)``, when both models are in the table.
GAPS = (
    ("linknet", "unet", "the write-up's question"),
    ("unet-resnet34", "linknet", "the decoder's effect: the same ResNet34 encoder, U-Net's decoder against LinkNet's"),
    ("unet-resnet34", "unet", "mostly the encoder's effect: ResNet34 against U-Net's own encoder, both decoders "
     "concatenating skips (their widths differ)"),
)


def _speed(table: Table, models: list[str]) -> list[str]:
    lines = []
    for column, what, unit in (("step_s", "training step", "s"), ("latency_ms", "prediction of one image", "ms")):
        values = {m: table.mean(m, column) for m in models if column in table.columns and table.mean(m, column) > 0}
        if len(values) > 1:
            fast = min(values, key=values.get)
            lines.append(f"- **Speed ({what})**: " + ", ".join(f"{m} {v:.4g} {unit}" for m, v in values.items())
                         + f": {fast} is " + ", ".join(f"{values[m] / values[fast]:.2f}x faster than {m}"
                                                       for m in values if m != fast) + ".")
    return lines


def _writeup(table: Table, unet_filters: int | None) -> list[str]:
    rows = [m for m in table.models if m.startswith(WRITEUP_NAME)]
    if not rows or "step_s" not in table.columns:
        return []
    at = "; ".join(f"{table.mean(m, 'step_s'):.3g} s per training step, {table.mean(m, 'flops'):.1f} GFLOPs per "
                   f"image at {m.split('@')[-1].strip()}" for m in rows)
    narrower = f", not the {unet_filters}-filter U-Net trained here" if unet_filters and unet_filters != 64 else ""
    line = (f"- **The write-up's speed claim** ({CLAIMS['speed']}) concerns its U-Net: 64 filters, UpSampling2D "
            f"decoder, {table.mean(rows[0], 'parameters'):,.0f} parameters{narrower}. This machine measures {at}.")
    linknet = table.mean("linknet", "step_s") if "linknet" in table.models else math.nan
    if linknet > 0:
        line += (f" LinkNet's step at the profile's size takes {linknet:.3g} s: the write-up's U-Net is "
                 f"{table.mean(rows[0], 'step_s') / linknet:.1f}x slower here (the write-up: 4-8x).")
    return [line]


def conclusion(table: Table, per_image: dict | None = None, reach: dict[str, float] | None = None,
               target_iou: float | None = None, encoder_pretrained: bool | None = None,
               unet_filters: int | None = None) -> str:
    """Markdown conclusion of ``table`` (write-up rows: speed only), every figure read from it.

    ``per_image``: ``{model: (seeds, images) per-image test mean IoU}``, which gives each pair of :data:`GAPS` its
    gap with a 95 % paired-bootstrap interval; ``reach``: seconds to validation mean IoU ``target_iou`` per model
    (NaN: never); ``encoder_pretrained``: whether ResNet34 started from ImageNet; ``unet_filters``: the trained
    U-Net's width. Notebook 06 shows it and writes it into the report."""
    models = [m for m in table.models if not m.startswith(WRITEUP_NAME)]
    ranked = sorted(models, key=lambda m: -table.mean(m, "mean_iou"))
    lines = [
        "- **Accuracy**: test mean IoU " + ", ".join(f"{m} {table.mean(m, 'mean_iou'):.4f}" for m in ranked)
        + f". The write-up claimed {CLAIMS['accuracy']}; pixel accuracy is dominated by the larger class, "
        "mean IoU is not."
    ]
    for a, b, what in GAPS:
        if per_image and a in per_image and b in per_image:
            x, y = np.atleast_2d(per_image[a]), np.atleast_2d(per_image[b])
            n = min(len(x), len(y))
            lines.append(f"- **{a} vs {b}** ({what}): {verdict(a, b, paired_bootstrap(x[:n], y[:n]))}.")
    lines += _speed(table, models) + _writeup(table, unet_filters)
    if reach and target_iou is not None:
        reached = {m: s for m, s in reach.items() if not math.isnan(s)}
        claimed = f' The write-up claimed "{CLAIMS["convergence"]}".'
        if len(reached) > 1 and len(set(reached.values())) == 1:
            lines.append(f"- **Convergence**: {' and '.join(reached)} reached validation mean IoU {target_iou:.3f} "
                         f"after the same {next(iter(reached.values())):.1f} s: no difference at this resolution "
                         "of epochs." + claimed)
        elif reached:
            times = ", ".join(f"{m} {'never' if math.isnan(s) else f'{s:.1f} s'}" for m, s in reach.items())
            lines.append(f"- **Convergence**: {min(reached, key=reached.get)} reached validation mean IoU "
                         f"{target_iou:.3f} first ({times})." + claimed)
        else:
            lines.append(f"- **Convergence**: neither model reached validation mean IoU {target_iou:.3f}.")
    if encoder_pretrained is not None:
        lines.append("- The ResNet34 encoder was " + ("pretrained on ImageNet." if encoder_pretrained else
                     "NOT pretrained here (the ImageNet weights were unavailable or off in this profile): the figures "
                     "show the models on it from a random start, not their usual pretrained setup."))
    return "\n".join(lines)


def protocol_lines(runs: list[dict]) -> list[str]:
    """Markdown lines: the runs' shared protocol, each model's phases and seeds, then one **Not one protocol**
    line naming any other key on which the runs differ (a comparison is fair only without it)."""
    protocols = [r["protocol"] for r in runs if r.get("protocol")]
    if not protocols:
        return ["- the runs recorded no protocol (trained before protocols were recorded)"]
    keys = [k for k in protocols[0] if k not in ("seed", "phases")]
    lines = [f"- {k}: {protocols[0][k]}" for k in keys if all(p.get(k) == protocols[0][k] for p in protocols)]
    differ = sorted({k for p in protocols for k in p if k not in ("seed", "phases")
                     and any(q.get(k) != p.get(k) for q in protocols)})
    for model in dict.fromkeys(r["model"] for r in runs):
        own = [r for r in runs if r["model"] == model]
        phases, seeds = own[0].get("protocol", {}).get("phases"), sorted(r.get("seed") for r in own)
        lines.append(f"- {model}: phases {phases}, seeds {seeds}")
    if differ:
        lines.append("- **Not one protocol**: the runs differ in " + ", ".join(
            f"{k} ({sorted({str(p.get(k)) for p in protocols})})" for k in differ))
    return lines


def data_lines(runs: list[dict], splits: dict | None = None) -> list[str]:
    """The dataset the ``runs`` trained on (registry name or folder path, from their ``config``) and the split sizes
    (the runs' ``train_images``/``val_images``, then ``splits``, e.g. ``{"test": 48}``)."""
    configs = [r.get("config") or {} for r in runs]
    names = list(dict.fromkeys(str(c["dataset"]) for c in configs if c.get("dataset") is not None))
    lines = [f"- dataset: {names[0]}" if len(names) == 1 else f"- **Not one dataset**: the runs trained on {names}"
             if names else "- dataset: not recorded by the runs"]
    sizes = {k: c[f"{k}_images"] for c in configs[:1] for k in ("train", "val") if f"{k}_images" in c} | (splits or {})
    return lines + ["- split sizes: " + (", ".join(f"{k} {v}" for k, v in sizes.items()) or "not recorded")]


def write_csv(table: Table, path: str | Path) -> None:
    """``table`` as CSV, one line per model: ``model, seeds`` then ``<column>_mean, <column>_std`` for each column."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["model", "seeds"] + [f"{c}_{s}" for c in table.columns for s in ("mean", "std")])
        for m in table.models:
            cells = [v for c in table.columns for v in (table.mean(m, c), table.std(m, c))]
            writer.writerow([m, len(table.seeds[m])] + ["" if math.isnan(v) else repr(v) for v in cells])


def write_report(directory: str | Path, table: Table, figures: dict | None = None, profile: dict | None = None,
                 text: str = "", versions: dict | None = None, runs: list[dict] | None = None,
                 splits: dict | None = None) -> Path:
    """Write ``report.md`` (table, conclusion ``text``, data, protocol, figures, machine, profile, versions) and
    ``table.csv`` into ``directory`` (created); returns the path of ``report.md``.

    ``figures`` (``{name: matplotlib figure}``) are saved as ``<name>.png`` and linked; the ``runs``' dataset and
    split sizes (:func:`data_lines`) and shared protocol (:func:`protocol_lines`) are printed once.
    Notebook 06 calls it in its *Behind the scenes*.
    """
    directory = Path(directory).expanduser()
    directory.mkdir(parents=True, exist_ok=True)
    write_csv(table, directory / "table.csv")
    parts = [f"# Comparison report ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)", "", table.to_markdown(), ""]
    if runs:
        parts += ["## Data", "", *data_lines(runs, splits), ""]
        used = {str((r.get("config") or {}).get("dataset")) for r in runs}
        if profile and "dataset" in profile and str(profile["dataset"]) not in used:  # not the profile's default
            profile = {**profile, "dataset": f"{profile['dataset']} (the profile's default, not used here: see Data)"}
    if text:
        parts += ["## Conclusion", "", text, ""]
    if runs:
        parts += ["## Protocol", "", *protocol_lines(runs), ""]
    for name, fig in (figures or {}).items():
        fig.savefig(directory / f"{name}.png", dpi=100, bbox_inches="tight")
        parts += [f"![{name}]({name}.png)", ""]
    machine = f"{platform.platform()}, {platform.processor() or platform.machine()}, Python {platform.python_version()}"
    parts += ["## Machine", "", f"- {machine}", ""]
    for title, fields in (("Profile", profile), ("Versions", versions)):
        if fields:
            parts += [f"## {title}", ""] + [f"- {k}: {v}" for k, v in fields.items()] + [""]
    path = directory / "report.md"
    path.write_text("\n".join(parts))
    return path


def scoring_note(masks, size) -> str:
    """A Markdown line for the conclusion: scored at the labels' own sizes, from predictions at ``size``."""
    size = "{} x {}".format(*parse_size(size))
    sizes = sorted({tuple(np.shape(m)[:2]) for m in masks}, reverse=True)
    shown = ", ".join(f"{h} x {w}" for h, w in sizes[:3]) + (f" and {len(sizes) - 3} more" if len(sizes) > 3 else "")
    return (f"- **Scored at the labels' resolution** ({shown}): each model predicted at {size}, its "
            "probabilities were resized to each label's own size (bilinear) and thresholded there; the labels "
            "were never resized.")
