"""No silently wrong images or masks, void labels in folders, arguments that fail early (issue 10, items 2-4, 6)."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from segutils.data import DataError, load
from segutils.data.pipeline import ImageFormat, MaskFormat, make_dataset
from segutils.data.shapes import make_shapes


def first(ds):
    images, masks = next(iter(ds))
    return images.numpy(), masks.numpy()


def _save(path: Path, array, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array)).save(path, **kwargs)
    return path


def _folder(root: Path, masks: list, size=(4, 4)) -> Path:
    """RGB images img0.. with the given masks under ``root/train`` (one split: all of them in ``train``)."""
    for i, mask in enumerate(masks):
        _save(root / "train" / "images" / f"img{i}.png", np.full((*size, 3), 10 * i, np.uint8))
        _save(root / "train" / "masks" / f"img{i}.png", mask)
    return root


# ---- item 2: images in [0, 1] or 16 bits are not black or white batches --------------------------------


def test_float_images_already_in_0_1_are_taken_as_normalised_not_turned_black():
    images, masks = make_shapes(2, 64, seed=0)
    scaled = images.astype(np.float32) / 255.0
    out, _ = first(make_dataset((scaled, masks), 64, 2))
    np.testing.assert_allclose(out, scaled, atol=1e-6)  # one normalisation, not (x / 255) / 255
    grey, _ = first(make_dataset((scaled, masks), 64, 2, images=ImageFormat(channels=1)))
    expected = scaled @ np.array([0.2989, 0.587, 0.114], np.float32)  # tf.image.rgb_to_grayscale
    np.testing.assert_allclose(grey[..., 0], expected, atol=1e-5)  # not rounded to 0 or 1/255


def test_16_bit_images_are_scaled_by_their_range_not_clipped_to_white():
    images, masks = make_shapes(2, 32, seed=1)
    deep = images.astype(np.uint16) * 257  # 0..255 -> 0..65535
    out, _ = first(make_dataset((deep, masks), 32, 2))
    np.testing.assert_allclose(out, images / 255.0, atol=1e-6)
    assert 0.0 < out.mean() < 0.8


@pytest.mark.parametrize(
    ("image", "found", "fix"),
    [
        (np.linspace(3, 250, 16, dtype=np.float32).reshape(4, 4), "float32 with values 3..250",
         "float images must be in [0, 1]; pass them as uint8 (x.astype(np.uint8)) or divide by 255 yourself."),
        (np.linspace(-2, 2, 16, dtype=np.float32).reshape(4, 4), "float32 with values -2..2",
         "float images must be in [0, 1]; undo the standardisation (x * std + mean) to get [0, 1], or pass uint8 "
         "values 0..255."),
        (np.arange(0, 4096, 256, dtype=np.int32).reshape(4, 4), "int32 with values 0..3840",
         "pass uint8 (0..255), uint16 (scaled by 65535) or floats in [0, 1], e.g. (x / 3840).astype(np.float32) "
         "if 3840 is white."),
        (np.eye(4, dtype=bool), "bool", "pass images as uint8 (0..255), uint16 (0..65535) or floats in [0, 1]."),
    ],
)
def test_images_of_any_other_range_or_dtype_are_refused_saying_what_was_found_and_what_to_pass(image, found, fix):
    masks = [np.zeros((4, 4), np.uint8)] * 2
    with pytest.raises(ValueError) as err:
        make_dataset(([np.zeros((4, 4), np.uint8), image], masks), 32, 2, images=ImageFormat(pad_or_reject="pad"))
    assert str(err.value) == f"image 1 (of 2) is {found}: {fix}"


# ---- item 3: masks that would change classes silently ---------------------------------------------------


JPEG_FIX = (
    "JPEG compression changes pixel values at every edge, so a JPEG mask holds classes that were never drawn. "
    "Save the masks as PNG (lossless) from your labelling tool; converting the JPEGs keeps the damage (binary "
    "masks: threshold at 128, then save as PNG)."
)


def test_jpeg_masks_are_refused_in_folders_and_in_path_lists_with_the_save_as_png_fix(tmp_path):
    mask = np.kron(np.array([[0, 255], [255, 0]], np.uint8), np.ones((8, 8), np.uint8))
    root = _folder(tmp_path / "d", [mask, mask], size=(16, 16))
    (root / "train" / "masks" / "img1.png").unlink()
    _save(root / "train" / "masks" / "img1.jpg", mask, quality=75)
    message = str(pytest.raises(DataError, load, root).value)
    assert message == f"1 JPEG masks: img1.jpg in {root / 'train' / 'masks'}: {JPEG_FIX}"

    images = [root / "train" / "images" / "img0.png", root / "train" / "images" / "img1.png"]
    masks = [root / "train" / "masks" / "img0.png", root / "train" / "masks" / "img1.jpg"]
    with pytest.raises(ValueError) as err:  # at build time, not while training
        make_dataset((images, masks), 32, 2, masks=MaskFormat(encoding="binary_0_255"))
    assert str(err.value) == f"1 JPEG masks: img1.jpg in the mask paths: {JPEG_FIX}"

    disguised = _save(tmp_path / "e" / "m.png", mask, format="JPEG")  # a JPEG under a .png name
    with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape(f"1 JPEG masks: m.png in {disguised.parent}")):
        first(make_dataset(([images[0]], [disguised]), 32, 1, masks=MaskFormat(encoding="binary_0_255")))


def test_array_masks_outside_the_classes_are_refused_at_build_time_naming_the_mask():
    images, masks = make_shapes(3, 32, seed=2)
    stray = masks.astype(np.int16)
    stray[1, 0, 0] = -1
    with pytest.raises(ValueError) as err:
        make_dataset((images, stray), 32, 3, masks=MaskFormat(num_classes=4))
    assert str(err.value) == (
        "mask 1 (of 3) holds the value -1, but there are only 4 classes (0..3); masks must hold class indices "
        "(if -1 marks pixels to leave out, pass masks=MaskFormat(ignore_index=-1), or remap it to a class)"
    )
    declared = MaskFormat(num_classes=4, ignore_index=-1)  # the fix named (make_dataset has no ignore_index)
    _, out = first(make_dataset((images, stray), 32, 3, masks=declared))  # declared: it passes
    assert out[1, 0, 0, 0] == -1

    binary = (masks > 0).astype(np.uint8) * 255
    with pytest.raises(ValueError) as err:
        make_dataset((images, binary), 32, 3)  # no num_classes: 0/255 would reach the loss as class 255
    assert str(err.value) == (
        "mask 0 (of 3) holds only 0 and 255: binary masks are 0/1 here; pass masks // 255 (or "
        "masks=MaskFormat(num_classes=2), which refuses 255 and names the mask)"
    )
    with pytest.raises(ValueError) as err:  # as said: 255 refused, the mask named
        make_dataset((images, binary), 32, 3, masks=MaskFormat(num_classes=2))
    assert str(err.value).startswith("mask 0 (of 3) holds the value 255, but there are only 2 classes (0..1)")
    split = load("shapes", "train", subset=2, size=32)
    split.masks[1] = split.masks[1] * 0 + 9
    with pytest.raises(ValueError, match=re.escape(f"the mask of {split.names[1]!r} holds the value 9, but there")):
        make_dataset(split, 32, 2)


# ---- item 4: folders with a void label -------------------------------------------------------------------


VOID = np.array([[0, 1, 2, 255], [0, 1, 2, 255], [255, 255, 0, 0], [1, 1, 2, 2]], np.uint8)


def test_a_folder_declares_its_void_label_as_ignore_index_and_it_flows_through_the_pipeline(tmp_path):
    root = _folder(tmp_path / "d", [VOID, VOID[::-1]])
    split = load(root, ignore_index=255)
    assert (split.info.num_classes, split.info.ignore_index, split.info.mask_encoding) == (3, 255, "index")
    assert split.masks[0].tolist() == VOID.tolist()  # 255 stays: left out downstream, like CamVid's 11
    padded = ImageFormat(pad_or_reject="pad")
    _, dense = first(make_dataset(split, 20, 2, masks=MaskFormat(one_hot=True), images=padded))  # 20 -> 32
    sums = dense.sum(-1)
    assert dense.shape == (2, 32, 32, 3) and sums[:, :6].max() == 0 and sums[:, 6:26, 6:26].min() == 0  # pad, void
    _, sparse = first(make_dataset(split, 20, 2, images=ImageFormat(pad_or_reject="pad")))
    np.testing.assert_array_equal(sums == 0, sparse[..., 0] == 255)  # one-hot all zeros exactly where void
    assert sorted(np.unique(sparse).tolist()) == [0, 1, 2, 255]

    (root / "dataset.json").write_text(json.dumps({"ignore_index": 255, "class_names": ["soil", "leaf", "stem"]}))
    declared = load(root)  # make compare DATA=folder passes no arguments: the folder says it
    assert (declared.info.ignore_index, declared.info.class_names) == (255, ("soil", "leaf", "stem"))
    (root / "dataset.json").unlink()
    for kwargs in ({}, {"num_classes": 3}):  # undeclared: the error names the file and says how to declare it
        message = str(pytest.raises(DataError, load, root, **kwargs).value)
        assert "img0.png" in message and "255 often marks pixels to ignore: then pass ignore_index=255" in message


def test_the_folders_ignore_index_leaves_void_pixels_out_of_the_confusion_matrix(tmp_path):
    from segutils import metrics

    split = load(_folder(tmp_path / "d", [VOID]), ignore_index=255)
    truth = split.masks[0]
    predicted = np.where(truth == 255, 1, truth)  # every labelled pixel right, void predicted as class 1
    cm = metrics.confusion_matrix(truth, predicted, split.info.num_classes, ignore_index=split.info.ignore_index)
    assert np.asarray(cm).tolist() == [[4, 0, 0], [0, 4, 0], [0, 0, 4]]  # 12 labelled pixels, 4 void left out


def test_one_stray_0_255_mask_among_0_1_masks_is_named_and_the_advice_does_not_go_in_a_circle(tmp_path):
    ones = np.array([[0, 1], [1, 0]], np.uint8)
    root = _folder(tmp_path / "d", [ones, ones, ones * 255, ones, ones], size=(2, 2))
    expected = (
        f"{root}: 1 of the masks hold only 0 and 255 (img2.png), the other 4 hold [0, 1]: one folder must use one "
        "encoding. Re-save those 1 as 0/1 (np.asarray(mask) // 255); or, if 255 marks pixels to leave out, pass "
        "ignore_index=255 (or put {\"ignore_index\": 255} in the folder's dataset.json)."
    )
    assert str(pytest.raises(DataError, load, root).value) == expected
    assert str(pytest.raises(DataError, load, root, num_classes=2).value) == expected  # not "pass num_classes=2"
    _save(root / "train" / "masks" / "img2.png", ones)  # the fix it names
    assert load(root).masks[2].tolist() == ones.tolist()


def test_16_bit_binary_masks_0_65535_read_as_0_1(tmp_path):
    mask = np.array([[0, 65535], [65535, 0]], np.uint16)
    root = _folder(tmp_path / "d", [mask, mask], size=(2, 2))
    assert Image.open(root / "train" / "masks" / "img0.png").mode == "I;16"
    for kwargs in ({}, {"num_classes": 2}):
        split = load(root, **kwargs)
        assert (split.info.num_classes, split.info.mask_encoding) == (2, "binary_0_255")
        assert split.masks[0].tolist() == [[0, 1], [1, 0]]
    message = str(pytest.raises(DataError, load, root, num_classes=3).value)
    hint = ("These are binary masks (0 and 65535): load() reads them as 0/1 without num_classes or with "
            "num_classes=2, make_dataset with MaskFormat(encoding='binary_0_255').")
    assert message.endswith(hint)
    paths = ([root / "train" / "images" / "img0.png"], [root / "train" / "masks" / "img0.png"])
    with pytest.raises(tf.errors.InvalidArgumentError) as err:  # mask paths: make_dataset has no num_classes to leave
        first(make_dataset(paths, 32, 1))  # out, and MaskFormat(num_classes=2) refuses 65535
    assert hint in str(err.value)
    _, out = first(make_dataset(paths, 32, 1, masks=MaskFormat(encoding="binary_0_255")))  # the fix named
    assert set(np.unique(out)) == {0, 1}


def test_16_bit_masks_of_more_than_256_classes_keep_their_class_values(tmp_path):
    """Class 300 read into uint8 was class 44 (300 - 256), a plausible label and no error: loaded and from paths."""
    mask = np.array([[0, 300], [1, 300]], np.uint16)
    root = _folder(tmp_path / "d", [mask, mask], size=(2, 2))
    split = load(root, num_classes=301)
    assert split.masks[0].dtype == np.int32 and split.masks[0].tolist() == [[0, 300], [1, 300]]
    paths = ([root / "train" / "images" / "img0.png"], [root / "train" / "masks" / "img0.png"])
    for data in (split, paths):
        _, out = first(make_dataset(data, 32, 1, masks=MaskFormat(num_classes=301)))
        assert out.dtype == np.int32 and sorted(np.unique(out).tolist()) == [0, 1, 300]


# ---- item 6: arguments that fail early and plainly -------------------------------------------------------


@pytest.mark.parametrize(
    ("img_size", "hint"),
    [
        (256 / 4, "sides are whole numbers of pixels: use // to divide: 256 // 4, not 256 / 4"),
        ("64", "pass a whole number of pixels, e.g. 256, or (height, width)"),
        ((64,), "a pair is (height, width), this has 1 value(s); for a square pass one number"),
        (None, "pass a whole number of pixels, e.g. 256, or (height, width)"),
    ],
)
def test_img_size_as_a_float_a_string_a_1_tuple_or_none_fails_early_and_plainly(img_size, hint):
    images, masks = make_shapes(2, 64, seed=0)
    with pytest.raises(ValueError) as err:
        make_dataset((images, masks), img_size, 2)
    assert str(err.value) == (
        f"img_size must be a side or a (height, width) pair of whole numbers >= 1, got {img_size!r}: {hint}"
    )


@pytest.mark.parametrize(("batch_size", "kind"), [(4.0, "float"), (0, "int"), ("4", "str"), (True, "bool")])
def test_batch_size_that_is_not_a_positive_int_fails_early(batch_size, kind):
    images, masks = make_shapes(2, 32, seed=0)
    hint = " (use // to divide: 256 // 4, not 256 / 4)" if kind == "float" else ""
    with pytest.raises(ValueError) as err:
        make_dataset((images, masks), 32, batch_size)
    assert str(err.value) == f"batch_size must be a whole number >= 1, got {batch_size!r} ({kind}){hint}"


def test_subset_0_or_empty_data_fails_early_and_plainly():
    images, masks = make_shapes(2, 32, seed=0)
    with pytest.raises(ValueError) as err:
        make_dataset((images, masks), 32, 2, subset=0)
    assert str(err.value) == ("subset must be a whole number >= 1 (or None), got 0 (int): how many images to keep, or "
                              "None for all of them")
    with pytest.raises(ValueError) as err:
        make_dataset(([], []), 32, 2)
    assert str(err.value) == (
        "data holds no images: pass a split from segutils.data.load, or (images, masks) with at least one pair"
    )
    expected = "subset must be a whole number >= 1 (or None), got 2.5 (float) (use // to divide: 256 // 4, not 256 / 4)"
    with pytest.raises(ValueError, match=re.escape(expected + ": how many pairs to keep")):
        load("shapes", "val", size=32, subset=2.5)


# ---- issue 16, items 5 and 7: folders of one class, odd arrays, bad paths, dataset.json -----------------


def _one_split(root: Path, masks: list) -> Path:
    return _folder(root, [np.asarray(m, np.uint8) for m in masks])


def test_a_folder_whose_masks_all_hold_class_2_is_refused_before_training_naming_the_value(tmp_path):
    root = _one_split(tmp_path / "twos", [np.full((4, 4), 2)] * 3)
    with pytest.raises(DataError) as err:
        load(root, "train")
    assert str(err.value) == (f"{root}: all 3 masks read hold only the value 2 (one class), so there is nothing to "
                              "tell apart; the other class (background, 0) is missing: re-export the masks with it")


def test_a_folder_of_all_zero_masks_says_the_masks_hold_only_0(tmp_path):
    root = _one_split(tmp_path / "zeros", [np.zeros((4, 4))] * 2)
    with pytest.raises(DataError) as err:
        load(root, "train")
    assert str(err.value) == (f"{root}: all 2 masks read hold only the value 0 (one class), so there is nothing to "
                              "tell apart; no pixel is marked: are the labels missing, or saved in another folder?")


def test_a_64x64_image_with_a_32x64_mask_is_refused_naming_the_index_not_stretched():
    images = [np.zeros((64, 64), np.uint8)] * 3
    masks = [np.zeros((64, 64), np.uint8), np.zeros((32, 64), np.uint8), np.zeros((64, 64), np.uint8)]
    with pytest.raises(ValueError) as err:
        make_dataset((images, masks), 32, 2)
    assert str(err.value) == ("image 1 (of 3) is 64x64 but its mask is 32x64 (height x width): a mask must match its "
                              "image pixel for pixel; resize both the same way (the mask with nearest neighbour) or "
                              "fix the pair")


def _png_pair(tmp_path: Path, name: str, mask) -> tuple[Path, Path]:
    noise = np.random.default_rng(0).integers(0, 256, (64, 64), np.uint8)  # does not compress: a long file
    return _save(tmp_path / f"{name}.png", noise), _save(tmp_path / f"{name}_mask.png", np.asarray(mask, np.uint8))


def test_a_truncated_png_in_a_path_list_is_named(tmp_path):
    good, mask = _png_pair(tmp_path, "good", np.eye(64))
    cut = tmp_path / "cut.png"
    cut.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(ValueError) as err:  # checked up front since issue 23: named before TF's iterator error
        make_dataset(([good, cut], [mask, mask]), 32, 2)
    assert str(err.value) == (f"cannot read the image {cut}: Truncated File Read (truncated or damaged?); re-export "
                              "it as PNG, or leave it and its mask out")


def test_a_missing_path_is_one_error_naming_it_not_tensorflows_not_found_error(tmp_path):
    good, mask = _png_pair(tmp_path, "good", np.eye(64))
    with pytest.raises(FileNotFoundError) as err:
        make_dataset(([good, tmp_path / "gone.png"], [mask, mask]), 32, 2)
    assert str(err.value) == (f"no file at {tmp_path / 'gone.png'} (1 of the paths; relative ones start at "
                              f"{Path.cwd()}): check the names, or list a folder: sorted(folder.glob('*.png'))")


def test_0_255_png_masks_without_num_classes_are_refused_as_arrays_are(tmp_path):
    image, mask = _png_pair(tmp_path, "a", np.eye(64) * 255)
    with pytest.raises(tf.errors.InvalidArgumentError) as err:
        first(make_dataset(([image], [mask]), 32, 1))
    assert (f"the mask {mask} holds only 0 and 255: binary masks are 0/1 here; pass "
            "MaskFormat(encoding='binary_0_255') if all masks are 0/255, or num_classes") in str(err.value)
    _, out = first(make_dataset(([image], [mask]), 32, 1, masks=MaskFormat(encoding="binary_0_255")))
    assert set(np.unique(out)) == {0, 1}


@pytest.mark.parametrize(("declared", "message"), [
    ({"num_classes": "2"}, '"num_classes" must be a whole number >= 2 (no quotes: "num_classes": 2), got \'2\''),
    ({"class_names": "ab"}, '"class_names" must be a list of names, one per class (e.g. ["background", "cell"]), '
                            "got 'ab'"),
], ids=["num_classes_as_a_string", "class_names_as_a_string"])
def test_dataset_json_with_a_string_where_a_number_or_a_list_belongs_is_a_clear_error(tmp_path, declared, message):
    root = _one_split(tmp_path / "d", [np.eye(4)] * 2)
    (root / "dataset.json").write_text(json.dumps(declared))
    with pytest.raises(DataError) as err:
        load(root, "train")
    assert str(err.value) == f"{root / 'dataset.json'}: {message}"


def test_dataset_json_class_names_of_the_wrong_count_are_refused_naming_both_counts(tmp_path):
    root = _one_split(tmp_path / "d", [np.eye(4)] * 2)
    (root / "dataset.json").write_text(json.dumps({"class_names": ["a", "b", "c"]}))
    with pytest.raises(DataError) as err:
        load(root, "train")
    assert str(err.value) == f"{root / 'dataset.json'} names 3 classes but the masks have 2 (0..1): give one name " \
                             "per class"
