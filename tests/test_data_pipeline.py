"""The tf.data pipeline: shapes, dtypes, ranges, one-hot, nearest-only mask resizing, pad or reject."""

import re
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from segutils.data.augment import GEOMETRY_ONLY, AugmentConfig
from segutils.data.pipeline import (
    ImageFormat,
    MaskFormat,
    check_size,
    describe,
    make_dataset,
    resize_mask,
    to_one_hot,
)
from segutils.data.shapes import make_shapes


@pytest.fixture(scope="module")
def shapes_split():
    images, masks = make_shapes(6, 96, seed=0)
    info = SimpleNamespace(num_classes=4, ignore_index=None)
    return SimpleNamespace(info=info, images=list(images), masks=list(masks))


def first(ds):
    images, masks = next(iter(ds))
    return images.numpy(), masks.numpy()


def test_sparse_batches_have_the_documented_shapes_dtypes_and_ranges(shapes_split):
    ds = make_dataset(shapes_split, 64, 4, training=True)
    facts = describe(ds)
    assert facts["image_shape"] == (4, 64, 64, 3) and facts["image_dtype"] == "float32"
    assert 0.0 <= facts["image_range"][0] <= facts["image_range"][1] <= 1.0
    assert facts["mask_shape"] == (4, 64, 64, 1) and facts["mask_dtype"] == "int32"
    assert set(facts["mask_values"]) <= {0, 1, 2, 3}
    assert [len(x) for x, _ in ds] == [4, 2]


def test_one_hot_sums_to_one_and_matches_the_sparse_mask(shapes_split):
    _, sparse = first(make_dataset(shapes_split, 64, 6))
    _, dense = first(make_dataset(shapes_split, 64, 6, masks=MaskFormat(one_hot=True)))
    assert dense.dtype == np.float32 and dense.shape == (6, 64, 64, 4)
    np.testing.assert_array_equal(dense.sum(-1), 1.0)
    np.testing.assert_array_equal(dense.argmax(-1), sparse[..., 0])


def test_one_hot_of_the_ignore_index_is_all_zeros():
    mask = np.array([[[0], [11]], [[3], [11]]], dtype=np.int32)
    dense = to_one_hot(mask, 12, ignore_index=11).numpy()
    np.testing.assert_array_equal(dense.sum(-1), [[1, 0], [1, 0]])
    assert dense[0, 0, 0] == 1 and dense[1, 0, 3] == 1


def test_normalisation_is_exactly_x_over_255_and_nothing_else(shapes_split):
    images, masks = first(make_dataset(shapes_split, 96, 2))
    np.testing.assert_allclose(images, np.stack(shapes_split.images[:2]) / 255.0, atol=1e-7)
    np.testing.assert_array_equal(masks[..., 0], np.stack(shapes_split.masks[:2]))


@pytest.mark.parametrize("method", ["area", "bilinear"])
@pytest.mark.parametrize("size", [32, 160])
def test_resized_masks_keep_only_their_own_classes(method, size):
    images, masks = make_shapes(2, 100, seed=4)
    masks = np.where(masks > 0, 3, 0).astype(np.uint8)  # classes {0, 3}: 1 and 2 would be invented
    padded = ImageFormat(resize_method=method, pad_or_reject="pad")
    _, out = first(make_dataset((images, masks), size, 2, images=padded))
    assert set(np.unique(out)) == {0, 3}
    assert set(np.unique(resize_mask(masks[0][..., None], (37, 59)).numpy())) == {0, 3}


def test_masks_cannot_be_resized_with_anything_but_nearest(shapes_split):
    for method in ["nearest", "bicubic", "lanczos3"]:
        with pytest.raises(ValueError, match="masks always use nearest"):
            make_dataset(shapes_split, 64, 2, images=ImageFormat(resize_method=method))


