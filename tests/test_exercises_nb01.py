"""Exercise checks of notebook 01 accept the solution and reject wrong answers with a hint."""

from dataclasses import replace

import numpy as np
import pytest

from segutils.course.exercises import nb01
from segutils.data import AugmentConfig, MaskFormat, load, make_dataset
from segutils.data.augment import GEOMETRY_ONLY, IDENTITY
from segutils.data.pipeline import resize_image


def test_invented_solution_is_what_bilinear_resizing_makes():
    one_three = np.where(np.arange(64)[None, :] >= 32, 3, 1).repeat(8, axis=0).astype(np.uint8)
    resized = resize_image(one_three[..., None], (8, 45), "bilinear").numpy()
    solution = set(np.unique(np.rint(resized)).astype(int).tolist()) - {1, 3}
    assert solution == {2}
    assert nb01.check_invented(solution) is None


@pytest.mark.parametrize(
    "wrong, hint",
    [
        ({1, 2}, "were in the mask before"),
        (set(), "what can a blend round to"),
        ({2, 4}, "between 1 and 3"),
        ([2], "Store a set"),
        ({2.0}, "Store a set"),
    ],
)
def test_invented_hints(wrong, hint):
    assert hint in nb01.check_invented(wrong)
    assert "{2}" not in nb01.check_invented(wrong)


@pytest.fixture(scope="module")
def val():
    return load("shapes", "val", subset=4, seed=0)


def test_eval_dataset_solution(val):
    solution = make_dataset(val, 64, 2, training=False, masks=MaskFormat(one_hot=True))
    assert nb01.check_eval_dataset(solution, val, 64, val.info.num_classes) is None


def test_eval_dataset_hints(val):
    k = val.info.num_classes

    def hint(ds):
        return nb01.check_eval_dataset(ds, val, 64, k)

    assert hint([1, 2]) == "Store the tf.data.Dataset that make_dataset returns."
    assert hint(make_dataset(val, 64, 4, training=False, masks=MaskFormat(one_hot=True))) == (
        "Batches hold 4 images; the exercise asks for batches of 2."
    )
    assert "evaluate at IMG_SIZE" in hint(make_dataset(val, 32, 2, training=False, masks=MaskFormat(one_hot=True)))
    assert "one channel per class" in hint(make_dataset(val, 64, 2, training=False))
    one_hot = MaskFormat(one_hot=True)
    assert "neither shuffle nor augment" in hint(make_dataset(val, 64, 2, training=True, masks=one_hot))
    train = load("shapes", "train", subset=4, seed=0)
    assert "build it on the val split" in hint(make_dataset(train, 64, 2, training=False, masks=one_hot))


def test_strong_elastic_solution_and_hints():
    assert AugmentConfig().elastic_sigma == 10.0
    assert nb01.check_strong_elastic(replace(IDENTITY, elastic=True, elastic_sigma=30.0)) is None
    assert "switched off" in nb01.check_strong_elastic(replace(IDENTITY, elastic_sigma=30.0))
    assert "the paper's strength" in nb01.check_strong_elastic(replace(IDENTITY, elastic=True))
    assert "multiply the paper's" in nb01.check_strong_elastic(replace(IDENTITY, elastic=True, elastic_sigma=40.0))
    too_much = nb01.check_strong_elastic(replace(GEOMETRY_ONLY, elastic=True, elastic_sigma=30.0))
    assert too_much.startswith("Nothing else should change, but crop_scale, flip_horizontal")
    assert "start from IDENTITY" in too_much
    assert "AugmentConfig" in nb01.check_strong_elastic({"elastic": True})
    for wrong in (replace(IDENTITY, elastic=True), replace(IDENTITY, elastic=True, elastic_sigma=40.0)):
        assert "30" not in nb01.check_strong_elastic(wrong)
