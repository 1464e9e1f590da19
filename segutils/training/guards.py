"""What ``fit`` checks before its first step (``training.Run`` calls these), each in one line naming the fix."""

import warnings

import numpy as np
import tensorflow as tf

from .. import _compat


class AbsentClassesWarning(UserWarning):
    """``num_classes`` counts classes that no mask of a split holds."""


def check_dataset_type(ds, name: str = "train_ds", none_ok: bool = False) -> None:
    """TypeError unless ``ds`` is a ``tf.data.Dataset`` (or ``None`` when ``none_ok``)."""
    if not (isinstance(ds, tf.data.Dataset) or (ds is None and none_ok)):
        got = type(ds).__name__ + (" (NumPy arrays?)" if isinstance(ds, (tuple, list, np.ndarray)) else "")
        raise TypeError(f"{name} must be a tf.data.Dataset of (image, mask) batches, got a {got}: make one with "
                        "segutils.data.make_dataset(split, img_size, batch_size), or "
                        "tf.data.Dataset.from_tensor_slices((images, masks)).batch(8)")


def absent_classes(ds, num_classes: int, ignore_index: int | None = None) -> list[int]:
    """Classes (0 and 1 for a one-channel head) no mask of one pass over ``(images, masks)`` holds; a repeated ``ds``
    is read through what it repeats (none are named when no finite dataset is found under it)."""
    ds, present = _compat.finite_input(ds), set()
    for element in [] if ds is None else ds.as_numpy_iterator():
        present.update(np.unique(element[1]).tolist())
    return [c for c in range(max(num_classes, 2)) if ds is not None and c not in present and c != ignore_index]


def warn_absent_classes(num_classes: int, ignore_index: int | None = None, **splits) -> dict[str, list[int]]:
    """Warn naming the classes each split (``train=ds, val=ds``) never holds; returns them per split."""
    found = {name: absent_classes(ds, num_classes, ignore_index) for name, ds in splits.items() if ds is not None}
    for name, absent in ((n, a) for n, a in found.items() if a):
        warnings.warn(f"num_classes={num_classes}, but no {name} mask holds class(es) {absent}: their IoU is 0 or "
                      "undefined and the mean IoU is averaged over them. Pass the number of classes your masks hold, "
                      "or check the masks' encoding (a palette, 0/255 values).", AbsentClassesWarning, stacklevel=2)
    return found
