"""Loading splits: shapes, membrane from the cache, and learners' folders in every format and failure."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segutils import course
from segutils.data import DataError, Split, load

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def _save(path: Path, array, mode=None, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = array if isinstance(array, Image.Image) else Image.fromarray(np.asarray(array), mode)
    image.save(path, **kwargs)
    return path


def _rows(h: int, w: int) -> np.ndarray:
    return np.repeat(np.arange(h, dtype=np.uint8)[:, None] % 3, w, axis=1)


def _folder(root: Path, n: int = 3, mask=None, size=(6, 4), image_ext=".png", mask_ext=".png") -> Path:
    """``n`` RGB images with index masks (values 0, 1, 2 in rows) under ``root/images`` and ``root/masks``."""
    h, w = size
    for i in range(n):
        _save(root / "images" / f"img{i}{image_ext}", np.full((h, w, 3), 10 * i, np.uint8))
        _save(root / "masks" / f"img{i}{mask_ext}", mask if mask is not None else _rows(h, w))
    return root


def _error(*args, **kwargs) -> str:
    with pytest.raises(DataError) as err:
        load(*args, **kwargs)
    return str(err.value)


# ---- registry datasets -------------------------------------------------------------------------


def test_shapes_splits_are_generated_with_their_own_seeds():
    train = load("shapes", "train", subset=3, size=32)
    assert isinstance(train, Split) and len(train) == 3 and train.info.name == "shapes"
    assert train.images[0].shape == (32, 32, 3) and train.images[0].dtype == np.uint8
    assert train.masks[0].shape == (32, 32) and train.masks[0].dtype == np.uint8
    assert max(int(m.max()) for m in train.masks) < 4
    val = load("shapes", "val", subset=3, size=32)
    assert not np.array_equal(train.images[0], val.images[0])
    assert np.array_equal(load("shapes", "train", subset=3, size=32).images[0], train.images[0])
    assert len(load("shapes", "test", size=16)) == 16
    assert "3 pairs" in repr(train) and "array" not in repr(train)


def test_a_registered_dataset_missing_on_disk_says_what_to_run_and_downloads_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv("SEGUTILS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SEGUTILS_MIRROR", str(tmp_path / "mirror"))  # a source is set: load still never fetches
    message = _error("membrane")
    assert message.startswith("membrane: 40 files missing or incomplete: train/image/")  # the 20 training pairs
    assert message.endswith(
        f"in {tmp_path / 'data' / 'membrane'}. Run `make data` (or `python -m segutils.course.data download "
        'membrane`), or in a notebook `from segutils import course; course.fetch("membrane")`.'
    )
    elsewhere = _error("camvid", "test", data_dir=tmp_path / "usb")
    assert elsewhere.startswith("camvid: 466 files missing or incomplete: test/")
    assert elsewhere.endswith(f'course.fetch("camvid", data_dir={str(tmp_path / "usb")!r})`.')
    assert not (tmp_path / "data").exists() and not (tmp_path / "usb").exists()


def test_membrane_loads_from_the_cache_with_its_fixed_split(shared_data, monkeypatch, tmp_path):
    monkeypatch.setenv("SEGUTILS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SEGUTILS_MIRROR", raising=False)
    message = _error("membrane")
    assert "make data" in message and str(tmp_path / "membrane") in message
    course.fetch("membrane", mirror=shared_data / "membrane", progress=False)  # what the message says to run
    splits = {name: load("membrane", name) for name in ("train", "val", "test")}
    assert {k: len(v) for k, v in splits.items()} == {"train": 20, "val": 5, "test": 5}
    assert len(set().union(*(s.names for s in splits.values()))) == 30
    train = splits["train"]
    assert train.images[0].shape == (512, 512, 1) and train.images[0].dtype == np.uint8
    raw = np.asarray(Image.open(shared_data / "membrane" / "train" / "label" / f"{train.names[0]}.png"))
    assert np.array_equal(train.masks[0], (raw == 255).astype(np.uint8))  # 255 = cell = class 1
    assert 0.5 < train.masks[0].mean() < 0.95  # membranes (class 0) are the thin minority
    picked = load("membrane", "train", subset=4, seed=3)
    assert len(picked) == 4 and set(picked.names) <= set(train.names)
    assert load("membrane", "train", subset=4, seed=3).names == picked.names
    assert load("membrane", "train", subset=4, seed=4).names != picked.names


def test_unknown_split_and_the_folder_placeholder():
    assert "use one of train, val, test" in _error("shapes", "validation")
    assert "Pass the folder's path itself" in _error("folder")


# ---- folders: formats ---------------------------------------------------------------------------


def test_index_masks_and_a_seeded_70_15_15_split(tmp_path):
    root = _folder(tmp_path / "d", n=20)
    parts = {s: load(root, s) for s in ("train", "val", "test")}
    assert {s: len(p) for s, p in parts.items()} == {"train": 14, "val": 3, "test": 3}
    assert sorted(sum((p.names for p in parts.values()), [])) == sorted(f"img{i}" for i in range(20))
    train = parts["train"]
    assert train.info.num_classes == 3 and train.info.mask_encoding == "index"
    assert train.info.class_names == ("class_0", "class_1", "class_2") and train.info.name == str(root)
    assert train.masks[0].tolist() == [[0] * 4, [1] * 4, [2] * 4, [0] * 4, [1] * 4, [2] * 4]
    i = int(train.names[0][3:])
    assert train.images[0].shape == (6, 4, 3) and (train.images[0] == 10 * i).all()
    assert load(str(root), "train").names == train.names  # str or Path, same split every time
    assert load(root, "train", num_classes=5).info.num_classes == 5


def test_train_val_test_subfolders_are_used(tmp_path):
    _folder(tmp_path / "d" / "train", n=4)
    _folder(tmp_path / "d" / "val", n=2)
    assert len(load(tmp_path / "d", "train")) == 4 and len(load(tmp_path / "d", "val")) == 2
    assert "no test/" in _error(tmp_path / "d", "test")


def test_binary_0_255_masks_become_0_1(tmp_path):
    mask = np.array([[0, 255], [255, 0]], np.uint8)
    split = load(_folder(tmp_path / "d", n=1, size=(2, 2), mask=mask), "train")
    assert split.info.num_classes == 2 and split.info.mask_encoding == "binary_0_255"
    assert split.masks[0].tolist() == [[0, 1], [1, 0]]
    assert "These are binary masks (0 and 255)" in _error(tmp_path / "d", num_classes=3)


def test_16_bit_masks(tmp_path):
    mask = np.array([[0, 1], [2, 3]], np.uint16)
    root = _folder(tmp_path / "d", n=1, size=(2, 2), mask=mask)
    assert Image.open(root / "masks" / "img0.png").mode == "I;16"
    split = load(root, "train")
    assert split.masks[0].dtype == np.uint8 and split.masks[0].tolist() == [[0, 1], [2, 3]]
    _save(root / "masks" / "img0.png", np.array([[0, 1], [2, 300]], np.uint16))
    message = _error(root, num_classes=4)
    assert "img0.png has mask values outside the 4 classes 0..3" in message and "300" in message


def test_paletted_masks_give_their_indices_not_colours(tmp_path):
    mask = Image.fromarray(np.array([[0, 1], [2, 1]], np.uint8), "P")
    mask.putpalette([*RED, *GREEN, *BLUE] + [0] * (256 * 3 - 9))
    root = _folder(tmp_path / "d", n=1, size=(2, 2))
    _save(root / "masks" / "img0.png", mask)
    assert Image.open(root / "masks" / "img0.png").mode == "P"
    split = load(root, "train")
    assert split.masks[0].tolist() == [[0, 1], [2, 1]] and split.info.num_classes == 3


def test_rgb_colour_masks_through_a_palette(tmp_path):
    colours = np.array([[RED, GREEN], [BLUE, RED]], np.uint8)
    root = _folder(tmp_path / "d", n=1, size=(2, 2), mask=colours)
    as_dict = load(root, "train", palette={RED: 0, GREEN: 1, BLUE: 2})
    assert as_dict.masks[0].tolist() == [[0, 1], [2, 0]]
    assert as_dict.info.mask_encoding == "palette" and as_dict.info.num_classes == 3
    as_list = load(root, "train", palette=[GREEN, BLUE, RED])
    assert as_list.masks[0].tolist() == [[2, 0], [1, 2]]
    message = _error(root, palette={RED: 0, GREEN: 1})
    assert "img0.png has colours that are not in the palette" in message and "(0, 0, 255) (1 px)" in message
    message = _error(root)  # no palette: say how to give one
    fix = ("RGB colour-coded mask (3 colours, e.g. (0, 0, 255), (0, 255, 0), (255, 0, 0)): give load() "
           "palette={(r, g, b): class_index, ...} or a list of colours in class order, so each colour maps to a "
           "class (make_dataset reads no palette: load the folder first).")
    assert message == f"{root / 'masks' / 'img0.png'} is an {fix}"
    import tensorflow as tf

    from segutils.data import make_dataset  # mask paths: make_dataset has no palette= (nor MaskFormat), load has

    with pytest.raises(tf.errors.InvalidArgumentError) as err:  # raised in tf.numpy_function, while iterating
        next(iter(make_dataset(([root / "images" / "img0.png"], [root / "masks" / "img0.png"]), 32, 1)))
    assert fix in str(err.value)


def test_image_modes_grayscale_rgba_16bit(tmp_path):
    root = _folder(tmp_path / "d" / "train", n=3, size=(2, 2))  # a train/ subfolder: all three in one split
    _save(root / "images" / "img0.png", np.array([[0, 50], [100, 255]], np.uint8))  # L
    _save(root / "images" / "img1.png", np.array([[[1, 2, 3, 0]] * 2] * 2, np.uint8), "RGBA")
    _save(root / "images" / "img2.png", np.array([[0, 65535], [257, 514]], np.uint16))  # I;16
    split = load(tmp_path / "d", "train")
    assert split.names == ["img0", "img1", "img2"]
    gray, rgba, deep = split.images
    assert gray.shape == (2, 2, 3) and gray[..., 2].tolist() == [[0, 50], [100, 255]]
    assert (gray[..., 0] == gray[..., 1]).all()  # grayscale -> 3 equal channels
    assert rgba.shape == (2, 2, 3) and rgba[0, 0].tolist() == [1, 2, 3]  # alpha dropped
    assert deep[..., 0].tolist() == [[0, 255], [1, 2]]  # 16 bit scaled by 255 / 65535
    assert all(image.dtype == np.uint8 for image in split.images)


@pytest.mark.parametrize("ext, fmt", [(".JPG", "JPEG"), (".jpeg", "JPEG"), (".Tif", "TIFF"), (".BMP", "BMP")])
def test_jpeg_tiff_bmp_images_with_any_case_extension(tmp_path, ext, fmt):
    root = tmp_path / "d"
    _folder(root, n=1, size=(8, 8))
    (root / "images" / "img0.png").unlink()
    _save(root / "images" / f"img0{ext}", np.full((8, 8, 3), 200, np.uint8), format=fmt)
    split = load(root, "train")
    assert split.names == ["img0"] and split.images[0].shape == (8, 8, 3)
    assert np.abs(split.images[0].astype(int) - 200).max() <= 2  # JPEG is lossy, barely


def test_subset_keeps_a_seeded_selection(tmp_path):
    root = _folder(tmp_path / "d", n=20)
    full = load(root, "train")
    picked = load(root, "train", subset=5, seed=1)
    assert len(picked) == 5 and set(picked.names) <= set(full.names)
    assert load(root, "train", subset=5, seed=1).names == picked.names
    assert load(root, "train", subset=99).names == full.names
    with pytest.raises(ValueError, match=r"^subset must be a whole number >= 1 \(or None\), got 0 \(int\)"):
        load(root, "train", subset=0)


# ---- folders: failures --------------------------------------------------------------------------


def test_missing_directory_or_subfolders(tmp_path):
    assert "does not exist" in _error(tmp_path / "nope") and "images/ and masks/" in _error(tmp_path / "nope")
    assert "one of the dataset names membrane, camvid, streets, shapes" in _error("membrain")
    (tmp_path / "f.txt").write_text("x")
    assert "is a file, not a folder" in _error(tmp_path / "f.txt")
    (tmp_path / "d" / "images").mkdir(parents=True)
    message = _error(tmp_path / "d")
    assert "has no masks/ subfolder (it has images/)" in message


def test_no_images(tmp_path):
    (tmp_path / "d" / "masks").mkdir(parents=True)
    (tmp_path / "d" / "images").mkdir()
    (tmp_path / "d" / "images" / "a.gif").write_bytes(b"GIF89a")
    message = _error(tmp_path / "d")
    assert "holds no images (only .gif files)" in message and "PNG, JPG, JPEG, TIF, TIFF, BMP" in message


def test_unpaired_files_are_listed(tmp_path):
    root = _folder(tmp_path / "d", n=3)
    for i in range(3, 15):
        _save(root / "images" / f"img{i}.png", np.zeros((6, 4, 3), np.uint8))
    _save(root / "masks" / "other.png", np.zeros((6, 4), np.uint8))
    message = _error(root)
    assert "12 images without a mask: img3, img4," in message and "img12 ... and 2 more" in message
    assert "1 masks without an image: other" in message and "same name" in message


def test_size_mismatch_names_file_and_both_sizes(tmp_path):
    root = _folder(tmp_path / "d", n=1, size=(6, 4))
    _save(root / "masks" / "img0.png", np.zeros((3, 2), np.uint8))
    message = _error(root)
    assert "img0.png is 4x6 but its mask" in message and "is 2x3 (width x height)" in message
    assert "nearest-neighbour" in message


def test_mask_values_outside_the_classes(tmp_path):
    root = _folder(tmp_path / "d", n=1, size=(2, 2), mask=np.array([[0, 1], [7, 255]], np.uint8))
    message = _error(root, num_classes=3)
    assert "outside the 3 classes 0..2: 2 values: 7, 255" in message
    assert "num_classes=256" in message and "255 often marks pixels to ignore" in message
    _save(root / "masks" / "img0.png", np.arange(100, dtype=np.uint8).reshape(10, 10))
    _save(root / "images" / "img0.png", np.zeros((10, 10, 3), np.uint8))
    message = _error(root)  # 100 values: not class indices
    assert "too many to be class indices" in message and "lossy (JPEG)" in message


def test_corrupt_files_are_named(tmp_path):
    root = _folder(tmp_path / "d", n=1)
    (root / "images" / "img0.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    message = _error(root)
    assert f"Cannot read {root / 'images' / 'img0.png'}" in message and "re-export it" in message
    root = _folder(tmp_path / "e", n=1)
    data = (root / "masks" / "img0.png").read_bytes()
    (root / "masks" / "img0.png").write_bytes(data[: len(data) // 2])
    assert f"Cannot read {root / 'masks' / 'img0.png'}" in _error(root)


def test_too_few_pairs_for_a_split(tmp_path):
    root = _folder(tmp_path / "d", n=2)
    assert len(load(root, "train")) == 2
    assert "split 'val' is empty, 2 pairs are too few" in _error(root, "val")


def test_two_files_with_one_name(tmp_path):
    root = _folder(tmp_path / "d", n=1)
    _save(root / "images" / "img0.jpg", np.zeros((6, 4, 3), np.uint8))
    assert "several files per name: 1 clashes: img0.jpg and img0.png" in _error(root)


def test_shapes_subset_is_a_true_subset_of_the_split():
    full, some = load("shapes", "val", size=32), load("shapes", "val", size=32, subset=5)
    assert len(some) == 5 and set(some.names) <= set(full.names)
    for name, image, mask in zip(some.names, some.images, some.masks, strict=True):
        i = full.names.index(name)
        np.testing.assert_array_equal(image, full.images[i])
        np.testing.assert_array_equal(mask, full.masks[i])
    with pytest.raises(ValueError, match=r"^subset must be a whole number >= 1 \(or None\), got 0 \(int\): "
                       r"how many pairs to keep, or None for all$"):
        load("shapes", "val", size=32, subset=0)
