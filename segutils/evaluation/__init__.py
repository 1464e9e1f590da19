"""Evaluation and comparison of trained models (see the submodules).

``evaluate`` (:mod:`.scores`) scores masks dataset-wide and per image; ``compare`` (:mod:`.table`) puts models side
by side; :mod:`.stats` tests a gap (paired bootstrap); :mod:`.resolution` scores at the labels' size;
:mod:`.writeup` times the write-up's U-Net; :mod:`.report` writes the conclusion. Prediction itself is
:mod:`segutils.predict`. Taught in ``notebooks/06_comparison.ipynb``.
"""

from .report import CLAIMS, conclusion, time_to_reach, write_report
from .resolution import masks_at_label_size, scoring_note, to_label_size
from .scores import Evaluation, evaluate, region_scores
from .stats import paired_bootstrap, verdict
from .table import Table, compare, run_row
from .writeup import WRITEUP_NAME, build_writeup_unet, writeup_rows

__all__ = ["CLAIMS", "Evaluation", "Table", "WRITEUP_NAME", "build_writeup_unet", "compare", "conclusion", "evaluate",
           "masks_at_label_size", "paired_bootstrap", "region_scores", "run_row", "scoring_note", "time_to_reach",
           "to_label_size", "verdict", "write_report", "writeup_rows"]  # fmt: skip
#: Names that moved to :mod:`segutils.predict` (and how they are spelled there).
MOVED = {name: name for name in ("MULTIPLE", "head_rule", "predict_masks", "predict_probabilities",
                                 "prepare_image", "to_probabilities")} | {"from_logits": "ends_in_logits"}  # fmt: skip


def __getattr__(name: str):
    if name in MOVED:
        raise ImportError(f"segutils.evaluation.{name} moved to segutils.predict.{MOVED[name]}: "
                          f"from segutils.predict import {MOVED[name]}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
