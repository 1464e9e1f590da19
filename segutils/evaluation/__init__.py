"""Evaluation and comparison of trained models (see the submodules).

``evaluate`` (:mod:`.scores`) scores masks dataset-wide and per image; ``compare`` (:mod:`.table`)
puts models side by side; :mod:`.report` writes the conclusion. Prediction itself is
:mod:`segutils.predict`. Taught in ``notebooks/06_comparison.ipynb``.
"""

from .report import CLAIMS, conclusion, time_to_reach, write_report
from .scores import Evaluation, evaluate, region_scores
from .table import Table, compare, gap_exceeds_spread, run_row

__all__ = ["CLAIMS", "Evaluation", "Table", "compare", "conclusion", "evaluate", "gap_exceeds_spread",
           "region_scores", "run_row", "time_to_reach", "write_report"]  # fmt: skip
#: Names that moved to :mod:`segutils.predict` (and how they are spelled there).
MOVED = {name: name for name in ("MULTIPLE", "head_rule", "predict_masks", "predict_probabilities",
                                 "prepare_image", "to_probabilities")} | {"from_logits": "ends_in_logits"}  # fmt: skip


def __getattr__(name: str):
    if name in MOVED:
        raise ImportError(f"segutils.evaluation.{name} moved to segutils.predict.{MOVED[name]}: "
                          f"from segutils.predict import {MOVED[name]}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
