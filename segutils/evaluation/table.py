"""The comparison table of models: test metrics, training time and speed, mean +- std over seeds.
Taught in ``notebooks/06_comparison.ipynb``."""

import html
import math
import statistics

#: Columns in display order, with their headers; a column nobody filled in is left out.
COLUMNS = {"mean_iou": "mean IoU", "mean_dice": "mean Dice", "pixel_accuracy": "pixel accuracy", "v_rand": "V_rand",
           "v_info": "V_info", "train_s": "training s", "best_val_iou": "best val IoU", "best_s": "s to best val IoU",
           "step_s": "s/step", "latency_ms": "latency ms (batch 1)", "images_per_s": "images/s",
           "parameters": "parameters", "flops": "GFLOPs/image"}


def run_row(model: str, seed: int = 0, evaluation=None, record: dict | None = None, speed: dict | None = None) -> dict:
    """A row for :func:`compare` from any of one run's test ``Evaluation``, ``record`` and ``speed`` (``benchmark``).
    Taught in ``notebooks/06_comparison.ipynb``."""
    row = {"model": model, "seed": seed}
    if evaluation is not None:
        row.update(evaluation.summary())
    if record is not None:
        best = record.get("best", {})
        row.update(train_s=record.get("train_seconds"), best_val_iou=best.get("val_mean_iou"),
                   best_s=best.get("seconds"), step_s=record.get("timings", {}).get("median_step_s"))
    if speed is not None:
        row.update(latency_ms=speed["latency_ms"], images_per_s=speed["images_per_s"], parameters=speed["parameters"],
                   flops=speed["flops"] / 1e9)
    return {k: v for k, v in row.items() if v is not None}


class Table:
    """The table of :func:`run_row` rows: a line per model, each cell its seeds' mean ± std (ValueError without
    rows). Taught in ``notebooks/06_comparison.ipynb``."""

    def __init__(self, rows: list[dict], class_names=None):
        if not rows:
            raise ValueError("compare needs at least one row (see run_row)")
        self.models: list[str] = list(dict.fromkeys(r["model"] for r in rows))
        self.class_names = class_names  # per-class columns iou_<k> are headed "IoU <name>", in class order
        names = [c for r in rows for c in r if c not in ("model", "seed")]
        self.columns: list[str] = [c for c in COLUMNS if c in names] + sorted(
            {c for c in names if c not in COLUMNS}, key=lambda c: (0, int(c[4:])) if _per_class(c) else (1, c))
        self.values = {m: {c: [float(r[c]) for r in rows if r["model"] == m and c in r] for c in self.columns}
                       for m in self.models}
        self.seeds = {m: [r.get("seed", 0) for r in rows if r["model"] == m] for m in self.models}

    def mean(self, model: str, column: str) -> float:
        values = self.values[model][column]
        return statistics.fmean(values) if values else math.nan

    def std(self, model: str, column: str) -> float:
        """Sample standard deviation over seeds (NaN with one seed)."""
        values = self.values[model][column]
        return statistics.stdev(values) if len(values) > 1 else math.nan

    def cell(self, model: str, column: str) -> str:
        mean, std = self.mean(model, column), self.std(model, column)
        if math.isnan(mean):
            return ""
        fmt = "{:,.0f}" if column == "parameters" or abs(mean) >= 100 else "{:.4f}" if abs(mean) < 1 else "{:.2f}"
        return fmt.format(mean) + ("" if math.isnan(std) else " ± " + fmt.format(std))

    def _title(self, column: str) -> str:
        if _per_class(column) and self.class_names is not None and int(column[4:]) < len(self.class_names):
            return f"IoU {self.class_names[int(column[4:])]}"
        return COLUMNS.get(column, column.replace("_", " "))

    def header(self) -> list[str]:
        return ["model", "seeds"] + [self._title(c) for c in self.columns]

    def body(self) -> list[list[str]]:
        return [[m, str(len(self.seeds[m]))] + [self.cell(m, c) for c in self.columns] for m in self.models]

    def to_markdown(self) -> str:
        lines = ["| " + " | ".join(self.header()) + " |", "|---|---:|" + "---:|" * len(self.columns)]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in self.body()])

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.header())
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>" for row in self.body())
        return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"

    def __str__(self) -> str:
        return self.to_markdown()


def _per_class(column: str) -> bool:
    return column.startswith("iou_") and column[4:].isdigit()


#: ``compare(rows)``: the comparison table of :func:`run_row` rows.
compare = Table