def test_sizes_not_divisible_by_32_are_rejected_with_the_nearest_valid_sizes(shapes_split):
    expected = (
        "img_size 100x100 is not a multiple of 32 (LinkNet halves it 5 times). "
        "Nearest valid sizes: 96x96 or 128x128. Or pass images=ImageFormat(pad_or_reject='pad') to pad 100x100 "
        "up to 128x128 (images reflected, masks filled with the ignore index or 0)."
    )
    with pytest.raises(ValueError) as err:
        make_dataset(shapes_split, 100, 2)
    assert str(err.value) == expected
    images, _ = first(make_dataset(shapes_split, 100, 2, images=ImageFormat(pad_or_reject="pad")))  # the fix named
    assert images.shape == (2, 128, 128, 3)
    with pytest.raises(ValueError, match=r"img_size 20x64 .* Nearest valid sizes: 32x64\. "):
        check_size((20, 64))
    assert check_size(64) == (64, 64) and check_size((100, 64), "pad") == (128, 64)


def test_pad_reflects_images_and_fills_masks_with_the_ignore_index():
    images, masks = make_shapes(1, 100, seed=2)
    padded = ImageFormat(pad_or_reject="pad")
    ds = make_dataset((images, masks), 100, 1, masks=MaskFormat(ignore_index=11), images=padded)
    image, mask = first(ds)
    assert image.shape == (1, 128, 128, 3) and mask.shape == (1, 128, 128, 1)
    assert (mask[0, :14] == 11).all() and (mask[0, :, -14:] == 11).all()
    np.testing.assert_array_equal(mask[0, 14:114, 14:114, 0], masks[0])
    np.testing.assert_allclose(image[0, 13], image[0, 15], atol=1e-7)  # reflected about row 14
    _, zero_filled = first(make_dataset((images, masks), 100, 1, images=ImageFormat(pad_or_reject="pad")))
    assert (zero_filled[0, :14] == 0).all()


def test_same_seed_gives_the_same_augmented_batches_and_another_seed_does_not(shapes_split):
    a = first(make_dataset(shapes_split, 64, 3, training=True, seed=1))
    b = first(make_dataset(shapes_split, 64, 3, training=True, seed=1))
    c = first(make_dataset(shapes_split, 64, 3, training=True, seed=2))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_augmented_pipeline_keeps_masks_aligned_with_colour_coded_images():
    _, masks = make_shapes(4, 96, seed=5)
    images = (np.eye(4, dtype=np.uint8)[masks] * 255)[..., 1:]  # class 0 is black, 1-3 pure colours
    bilinear = ImageFormat(resize_method="bilinear")
    ds = make_dataset((images, masks), 64, 4, training=True, augment=GEOMETRY_ONLY, images=bilinear)
    out_images, out_masks = first(ds)
    derived = np.where(out_images.max(-1) < 0.5, 0, out_images.argmax(-1) + 1)
    assert np.mean(derived == out_masks[..., 0]) > 0.98


def test_png_paths_are_decoded_with_tf_io(tmp_path):
    images, masks = make_shapes(3, 64, seed=3)
    image_paths, mask_paths = [], []
    for i, (image, mask) in enumerate(zip(images, masks, strict=True)):
        Image.fromarray(image[..., 0]).save(tmp_path / f"{i}.png")  # grayscale
        Image.fromarray(np.where(mask > 0, 255, 0).astype(np.uint8)).save(tmp_path / f"{i}_mask.png")
        image_paths.append(tmp_path / f"{i}.png")
        mask_paths.append(str(tmp_path / f"{i}_mask.png"))
    binary, rgb = MaskFormat(encoding="binary_0_255"), ImageFormat(channels=3)
    ds = make_dataset((image_paths, mask_paths), 32, 3, masks=binary, images=rgb)
    out_images, out_masks = first(ds)
    assert out_images.shape == (3, 32, 32, 3) and set(np.unique(out_masks)) == {0, 1}
    np.testing.assert_array_equal(out_images[..., 0], out_images[..., 2])


def test_mixed_sizes_subset_and_repeat():
    a_img, a_mask = make_shapes(2, (40, 70), seed=0)
    b_img, b_mask = make_shapes(2, 64, seed=1)
    data = (list(a_img) + list(b_img), list(a_mask) + list(b_mask))
    assert [len(x) for x, _ in make_dataset(data, 32, 3)] == [3, 1]
    assert [len(x) for x, _ in make_dataset(data, 32, 3, subset=2)] == [2]
    assert len(list(make_dataset(data, 32, 2, repeat=True).take(5))) == 5


