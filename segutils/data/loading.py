"""Loading a split of a dataset, or of your own folder, as lists of ``uint8`` arrays.

Images come back ``H x W x C`` (C = 1 for grayscale datasets, 3 for RGB ones; alpha is
dropped, grayscale images in an RGB dataset get 3 equal channels). Masks come back
``H x W`` class indices. Anything wrong with a folder raises a :class:`DataError` that
names the files and says how to fix them. Taught in ``notebooks/01_data.ipynb``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

from .downloads import data_root
from .downloads import download as _fetch
from .registry import DATASETS, SPLITS, DatasetInfo, natural_key, read_manifest, seeded_split, split_names

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
SHAPES_SIZES = {"train": 64, "val": 16, "test": 16}
MAX_INFERRED_CLASSES = 64  # more distinct mask values than this are not class indices
MAX_LISTED = 10


class DataError(ValueError):
    """A dataset or folder cannot be loaded; the message says which files and how to fix them."""


@dataclass(repr=False)
class Split:
    """One split of a dataset: images, masks and names, in the same order.

    Taught in ``notebooks/01_data.ipynb``.

    Attributes:
        info: the dataset's :class:`DatasetInfo` (for a folder: its path, classes, encoding).
        name: ``train``, ``val`` or ``test``.
        images: ``uint8`` arrays ``H x W x C``.
        masks: ``uint8`` arrays ``H x W`` of class indices.
        names: file stem (or generated name) of each pair.
    """

    info: DatasetInfo
    name: str
    images: list[np.ndarray]
    masks: list[np.ndarray]
    names: list[str]

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        shape = self.images[0].shape if self.images else None
        return (
            f"Split({self.info.name!r}, {self.name!r}, {len(self)} pairs, "
            f"{self.info.num_classes} classes, first image {shape})"
        )


def _listing(items, what: str) -> str:
    items = list(items)
    more = f" ... and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else ""
    return f"{len(items)} {what}: {', '.join(map(str, items[:MAX_LISTED]))}{more}"


def _open(path: Path) -> Image.Image:
    try:
        image = Image.open(path)
        image.load()
        return image
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise DataError(
            f"Cannot read {path}: {err}. The file is damaged or not an image: re-export it as PNG "
            "(or JPEG, TIFF, BMP for images), or remove it together with its partner."
        ) from err


def read_image(path: Path, channels: int = 3) -> np.ndarray:
    """One image as ``uint8`` ``H x W x channels`` (16-bit images are scaled by 255/65535)."""
    image = _open(path)
    if image.mode.startswith("I;16") or image.mode == "I":
        array = np.asarray(image).astype(np.float64)
        image = Image.fromarray((array / 257).round().clip(0, 255).astype(np.uint8))
    elif image.mode == "F":
        raise DataError(f"{path} holds floating-point pixels: save it as an 8-bit PNG or TIFF.")
    gray = image.mode in ("1", "L", "LA")
    image = image.convert("L" if gray or channels == 1 else "RGB")  # RGBA, P, CMYK -> RGB; alpha dropped
    array = np.asarray(image, dtype=np.uint8)
    if array.ndim == 2:
        array = array[..., None]
    return np.repeat(array, 3, axis=2) if channels == 3 and array.shape[2] == 1 else array


def _palette_map(palette) -> dict[tuple[int, int, int], int]:
    items = palette.items() if isinstance(palette, dict) else enumerate(palette)
    mapping = {}
    for key, value in items:
        colour, index = (key, value) if isinstance(palette, dict) else (value, key)
        colour = tuple(int(c) for c in colour)
        if len(colour) != 3 or not all(0 <= c <= 255 for c in colour) or int(index) < 0:
            raise DataError(f"Palette entry {colour} -> {index} is not an (r, g, b) colour -> class index >= 0.")
        mapping[colour] = int(index)
    return mapping


def read_mask(path: Path, palette: dict | None = None) -> np.ndarray:
    """Raw values of one mask: palette indices of ``P`` PNGs, RGB mapped through ``palette``."""
    image = _open(path)
    if palette is not None:
        palette = _palette_map(palette)
        rgb = np.asarray(image.convert("RGB")).astype(np.int32)
        keys = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
        found, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
        colours = [((k >> 16) & 255, (k >> 8) & 255, k & 255) for k in found.tolist()]
        unknown = [f"{c} ({n} px)" for c, n in zip(colours, counts.tolist(), strict=True) if c not in palette]
        if unknown:
            raise DataError(
                f"{path} has colours that are not in the palette: {_listing(unknown, 'colours')}. "
                "Add each to the palette with its class index (anti-aliased edges? export masks without "
                "smoothing)."
            )
        return np.array([palette[c] for c in colours], dtype=np.int64)[inverse].reshape(keys.shape)
    if image.mode == "P":
        return np.asarray(image)  # palette indices, not colours
    if image.mode in ("1", "LA"):
        image = image.convert("L")
    array = np.asarray(image)
    if image.mode in ("RGB", "RGBA", "RGBX"):
        array = array[..., :3]
        if (array == array[..., :1]).all():
            return array[..., 0]
        colours = np.unique(array.reshape(-1, 3), axis=0)
        raise DataError(
            f"{path} is an RGB colour-coded mask ({len(colours)} colours, e.g. "
            f"{', '.join(str(tuple(c)) for c in colours[:4].tolist())}): pass palette={{(r, g, b): class_index, ...}} "
            "or a list of colours in class order, so each colour maps to a class."
        )
    if array.ndim != 2 or array.dtype.kind not in "ui":
        raise DataError(f"{path} has mode {image.mode}, which is not a mask: save it as an 8-bit or 16-bit PNG.")
    return array


def _value_hint(values: list[int], path: Path) -> str:
    if set(values) <= {0, 255}:
        return "These are binary masks (0 and 255): leave num_classes out, or pass num_classes=2, to read them as 0/1."
    if len(values) > 32 or path.suffix.lower() in (".jpg", ".jpeg"):
        return (
            "That many values look like a photo or a lossy (JPEG) mask: save masks losslessly (PNG) with one "
            "value per class, or as RGB colour codes with palette=...; an RGB mask also needs palette=...."
        )
    ignore = " (255 often marks pixels to ignore)" if 255 in values else ""
    return (
        f"Pass num_classes={max(values) + 1} if all of them are classes, or remap the stray values{ignore} to a class."
    )


def to_classes(raw: np.ndarray, encoding: str, num_classes: int, path: Path) -> np.ndarray:
    """Raw mask values -> ``uint8`` class indices, checked against ``num_classes``."""
    values = np.unique(raw).tolist()
    if encoding == "binary_0_255":
        if not set(values) <= {0, 255}:
            raise DataError(f"{path} should hold only 0 and 255 but has values {values[:MAX_LISTED]}.")
        return (raw == 255).astype(np.uint8)
    if values and (values[0] < 0 or values[-1] >= num_classes):
        stray = [v for v in values if not 0 <= v < num_classes]
        raise DataError(
            f"{path} has mask values outside the {num_classes} classes 0..{num_classes - 1}: "
            f"{_listing(stray, 'values')} (all values: {values[: MAX_LISTED * 2]}). {_value_hint(values, path)}"
        )
    return raw.astype(np.uint8)


def _files(folder: Path) -> dict[str, Path]:
    found: dict[str, list[Path]] = {}
    for path in folder.iterdir():
        if path.is_file() and not path.name.startswith(".") and path.suffix.lower() in IMAGE_EXTENSIONS:
            found.setdefault(path.stem, []).append(path)
    doubles = [" and ".join(p.name for p in sorted(paths)) for paths in found.values() if len(paths) > 1]
    if doubles:
        raise DataError(f"{folder} holds several files per name: {_listing(doubles, 'clashes')}. Keep one of each.")
    return {stem: paths[0] for stem, paths in found.items()}


def folder_pairs(base: Path) -> dict[str, tuple[Path, Path]]:
    """``{stem: (image, mask)}`` of ``base/images`` and ``base/masks``, paired by file stem."""
    for sub in ("images", "masks"):
        if not (base / sub).is_dir():
            present = sorted(p.name + "/" for p in base.iterdir() if p.is_dir()) or ["no subfolders"]
            raise DataError(
                f"{base} has no {sub}/ subfolder (it has {', '.join(present)}). A dataset folder holds images/ "
                "and masks/ with one mask per image under the same name (a.jpg <-> a.png), or train/, val/, "
                "test/ subfolders that each hold images/ and masks/."
            )
    images, masks = _files(base / "images"), _files(base / "masks")
    if not images:
        other = sorted({p.suffix.lower() or p.name for p in (base / "images").iterdir() if p.is_file()})
        raise DataError(
            f"{base / 'images'} holds no images" + (f" (only {', '.join(other)} files)" if other else "") + ": "
            f"put your images there as {', '.join(e.lstrip('.').upper() for e in IMAGE_EXTENSIONS)} files."
        )
    lonely_images = sorted(images.keys() - masks.keys(), key=natural_key)
    lonely_masks = sorted(masks.keys() - images.keys(), key=natural_key)
    if lonely_images or lonely_masks:
        parts = [_listing(lonely_images, "images without a mask")] if lonely_images else []
        parts += [_listing(lonely_masks, "masks without an image")] if lonely_masks else []
        raise DataError(
            f"{base}: {'; '.join(parts)}. Each image needs a mask with the same name (the extension may "
            "differ): add or rename the missing files, or remove the extra ones."
        )
    return {stem: (images[stem], masks[stem]) for stem in sorted(images, key=natural_key)}


def _take(items: list, subset: int | None, seed: int) -> list:
    if subset is None or subset >= len(items):
        return items
    if subset < 1:
        raise ValueError(f"subset must be a positive number of pairs or None, not {subset}")
    keep = sorted(np.random.default_rng(seed).permutation(len(items))[:subset].tolist())
    return [items[i] for i in keep]


def _read_pairs(pairs, channels, encoding, num_classes, palette=None, raw=None):
    images, masks = [], []
    for image_path, mask_path in pairs:
        image = read_image(image_path, channels)
        mask = raw[mask_path] if raw is not None else read_mask(mask_path, palette)
        if image.shape[:2] != mask.shape:
            (h, w), (mh, mw) = image.shape[:2], mask.shape
            raise DataError(
                f"{image_path.name} is {w}x{h} but its mask {mask_path} is {mw}x{mh} (width x height): a mask "
                "must match its image pixel for pixel. Re-export the mask at the image's size (nearest-neighbour "
                "resampling only), or crop or resize both the same way."
            )
        images.append(image)
        masks.append(to_classes(mask, encoding, num_classes, mask_path))
    return images, masks


def _load_registry(meta: DatasetInfo, split, data_dir, subset, seed, fetch) -> Split:
    _, entries = read_manifest(meta.manifest)
    pairs = _take(split_names(entries, meta.name)[split], subset, seed)
    root = data_root(data_dir) / meta.name
    sizes = {e.path: e.size for e in entries}
    bad = [p for pair in pairs for p in pair if not (root / p).is_file() or (root / p).stat().st_size != sizes[p]]
    if bad:
        if not fetch:
            raise DataError(
                f"{meta.name}: {_listing(bad, 'files missing or incomplete')} in {root}. Run `make data` "
                f"(or `python -m segutils.data download {meta.name}`), or call load(..., download=True)."
            )
        _fetch(meta.name, data_dir)
    paths = [(root / i, root / m) for i, m in pairs]
    images, masks = _read_pairs(paths, meta.channels, meta.mask_encoding, meta.num_classes)
    return Split(meta, split, images, masks, [Path(i).stem for i, _ in pairs])


def _load_shapes(split, subset, seed, size) -> Split:
    from .shapes import make_shapes

    n = SHAPES_SIZES[split] if subset is None else min(subset, SHAPES_SIZES[split])
    # seed * 3 + split number: the three splits never share a seed, whatever seed you pick.
    images, masks = make_shapes(n, size, seed * 3 + SPLITS.index(split))
    names = [f"shapes_{split}_{i:03d}" for i in range(n)]
    return Split(DATASETS["shapes"], split, list(images), list(masks), names)


def _load_folder(root: Path, split, subset, seed, palette, num_classes) -> Split:
    if not root.is_dir():
        what = "is a file, not a folder" if root.exists() else "does not exist"
        raise DataError(
            f"{root} {what}. Pass a folder holding images/ and masks/ (or train/, val/, test/ with both), "
            f"or one of the dataset names {', '.join(n for n in DATASETS if n != 'folder')}."
        )
    split_dirs = [s for s in SPLITS if (root / s).is_dir()]
    if split_dirs:
        if split not in split_dirs:
            raise DataError(f"{root} has the split folders {split_dirs} but no {split}/: add it or load another.")
        every = {s: folder_pairs(root / s) for s in split_dirs}
        chosen = list(every[split].items())
    else:
        every = {"all": folder_pairs(root)}
        names = seeded_split(every["all"])[split]
        chosen = [(stem, every["all"][stem]) for stem in names]
        if not chosen:
            raise DataError(
                f"{root}: split {split!r} is empty, {len(every['all'])} pairs are too few for a 70/15/15 split. "
                "Add pairs, make train/, val/, test/ subfolders, or load split='train'."
            )
    chosen = _take(chosen, subset, seed)
    mapping = _palette_map(palette) if palette is not None else None
    scan = [pair[1] for pairs in every.values() for pair in pairs.values()] if num_classes is None else []
    wanted, raw, found = {pair[1] for _, pair in chosen}, {}, set()
    for path in dict.fromkeys(scan + [pair[1] for _, pair in chosen]):  # keep only the chosen masks
        array = read_mask(path, mapping)
        found.update(np.unique(array).tolist())
        if path in wanted:
            raw[path] = array
    values = sorted(found)
    if mapping is not None:
        encoding, num_classes = "palette", num_classes or max(mapping.values()) + 1
    elif set(values) <= {0, 255} and 255 in values and num_classes in (None, 2):
        encoding, num_classes = "binary_0_255", 2
    else:
        encoding = "index"
        if num_classes is None:
            num_classes = max(values, default=0) + 1
            if num_classes > MAX_INFERRED_CLASSES:
                raise DataError(
                    f"{root}: the masks hold {len(values)} values up to {values[-1]}, too many to be class "
                    f"indices 0..K-1. {_value_hint(values, Path(scan[0]))} Or pass num_classes=... explicitly."
                )
    names = (
        ("background", "foreground") if encoding == "binary_0_255" else tuple(f"class_{i}" for i in range(num_classes))
    )
    meta = replace(
        DATASETS["folder"], name=str(root), num_classes=num_classes, class_names=names, mask_encoding=encoding
    )
    images, masks = _read_pairs([pair for _, pair in chosen], meta.channels, encoding, num_classes, raw=raw)
    return Split(meta, split, images, masks, [stem for stem, _ in chosen])


def load(
    name_or_folder: str | os.PathLike,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    subset: int | None = None,
    seed: int = 0,
    palette: dict | list | None = None,
    num_classes: int | None = None,
    download: bool = True,
    size: int | tuple[int, int] = 128,
) -> Split:
    """Load one split of a registry dataset or of your own folder.

    Taught in ``notebooks/01_data.ipynb``.

    Args:
        name_or_folder: ``membrane``, ``camvid``, ``shapes``, or a folder path holding
            ``images/`` and ``masks/`` (paired by file stem), or ``train/``, ``val/``,
            ``test/`` subfolders that each hold both. Without them, a fixed 70/15/15 split.
        split: ``train``, ``val`` or ``test``.
        data_dir: download cache (see :mod:`segutils.data.downloads`).
        subset: keep at most this many pairs, the first after a shuffle seeded by ``seed``.
        seed: seeds ``subset`` and the shapes generator; never the split itself.
        palette: folders with RGB colour-coded masks: ``{(r, g, b): class_index}`` or a
            list of colours in class order.
        num_classes: folders: number of classes (default: from the palette or the masks;
            masks of only 0 and 255 are binary, read as 0/1).
        download: fetch missing files of a registry dataset (else raise, pointing to ``make data``).
        size: side (or ``(height, width)``) of generated ``shapes`` images; ignored otherwise.

    Returns:
        A :class:`Split`.

    Raises:
        DataError: a folder or file cannot be used; the message says how to fix it.
    """
    if split not in SPLITS:
        raise DataError(f"Unknown split {split!r}: use one of {', '.join(SPLITS)}.")
    key = name_or_folder.strip().lower() if isinstance(name_or_folder, str) else None
    if key == "folder":
        raise DataError("Pass the folder's path itself, e.g. load('path/to/my_data'), not 'folder'.")
    if key == "shapes":
        return _load_shapes(split, subset, seed, size)
    if key in DATASETS:
        return _load_registry(DATASETS[key], split, data_dir, subset, seed, download)
    return _load_folder(Path(name_or_folder).expanduser(), split, subset, seed, palette, num_classes)
