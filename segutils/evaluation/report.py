"""The comparison's conclusion written from measured numbers, and the report file of a run.

Taught in ``notebooks/06_comparison.ipynb``.
"""

from __future__ import annotations

import math
import platform
from datetime import UTC, datetime
from pathlib import Path

from .table import Table, gap_exceeds_spread

#: The original write-up's claims, shown beside the measured figures.
CLAIMS = {
    "accuracy": "U-Net 0.981 vs LinkNet 0.979 accuracy",
    "speed": "8 s (U-Net) vs 1-2 s (LinkNet) per training step, hardware unknown",
    "convergence": "LinkNet converges faster",
}


def time_to_reach(record: dict, target: float, metric: str = "val_mean_iou") -> tuple[float, float]:
    """``(epoch, seconds)``: the first epoch (from 1) and the wall-clock training seconds at which the run's
    ``metric`` reached ``target`` (``>=``); ``(nan, nan)`` when it never did.

    Taught in ``notebooks/06_comparison.ipynb``.
    """
    history = record.get("history", {}).get(metric, [])
    for epoch, (value, elapsed) in enumerate(zip(history, record.get("elapsed", []), strict=False), 1):
        if value >= target:
            return float(epoch), float(elapsed)
    return math.nan, math.nan


def conclusion(
    table: Table,
    reach: dict[str, float] | None = None,
    target_iou: float | None = None,
    encoder_pretrained: bool | None = None,
) -> str:
    """Markdown conclusion of a two-model table, every figure read from it.

    Args:
        table: :func:`~segutils.evaluation.compare`'s table with two models.
        reach: seconds each model took to reach ``target_iou`` on validation (NaN: never).
        target_iou: the validation mean IoU ``reach`` refers to.
        encoder_pretrained: whether LinkNet's encoder started from ImageNet weights.
    """
    a, b = table.models
    ma, mb = table.mean(a, "mean_iou"), table.mean(b, "mean_iou")
    better, worse = (a, b) if ma >= mb else (b, a)
    lines = [
        f"- **Accuracy**: {better} has the higher test mean IoU, {max(ma, mb):.4f} against "
        f"{min(ma, mb):.4f} (a gap of {abs(ma - mb):.4f}). The write-up claimed {CLAIMS['accuracy']}; "
        "pixel accuracy is dominated by the larger class, mean IoU is not."
    ]
    spread = gap_exceeds_spread(table, "mean_iou")
    if spread is None:
        lines.append(
            "- **Seeds**: one seed per model, so there is no spread to compare the gap with: "
            "run with more `SEEDS` before trusting the ordering."
        )
    else:
        lines.append(
            f"- **Seeds**: the gap {'exceeds' if spread else 'does not exceed'} the spread across "
            f"seeds (sum of the two standard deviations)."
        )
    for column, what in (("step_s", "training step"), ("latency_ms", "prediction of one image")):
        if column in table.columns:
            sa, sb = table.mean(a, column), table.mean(b, column)
            if sa > 0 and sb > 0:
                fast, slow = (a, b) if sa <= sb else (b, a)
                lines.append(
                    f"- **Speed ({what})**: {fast} is {max(sa, sb) / min(sa, sb):.2f}x faster than {slow} "
                    f"({sa:.4g} vs {sb:.4g} {'s' if column == 'step_s' else 'ms'} for {a} vs {b})."
                    + (f" The write-up claimed {CLAIMS['speed']}." if column == "step_s" else "")
                )
    if reach and target_iou is not None:
        reached = {m: s for m, s in reach.items() if not math.isnan(s)}
        if len(reached) > 1 and len(set(reached.values())) == 1:
            lines.append(
                f"- **Convergence**: both models reached validation mean IoU {target_iou:.3f} after the "
                f"same {next(iter(reached.values())):.1f} s: no difference at this resolution of epochs. "
                f'The write-up claimed "{CLAIMS["convergence"]}".'
            )
        elif reached:
            first = min(reached, key=reached.get)
            times = ", ".join(f"{m} {'never' if math.isnan(s) else f'{s:.1f} s'}" for m, s in reach.items())
            lines.append(
                f"- **Convergence**: {first} reached validation mean IoU {target_iou:.3f} first ({times}). "
                f'The write-up claimed "{CLAIMS["convergence"]}".'
            )
        else:
            lines.append(f"- **Convergence**: neither model reached validation mean IoU {target_iou:.3f}.")
    if encoder_pretrained is not None:
        lines.append(
            "- LinkNet's encoder was "
            + (
                "pretrained on ImageNet."
                if encoder_pretrained
                else "NOT pretrained here (the ImageNet weights were unavailable or off in this profile): "
                "the figures show LinkNet's architecture from a random start, not its usual pretrained setup."
            )
        )
    return "\n".join(lines)


def write_report(
    directory: str | Path,
    table: Table,
    figures: dict | None = None,
    profile: dict | None = None,
    text: str = "",
    versions: dict | None = None,
) -> Path:
    """Write ``report.md`` (table, conclusion, figures as PNG, machine, profile, versions) and ``table.csv``.

    Args:
        directory: where to write (created).
        table: the comparison table.
        figures: ``{name: matplotlib figure}``, saved as ``<name>.png`` and linked.
        profile: the profile's fields.
        text: the conclusion (Markdown).
        versions: package versions to list.

    Returns:
        The path of ``report.md``. Taught in ``notebooks/06_comparison.ipynb``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    table.to_csv(directory / "table.csv")
    parts = [f"# Comparison report ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)", "", table.to_markdown(), ""]
    if text:
        parts += ["## Conclusion", "", text, ""]
    for name, fig in (figures or {}).items():
        fig.savefig(directory / f"{name}.png", dpi=100, bbox_inches="tight")
        parts += [f"![{name}]({name}.png)", ""]
    parts += [
        "## Machine",
        "",
        f"- {platform.platform()}, {platform.processor() or platform.machine()}, Python {platform.python_version()}",
        "",
    ]
    if profile:
        parts += ["## Profile", ""] + [f"- {k}: {v}" for k, v in profile.items()] + [""]
    if versions:
        parts += ["## Versions", ""] + [f"- {k}: {v}" for k, v in versions.items()] + [""]
    path = directory / "report.md"
    path.write_text("\n".join(parts))
    return path