def test_bad_inputs_say_what_is_wrong(shapes_split):
    with pytest.raises(ValueError, match="num_classes"):
        make_dataset((shapes_split.images, shapes_split.masks), 64, 2, masks=MaskFormat(one_hot=True))
    with pytest.raises(ValueError, match="6 images but 5 masks"):
        make_dataset((shapes_split.images, shapes_split.masks[:5]), 64, 2)
    with pytest.raises(ValueError, match=r"holds the value 255, but there are only 2 classes \(0\.\.1\)"):
        all_255 = [m * 0 + 255 for m in shapes_split.masks]
        make_dataset((shapes_split.images, all_255), 64, 2, masks=MaskFormat(num_classes=2))
    with pytest.raises(ValueError, match="pad_or_reject"):
        make_dataset(shapes_split, 64, 2, images=ImageFormat(pad_or_reject="crop"))


def test_pipeline_benchmark_runs_on_a_folder_of_pngs(tmp_path, capsys):
    from segutils.course.bench.pipeline import main

    images, masks = make_shapes(4, 64, seed=6)
    for folder in ("image", "label"):
        (tmp_path / folder).mkdir()
    for i, (image, mask) in enumerate(zip(images, masks, strict=True)):
        Image.fromarray(image[..., 0]).save(tmp_path / "image" / f"{i}.png")
        Image.fromarray(np.where(mask > 0, 255, 0).astype(np.uint8)).save(tmp_path / "label" / f"{i}.png")
    argv = ["--data", str(tmp_path), "--size", "32", "--batch", "2", "--batches", "3"]
    assert main(argv) == 0
    assert "images/s" in capsys.readouterr().out


def test_pipeline_benchmark_without_data_names_the_folder_data_takes(monkeypatch, capsys):
    from segutils.course.bench import pipeline

    monkeypatch.setattr(pipeline, "default_data", lambda: None)
    assert pipeline.main([]) == 2
    assert capsys.readouterr().err == (  # --data is the folder of image/ and label/, as the test above passes it
        "No membrane data found: run `make data` (or `python -m segutils.course.data download membrane`), or pass "
        "--data DIR, the folder holding image/*.png and label/*.png (membrane's train/)\n")


def test_augment_true_is_the_default_config_false_is_none_and_anything_else_is_a_type_error(shapes_split):
    default = first(make_dataset(shapes_split, 64, 3, augment=AugmentConfig(), seed=1))
    on = first(make_dataset(shapes_split, 64, 3, augment=True, seed=1))
    np.testing.assert_array_equal(on[0], default[0])
    np.testing.assert_array_equal(on[1], default[1])
    plain = first(make_dataset(shapes_split, 64, 3))
    off = first(make_dataset(shapes_split, 64, 3, augment=False))
    np.testing.assert_array_equal(off[0], plain[0])
    assert not np.array_equal(on[0], plain[0])
    expected = (
        "augment must be an AugmentConfig, True (AugmentConfig()), False (no augmentation) or None "
        "(AugmentConfig() when training), got 'yes' (str)"
    )
    with pytest.raises(TypeError) as err:
        make_dataset(shapes_split, 64, 3, augment="yes")
    assert str(err.value) == expected


def save_pairs(tmp_path, images, masks, mode=None):
    image_paths, mask_paths = [], []
    for i, (image, mask) in enumerate(zip(images, masks, strict=True)):
        Image.fromarray(image).save(tmp_path / f"{i}.png")
        mask_image = Image.fromarray(mask)
        if mode == "P":
            mask_image = mask_image.convert("P")  # palette indices = the values
            mask_image.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255] * 64)
        mask_image.save(tmp_path / f"{i}_mask.png")
        image_paths.append(tmp_path / f"{i}.png")
        mask_paths.append(tmp_path / f"{i}_mask.png")
    return image_paths, mask_paths


