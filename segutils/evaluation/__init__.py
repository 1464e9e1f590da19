"""Evaluation of trained models: scores, the comparison table, a bootstrap test of a gap, scores at the labels'
size, the write-up's U-Net timed. Prediction is :mod:`segutils.predict`. Taught in ``notebooks/06_comparison.ipynb``."""

from .resolution import masks_at_label_size, to_label_size
from .scores import Evaluation, evaluate, region_scores
from .stats import MIN_TEST_IMAGES, TOO_FEW, class_winners, decision, paired_bootstrap, per_class_bootstrap, verdict
from .table import Table, compare, run_row
from .writeup import WRITEUP_NAME, build_writeup_unet, writeup_rows

__all__ = ["Evaluation", "MIN_TEST_IMAGES", "TOO_FEW", "Table", "WRITEUP_NAME", "build_writeup_unet", "class_winners",
           "compare", "decision", "evaluate", "masks_at_label_size", "paired_bootstrap", "per_class_bootstrap",
           "region_scores", "run_row", "to_label_size", "verdict", "writeup_rows"]
