"""Evaluation of trained models: scores, the comparison table, a bootstrap test of a gap, scores at the labels'
size, the write-up's U-Net timed. Prediction is :mod:`segutils.predict`. Taught in ``notebooks/06_comparison.ipynb``."""

from .scores import Evaluation, evaluate, masks_at_label_size, region_scores, to_label_size
from .stats import MIN_TEST_IMAGES, TOO_FEW, class_winners, decision, paired_bootstrap, per_class_bootstrap, verdict
from .table import Table, compare, run_row
from .writeup import WRITEUP_NAME, build_writeup_unet, writeup_rows