@pytest.mark.parametrize("kind", ["paletted", "16-bit"])
def test_png_masks_give_the_same_classes_as_the_files_decoder(tmp_path, kind):
    images, masks = make_shapes(2, 32, seed=7)
    masks = np.minimum(masks, 2).astype(np.uint8)  # classes 0, 1, 2
    stored = masks.astype(np.uint16) if kind == "16-bit" else masks
    paths = save_pairs(tmp_path, images, stored, mode="P" if kind == "paletted" else None)
    expected_mode = "P" if kind == "paletted" else "I;16"
    assert Image.open(paths[1][0]).mode == expected_mode
    _, out = first(make_dataset(paths, 32, 2, masks=MaskFormat(num_classes=3)))
    assert sorted(np.unique(out).tolist()) == [0, 1, 2]
    np.testing.assert_array_equal(out[..., 0], masks)


def test_png_mask_values_outside_the_classes_raise_the_in_memory_message(tmp_path):
    images, masks = make_shapes(1, 32, seed=7)
    paths = save_pairs(tmp_path, images, np.where(masks > 0, 255, 0).astype(np.uint8))
    expected = (
        f"the mask {paths[1][0]} holds the value 255, but there are only 2 classes (0..1); masks must "
        "hold class indices (a 0/255 PNG mask is 0/1 with MaskFormat(encoding='binary_0_255') when all masks are "
        "0/255; if only this one is, re-save it as 0/1)"
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape(expected)):
        first(make_dataset(paths, 32, 1, masks=MaskFormat(num_classes=2)))
    _, out = first(make_dataset(paths, 32, 1, masks=MaskFormat(num_classes=2, encoding="binary_0_255")))
    np.testing.assert_array_equal(out[0, ..., 0], masks[0] > 0)


def test_binary_0_255_png_masks_are_strict(tmp_path):
    images, masks = make_shapes(1, 32, seed=7)
    paths = save_pairs(tmp_path, images, np.where(masks > 0, 255, 128).astype(np.uint8))
    expected = f"{paths[1][0]} should hold only 0 and 255 but has values [128, 255]."
    with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape(expected)):
        first(make_dataset(paths, 32, 1, masks=MaskFormat(encoding="binary_0_255")))


def test_png_folders_mixing_grey_and_rgb_images_are_decoded_to_one_channel_count(tmp_path):
    images, masks = make_shapes(2, 32, seed=8)
    image_paths, mask_paths = save_pairs(tmp_path, images, masks)
    Image.fromarray(images[1][..., 0]).save(image_paths[1])  # the second image is grey
    out, _ = first(make_dataset((image_paths, mask_paths), 32, 2))
    assert out.shape == (2, 32, 32, 3)
    np.testing.assert_allclose(out[0], images[0] / 255.0, atol=1e-7)
    np.testing.assert_array_equal(out[1, ..., 0], out[1, ..., 2])
    grey, _ = first(make_dataset((image_paths[::-1], mask_paths[::-1]), 32, 2))
    assert grey.shape == (2, 32, 32, 1)
    rgb, _ = first(make_dataset((image_paths[::-1], mask_paths[::-1]), 32, 2, images=ImageFormat(channels=3)))
    assert rgb.shape == (2, 32, 32, 3)


def test_sizes_too_small_to_reflect_are_rejected_up_front_with_the_fix():
    expected = (
        "img_size 8x8 is too small to pad to 32x32: images are padded by reflection, which needs each side "
        "longer than the padding added to it (sides of at least 12 pad up to 32). Pass img_size=32 to resize "
        "the images to 32x32 instead of padding them."
    )
    images, masks = make_shapes(2, 8, seed=0)
    with pytest.raises(ValueError) as err:
        make_dataset((images, masks), 8, 2, images=ImageFormat(pad_or_reject="pad"))
    assert str(err.value) == expected
    with pytest.raises(ValueError, match=re.escape("Pass img_size=(32, 64) to resize the images to 32x64")):
        check_size((11, 40), "pad")
    with pytest.raises(ValueError) as err:
        check_size(8)
    assert str(err.value).endswith("Nearest valid sizes: 32x32.")  # no pad advice that would fail
    assert check_size(12, "pad") == (32, 32)
    image, mask = first(make_dataset((images, masks), 12, 2, images=ImageFormat(pad_or_reject="pad")))
    assert image.shape == (2, 32, 32, 3) and mask.shape == (2, 32, 32, 1)


