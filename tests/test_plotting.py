"""Pictures: hand-checked pixel values of overlays, outlines, class shares and the augmentation grid."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from segutils import plotting  # noqa: E402
from segutils.data.augment import IDENTITY  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_pixel_share_is_hand_computed():
    masks = [np.array([[0, 0], [1, 2]]), np.array([[2, 2], [2, 2]])]
    np.testing.assert_allclose(plotting.pixel_share(masks, 3), [2 / 8, 1 / 8, 5 / 8])
    with pytest.raises(ValueError, match=r"^mask values 0\.\.255 are not classes 0\.\.1 \(num_classes=2\): map mask "
                       r"values to class indices \(0/255 masks to 0/1\)"):  # not a share of 1.0 for class 0
        plotting.pixel_share([np.array([[0, 255], [0, 255]])], 2)


def test_outline_paints_only_class_boundaries():
    image = np.full((4, 4), 51, np.uint8)  # 0.2 grey
    mask = np.zeros((4, 4), np.uint8)
    mask[:, 2:] = 1
    rgb = plotting.outline(image, mask)
    assert rgb.shape == (4, 4, 3)
    np.testing.assert_allclose(rgb[:, 2], np.tile([1.0, 0.0, 1.0], (4, 1)))  # first column of class 1
    np.testing.assert_allclose(rgb[:, [0, 1, 3]], 0.2, atol=1e-6)


def test_overlay_leaves_background_and_blends_classes():
    image = np.zeros((1, 2, 3), np.float32)
    out = plotting.overlay(image, np.array([[0, 1]]), alpha=0.5)
    np.testing.assert_allclose(out[0, 0], 0.0)
    np.testing.assert_allclose(out[0, 1], plotting.PALETTE[1] / 255 * 0.5)


@pytest.mark.parametrize("shape", [(32, 32), (32, 32, 1), (32, 32, 3)])
def test_augmentation_grid_scales_uint8_images_once(shape):
    image = np.full(shape, 118, np.uint8)  # 118 / 255 = 0.4627
    fig = plotting.augmentation_grid(image, np.zeros((32, 32), np.uint8), {"none": IDENTITY}, n=1)
    original, augmented = (ax.images[0].get_array() for ax in fig.axes)
    np.testing.assert_allclose(np.asarray(original), 118 / 255, atol=1e-6)
    np.testing.assert_allclose(np.asarray(augmented), 118 / 255, atol=1e-5)
    with pytest.raises(ValueError, match=r"^the image is float32 with values 118\.\.118: float images must be in"):
        plotting.augmentation_grid(image.astype(np.float32), np.zeros((32, 32), np.uint8), {"none": IDENTITY}, n=1)


def test_draw_unet_labels_every_level():
    levels = [dict(level=1, height=64, width=64, channels=8), dict(level=2, height=32, width=32, channels=16),
              dict(level="bottleneck", height=None, width=None, channels=32)]
    fig = plotting.draw_unet(levels)
    texts = [t.get_text() for t in fig.axes[0].texts]
    for label in ("enc1\n8 ch\n64x64", "dec1\n8 ch\n64x64", "enc2\n16 ch\n32x32", "dec2\n16 ch\n32x32",
                  "bottleneck\n32 ch\n?x?"):
        assert label in texts
