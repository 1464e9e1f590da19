"""The synthetic shapes dataset: deterministic, every class present, right dtypes, fast."""


import numpy as np
import pytest

from segutils.data.shapes import CLASS_NAMES, make_shapes


def test_same_seed_gives_identical_arrays_and_another_seed_does_not():
    a_img, a_mask = make_shapes(6, 48, seed=7)
    b_img, b_mask = make_shapes(6, 48, seed=7)
    c_img, c_mask = make_shapes(6, 48, seed=8)
    np.testing.assert_array_equal(a_img, b_img)
    np.testing.assert_array_equal(a_mask, b_mask)
    assert not np.array_equal(a_img, c_img)
    assert not np.array_equal(a_mask, c_mask)


@pytest.mark.parametrize("size, shape", [(32, (32, 32)), ((40, 72), (40, 72)), (1, (1, 1))])
def test_dtype_and_shape(size, shape):
    images, masks = make_shapes(3, size, seed=0)
    assert images.dtype == np.uint8 and masks.dtype == np.uint8
    assert images.shape == (3, *shape, 3)
    assert masks.shape == (3, *shape)


def test_every_class_is_present_in_any_three_images():
    assert CLASS_NAMES == ("background", "circle", "square", "triangle")
    _, masks = make_shapes(3, 64, seed=123)
    assert set(np.unique(masks)) == {0, 1, 2, 3}
    for mask in masks:  # every image has at least one shape and some background
        assert mask.max() > 0 and (mask == 0).any()


def test_shapes_differ_from_their_background():
    images, masks = make_shapes(8, 64, seed=1)
    for image, mask in zip(images, masks, strict=True):
        inside = image[mask > 0].astype(float).mean(0)
        outside = image[mask == 0].astype(float).mean(0)
        assert np.abs(inside - outside).max() > 20


def test_zero_images_and_bad_sizes():
    images, masks = make_shapes(0, 16, seed=0)
    assert images.shape == (0, 16, 16, 3) and masks.shape == (0, 16, 16)
    with pytest.raises(ValueError, match="positive size"):
        make_shapes(2, 0, seed=0)