def test_channel_conversion_errors_say_how_to_fix_them():
    images, masks = make_shapes(2, 32, seed=0)
    rgba = np.concatenate([images, np.full(images.shape[:3] + (1,), 255, np.uint8)], axis=-1)
    expected = (
        "cannot convert 4 channels to 3: the images have an alpha channel: drop it first "
        "(images[..., :3] for each image), or pass channels=None to keep all 4"
    )
    with pytest.raises(ValueError) as err:
        make_dataset((rgba, masks), 32, 2, images=ImageFormat(channels=3))
    assert str(err.value) == expected
    with pytest.raises(ValueError) as err:
        make_dataset((images, masks), 32, 2, images=ImageFormat(channels=4))
    assert str(err.value) == "channels must be 1 (grayscale), 3 (RGB) or None (keep them), got 4"
    mixed = [images[0], images[1][..., :1]]  # arrays of 3 and 1 channels: no argument of load or make_dataset mends it
    for images_format in (None, ImageFormat(channels=3)):
        with pytest.raises(ValueError) as err:
            make_dataset((mixed, masks), 32, 2, images=images_format)
        assert str(err.value) == ("the images have different channel counts [1, 3]: give them one count first, e.g. "
                                  "np.repeat(image, 3, axis=-1) makes a grey H x W x 1 image RGB")


def test_resize_split_averages_images_and_keeps_mask_classes():
    from types import SimpleNamespace

    from segutils.data.pipeline import resize_split

    image = np.array([[0, 10, 20, 30]] * 4, np.uint8)[..., None]  # 4 x 4 x 1
    mask = np.array([[0, 0, 3, 3]] * 2 + [[1, 1, 2, 2]] * 2, np.uint8)
    images, masks = resize_split(SimpleNamespace(images=[image], masks=[mask]), 2)
    assert images[0].dtype == np.uint8 and images[0][..., 0].tolist() == [[5, 25], [5, 25]]  # area: means of 2 x 2
    assert masks[0].tolist() == [[0, 3], [1, 2]]  # nearest neighbour: no class invented


def test_the_six_steps_by_hand_give_make_datasets_batches(shapes_split):
    from segutils.data import pipeline as steps

    fmt = steps.mask_format(shapes_split, MaskFormat(one_hot=True))
    assert (fmt.num_classes, fmt.ignore_index, fmt.fill) == (4, None, 0)
    ds = steps.read(shapes_split, fmt, subset=5)
    assert int(ds.cardinality()) == 5
    ds = steps.shuffle(steps.resize(ds, 64, fill=fmt.fill).cache(), seed=3).repeat()
    by_hand = steps.batches(steps.augment_pairs(ds, AugmentConfig(), seed=3), 2, fmt).take(4)
    made = make_dataset(shapes_split, 64, 2, training=True, seed=3, repeat=True, subset=5, masks=fmt).take(4)
    for (x1, m1), (x2, m2) in zip(by_hand, made, strict=True):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(m1, m2)
    assert m1.shape == (2, 64, 64, 4)


def test_on_a_cpu_the_pipeline_runs_on_one_thread_of_its_own_without_autotuning(shapes_split, monkeypatch):
    from segutils import config
    from segutils.data import pipeline

    monkeypatch.setattr(config, "accelerators", lambda: [])
    options = make_dataset(shapes_split, 64, 2).options()
    assert (options.threading.private_threadpool_size, options.threading.max_intra_op_parallelism) == (1, 1)
    assert options.autotune.enabled is False
    monkeypatch.setattr(pipeline, "THREADS", 0)  # TensorFlow's defaults, as beside a GPU: autotuned, shared threads
    options = make_dataset(shapes_split, 64, 2).options()
    assert options.threading.private_threadpool_size is None and options.autotune.enabled is None
    monkeypatch.setattr(pipeline, "THREADS", None)
    monkeypatch.setattr(config, "accelerators", lambda: ["GPU"])  # beside a GPU: autotuned by default
    assert make_dataset(shapes_split, 64, 2).options().autotune.enabled is None
