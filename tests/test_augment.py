"""Joint augmentation: image and mask stay aligned, photometric ops leave masks alone, seeds reproduce."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from segutils.data.augment import (
    GEOMETRY_ONLY,
    IDENTITY,
    AugmentConfig,
    augment,
    crop_window,
    elastic,
    photometric,
    random_crop,
)
from segutils.data.shapes import make_shapes

K = 4  # shapes classes


def colour_coded(size=96, seed=0):
    """An image whose channel k is 1 where the mask is k: the mask is argmax of the image."""
    _, masks = make_shapes(1, size, seed=seed)
    mask = masks[0].astype(np.int32)
    image = np.eye(K, dtype=np.float32)[mask]
    return tf.constant(image), tf.constant(mask[..., None])


def agreement(image, mask) -> float:
    """Share of pixels where the mask equals the class read back from the (augmented) image."""
    derived = np.argmax(image.numpy(), axis=-1)
    return float(np.mean(derived == mask.numpy()[..., 0]))


@pytest.mark.parametrize("seed", [(0, 1), (2, 3), (4, 5), (6, 7)])
def test_flips_and_rotations_keep_image_and_mask_exactly_aligned(seed):
    image, mask = colour_coded()
    config = dataclasses.replace(GEOMETRY_ONLY, crop_scale=1.0)
    out_image, out_mask = augment(image, mask, seed, config)
    assert agreement(out_image, out_mask) == 1.0
    assert out_image.shape == image.shape and out_mask.dtype == tf.int32


@pytest.mark.parametrize(
    "config",
    [GEOMETRY_ONLY, dataclasses.replace(GEOMETRY_ONLY, elastic=True, elastic_sigma=40.0)],
    ids=["crop", "crop+elastic"],
)
def test_crop_and_elastic_keep_alignment_up_to_boundary_pixels(config):
    image, mask = colour_coded()
    for seed in [(0, 1), (5, 9), (11, 3)]:
        out_image, out_mask = augment(image, mask, seed, config)
        assert not np.array_equal(out_mask.numpy(), mask.numpy())  # something moved
        assert agreement(out_image, out_mask) > 0.99
        assert set(np.unique(out_mask)) <= set(np.unique(mask))  # nearest: no invented classes


def test_elastic_moves_pixels_smoothly_and_masks_keep_their_values():
    image, mask = colour_coded(seed=3)
    out_image, out_mask = elastic(image, mask, tf.constant([1, 2]), grid=3, sigma=40.0)
    changed = np.mean(out_mask.numpy() != mask.numpy())
    assert 0 < changed < 0.2
    assert agreement(out_image, out_mask) > 0.99
    assert set(np.unique(out_mask)) <= set(np.unique(mask))


def test_zero_displacement_is_the_identity():
    image, mask = colour_coded(seed=3)
    out_image, out_mask = elastic(image, mask, tf.constant([1, 2]), sigma=0.0)
    np.testing.assert_allclose(out_image.numpy(), image.numpy(), atol=1e-6)
    np.testing.assert_array_equal(out_mask.numpy(), mask.numpy())


def test_random_crop_zooms_in_and_keeps_the_size():
    image, mask = colour_coded(seed=4)
    out_image, out_mask = random_crop(image, mask, tf.constant([3, 1]), min_scale=0.5)
    assert out_image.shape == image.shape and out_mask.shape == mask.shape
    assert agreement(out_image, out_mask) > 0.99
    same, _ = random_crop(image, mask, tf.constant([3, 1]), min_scale=1.0)
    np.testing.assert_allclose(same.numpy(), image.numpy(), atol=1e-6)


def test_elastic_with_a_window_crops_like_random_crop_in_one_resampling():
    image, mask = colour_coded(seed=6)
    seed = tf.constant([3, 4], tf.int64)
    window = crop_window(seed, tf.shape(image)[:2], 0.7)
    cropped = random_crop(image, mask, seed, 0.7)
    warped = elastic(image, mask, seed, sigma=0.0, window=window)
    np.testing.assert_array_equal(warped[1].numpy(), cropped[1].numpy())
    # Inside, identical; on the window's edge random_crop repeats its last pixel, elastic reads the neighbour.
    np.testing.assert_allclose(warped[0].numpy()[1:-1, 1:-1], cropped[0].numpy()[1:-1, 1:-1], atol=1e-5)


def test_crop_plus_elastic_is_as_aligned_as_either_alone():
    image, mask = colour_coded(seed=7)
    for seed in [(0, 1), (1, 2)]:
        both = augment(image, mask, seed, dataclasses.replace(IDENTITY, crop_scale=0.7, elastic=True))
        assert agreement(*both) > 0.995


def test_photometric_changes_the_image_only():
    image, mask = colour_coded()
    image = image[..., :3] * 0.8 + 0.1
    config = dataclasses.replace(IDENTITY, brightness=0.2, contrast=0.3, gamma=0.3)
    out_image, out_mask = augment(image, mask, (3, 4), config)
    np.testing.assert_array_equal(out_mask.numpy(), mask.numpy())
    assert not np.allclose(out_image.numpy(), image.numpy())
    assert 0.0 <= float(tf.reduce_min(out_image)) and float(tf.reduce_max(out_image)) <= 1.0
    alone = photometric(image, tf.constant([7, 7]), config)
    assert alone.shape == image.shape


def test_same_seed_reproduces_and_another_seed_differs():
    image, mask = colour_coded()
    config = AugmentConfig(elastic=True)
    a = augment(image, mask, (1, 2), config)
    b = augment(image, mask, (1, 2), config)
    c = augment(image, mask, (1, 3), config)
    np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())
    np.testing.assert_array_equal(a[1].numpy(), b[1].numpy())
    assert not np.array_equal(a[0].numpy(), c[0].numpy())


def test_graph_mode_matches_eager_mode():
    image, mask = colour_coded()
    config = AugmentConfig(elastic=True)
    graph = tf.function(lambda x, m, s: augment(x, m, s, config))
    eager = augment(image, mask, tf.constant([5, 6]), config)
    traced = graph(image, mask, tf.constant([5, 6]))
    np.testing.assert_allclose(traced[0].numpy(), eager[0].numpy(), atol=1e-5)
    np.testing.assert_array_equal(traced[1].numpy(), eager[1].numpy())


def test_non_square_images_keep_their_shape():
    _, masks = make_shapes(1, (32, 64), seed=0)
    mask = tf.constant(masks[0][..., None].astype(np.int32))
    image = tf.constant(np.eye(K, dtype=np.float32)[masks[0]])
    for seed in range(6):
        out_image, out_mask = augment(image, mask, (seed, 0), GEOMETRY_ONLY)
        assert out_image.shape == (32, 64, K) and out_mask.shape == (32, 64, 1)


def test_config_is_frozen_and_validated():
    config = AugmentConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.elastic = True
    with pytest.raises(ValueError, match="crop_scale"):
        AugmentConfig(crop_scale=0.0)
    with pytest.raises(ValueError, match="elastic_grid"):
        AugmentConfig(elastic_grid=1)
