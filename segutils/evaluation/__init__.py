"""Prediction, evaluation and comparison of trained models (see the submodules).

``predict_masks`` (:mod:`.predict`) is the course's one prediction function; ``evaluate``
(:mod:`.scores`) scores masks dataset-wide and per image; ``compare`` (:mod:`.table`) puts
models side by side; :mod:`.report` writes a run's report. Taught in
``notebooks/06_comparison.ipynb``.
"""

from .predict import (
    MULTIPLE,
    from_logits,
    head_rule,
    predict_masks,
    predict_probabilities,
    prepare_image,
    to_probabilities,
)
from .report import CLAIMS, conclusion, seconds_to_reach, write_report
from .scores import Evaluation, evaluate, region_scores
from .table import Table, compare, gap_exceeds_spread, run_row

__all__ = [
    "CLAIMS",
    "conclusion",
    "seconds_to_reach",
    "write_report",
    "MULTIPLE",
    "Evaluation",
    "Table",
    "compare",
    "evaluate",
    "from_logits",
    "gap_exceeds_spread",
    "head_rule",
    "predict_masks",
    "predict_probabilities",
    "prepare_image",
    "region_scores",
    "run_row",
    "to_probabilities",
]
