"""Checks ``fit`` makes before the first step: the datasets' type, a training set that yields nothing, classes
the masks never hold, a run folder that cannot be written. Each raises (or warns) in one line naming the fix.

Taught in ``notebooks/05_training.ipynb``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import tensorflow as tf

from ..checks import writable


class AbsentClassesWarning(UserWarning):
    """``num_classes`` counts classes that no mask of a split holds: the mean IoU is averaged over them."""


def check_dataset_type(ds, name: str = "train_ds", none_ok: bool = False) -> None:
    """TypeError unless ``ds`` is a ``tf.data.Dataset`` (or ``None`` when ``none_ok``), naming how to make one."""
    if isinstance(ds, tf.data.Dataset) or (ds is None and none_ok):
        return
    got = type(ds).__name__ + (" (NumPy arrays?)" if isinstance(ds, (tuple, list, np.ndarray)) else "")
    raise TypeError(f"{name} must be a tf.data.Dataset of (image, mask) batches, got a {got}: make one with "
                    "segutils.data.make_dataset(split, img_size, batch_size), or "
                    "tf.data.Dataset.from_tensor_slices((images, masks)).batch(8)")


def _chain(ds) -> list:
    """``ds`` and the datasets it reads, outermost first (through map, batch, repeat, filter, prefetch ...)."""
    chain = [ds]
    while getattr(chain[-1], "_input_dataset", None) is not None:
        chain.append(chain[-1]._input_dataset)
    return chain


def one_pass(ds):
    """``ds`` when finite; for a repeated dataset, what it repeats; ``None`` when it cannot tell (a generator)."""
    if ds.cardinality() != tf.data.INFINITE_CARDINALITY:
        return ds
    return next((d._input_dataset for d in _chain(ds) if type(d).__name__ == "_RepeatDataset"), None)


def check_yields(ds, name: str = "train_ds") -> None:
    """ValueError when ``ds`` yields no element: a ``filter`` that drops everything or a ``take(0)`` (repeated, Keras
    would wait for the first batch for ever). A generator that never yields cannot be told apart from a slow one."""
    finite = one_pass(ds)
    if finite is None or finite.cardinality() > 0:
        return
    if next(iter(finite.take(1)), None) is None:
        kinds = [type(d).__name__.strip("_").removesuffix("Dataset").lower() for d in _chain(finite)]
        culprit = next((k for k in kinds if k in ("filter", "take", "skip", "shard")), None)
        where = f"its {culprit}() leaves nothing" if culprit else "it is empty"
        raise ValueError(f"{name} yields no batch ({where}; chain: {' <- '.join(kinds)}), so training would wait "
                         "for ever: check the filter/take predicate and the split, e.g. "
                         "len(list(ds.take(1))) == 1 before .repeat()")


def absent_classes(ds, num_classes: int, ignore_index: int | None = None) -> list[int]:
    """Classes ``0 .. num_classes - 1`` (both of a one-channel head) that no mask of one pass over ``ds`` holds;
    ``ds`` yields ``(images, masks)``; a repeated dataset is read once through; ``[]`` when it cannot tell."""
    finite = one_pass(ds)
    if finite is None:
        return []
    present: set[int] = set()
    for element in finite.as_numpy_iterator():
        present.update(np.unique(element[1]).tolist())
    return [c for c in range(max(num_classes, 2)) if c not in present and c != ignore_index]


def warn_absent_classes(num_classes: int, ignore_index: int | None = None, **splits) -> dict[str, list[int]]:
    """Warn (:class:`AbsentClassesWarning`) naming the classes each split (``train=ds, val=ds``) never holds;
    returns them per split."""
    found = {name: absent_classes(ds, num_classes, ignore_index) for name, ds in splits.items() if ds is not None}
    for name, absent in found.items():
        if absent:
            warnings.warn(f"num_classes={num_classes}, but no {name} mask holds class(es) {absent}: their IoU is 0 "
                          "or undefined and the mean IoU is averaged over them. Pass the number of classes your "
                          "masks hold, or check the masks' encoding (a palette, 0/255 values).",
                          AbsentClassesWarning, stacklevel=2)
    return found


def check_writable(folder) -> Path:
    """The run folder, created; OSError naming it, why (read-only, a file in the way) and the fix otherwise."""
    return writable(folder, "the training run")
