"""Loading a split of a dataset or of your own folder as ``uint8`` arrays; a folder's faults raise DataError.

Taught in ``notebooks/01_data.ipynb``."""

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..checks import is_whole, whole
from . import registry
from .files import DataError, decide_encoding, folder_pairs, listing, palette_map, read_image, read_mask, to_classes
from .registry import DATASETS, SPLITS, DatasetInfo, check_file, data_root, read_manifest, seeded_split, split_names
from .shapes import make_shapes, make_streets

SHAPES_SIZES = {"train": 64, "val": 16, "test": 16}


@dataclass(repr=False)
class Split:
    """One split of a dataset: ``uint8`` images ``H x W x C``, masks ``H x W``, names, and the dataset's ``info``."""

    info: DatasetInfo
    name: str
    images: list[np.ndarray]
    masks: list[np.ndarray]
    names: list[str]

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        shape = self.images[0].shape if self.images else None
        return (f"Split({self.info.name!r}, {self.name!r}, {len(self)} pairs, {self.info.num_classes} classes, "
                f"first image {shape})")


def _take(items: list, subset: int | None, seed: int) -> list:
    subset = whole(subset, "subset", none_ok=True, fix="how many pairs to keep, or None for all")
    if subset is None or subset >= len(items):
        return items
    keep = sorted(np.random.default_rng(seed).permutation(len(items))[:subset].tolist())
    return [items[i] for i in keep]


def _read_pairs(pairs, channels, encoding, num_classes, raw=None, ignore_index=None):
    images, masks = [], []
    for image_path, mask_path in pairs:
        image = read_image(image_path, channels)
        mask = raw[mask_path] if raw is not None else read_mask(mask_path)
        if image.shape[:2] != mask.shape:
            (h, w), (mh, mw) = image.shape[:2], mask.shape
            raise DataError(f"{image_path.name} is {w}x{h} but its mask {mask_path} is {mw}x{mh} (width x height): a "
                            "mask must match its image pixel for pixel. Re-export the mask at the image's size "
                            "(nearest-neighbour resampling only), or crop or resize both the same way.")
        images.append(image)
        masks.append(to_classes(mask, encoding, num_classes, mask_path, ignore_index))
    return images, masks


def _load_registry(meta: DatasetInfo, split, data_dir, subset, seed) -> Split:
    _, entries = read_manifest(meta.manifest)
    pairs = _take(split_names(entries, meta.name)[split], subset, seed)
    root = data_root(data_dir) / meta.name
    by_path = {e.path: e for e in entries}
    bad = [p for pair in pairs for p in pair if check_file(root / p, by_path[p], full=False)]
    where = f", data_dir={str(data_dir)!r}" if data_dir else ""
    make_data = (f"`make data` (or `python -m segutils.course.data download {meta.name}`), or in a notebook "
                 f'`from segutils import course; course.fetch("{meta.name}"{where})`')
    if bad:
        raise DataError(f"{meta.name}: {listing(bad, 'files missing or incomplete')} in {root}. Run {make_data}.")
    paths = [(root / i, root / m) for i, m in pairs]
    try:
        images, masks = _read_pairs(paths, meta.channels, meta.mask_encoding, meta.num_classes)
    except DataError:  # a cached file of the right size that does not decode: damaged on disk
        damaged = [p for pair in pairs for p in pair if check_file(root / p, by_path[p], full=True)]
        if not damaged:
            raise
        raise DataError(f"{meta.name}: {listing(damaged, 'damaged files')} in {root} (the right size, but not the "
                        f"bytes the manifest's SHA-256 names). Run the download again: {make_data}; it fetches only "
                        "the damaged files.") from None
    return Split(meta, split, images, masks, [Path(i).stem for i, _ in pairs])


def _load_synthetic(name: str, split, subset, seed, size) -> Split:
    # seed * 3 + split number: the three splits never share a seed, whatever seed you pick.
    make = make_shapes if name == "shapes" else make_streets
    images, masks = make(SHAPES_SIZES[split], size, seed * 3 + SPLITS.index(split))
    names = [f"{name}_{split}_{i:03d}" for i in range(len(images))]
    kept = _take(list(zip(images, masks, names, strict=True)), subset, seed)  # a true subset, as for files
    return Split(DATASETS[name], split, [k[0] for k in kept], [k[1] for k in kept], [k[2] for k in kept])


DECLARED = ("num_classes", "ignore_index", "class_names")


def _declared(root: Path) -> dict:
    """What ``<root>/dataset.json`` declares (any of ``num_classes``, ``ignore_index``, ``class_names``)."""
    path = root / "dataset.json"
    if not path.is_file():
        return {}
    example = '{"ignore_index": 255, "class_names": ["background", "cell"]}'
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise DataError(f"{path} is not valid JSON ({err}); write e.g. {example}") from None
    if not isinstance(found, dict) or set(found) - set(DECLARED):
        raise DataError(f"{path} may declare only {', '.join(DECLARED)}, e.g. {example}; it holds {found!r}.")
    count, names = found.get("num_classes"), found.get("class_names")
    if count is not None and not is_whole(count, 2):
        raise DataError(f'{path}: "num_classes" must be a whole number >= 2 (no quotes: "num_classes": 2), '
                        f"got {count!r}")
    if names is not None and not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        raise DataError(f'{path}: "class_names" must be a list of names, one per class (e.g. ["background", '
                        f'"cell"]), got {names!r}')
    return found


def _load_folder(root: Path, split, subset, seed, palette, num_classes, ignore_index=None) -> Split:
    if not root.is_dir():
        what = "is a file, not a folder" if root.exists() else "does not exist"
        raise DataError(f"{root} {what}. Pass a folder holding images/ and masks/ (or train/, val/, test/ with both), "
                        f"or one of the dataset names {', '.join(n for n in DATASETS if n != 'folder')}.")
    declared = _declared(root)
    num_classes = num_classes if num_classes is not None else declared.get("num_classes")
    ignore_index = ignore_index if ignore_index is not None else declared.get("ignore_index")
    if ignore_index is not None and not (is_whole(ignore_index, 0) and ignore_index <= 255):
        raise DataError(f"ignore_index must be a mask value 0..255 (e.g. 255 for unlabelled pixels) or None, got "
                        f"{ignore_index!r}")
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
            raise DataError(f"{root}: split {split!r} is empty, {len(every['all'])} pairs are too few for a 70/15/15 "
                            "split. Add pairs, make train/, val/, test/ subfolders, or load split='train'.")
    chosen = _take(chosen, subset, seed)
    mapping = palette_map(palette) if palette is not None else None
    scan = [pair[1] for pairs in every.values() for pair in pairs.values()] if num_classes is None else []
    wanted, raw, per_file = {pair[1] for _, pair in chosen}, {}, {}
    for path in dict.fromkeys(scan + [pair[1] for _, pair in chosen]):  # keep only the chosen masks
        array = read_mask(path, mapping)
        per_file[path] = np.unique(array).tolist()
        if path in wanted:
            raw[path] = array
    if mapping is not None:
        encoding, num_classes = "palette", num_classes or max(mapping.values()) + 1
    else:
        encoding, num_classes = decide_encoding(per_file, num_classes, ignore_index, str(root))
    names = tuple(declared.get("class_names", ()))
    if names and len(names) != num_classes:
        raise DataError(f"{root / 'dataset.json'} names {len(names)} classes but the masks have {num_classes} "
                        f"(0..{num_classes - 1}): give one name per class")
    if not names:
        names = tuple(f"class_{i}" for i in range(num_classes))
        names = ("background", "foreground") if encoding == "binary_0_255" else names
    meta = replace(DATASETS["folder"], name=str(root), num_classes=num_classes, class_names=names,
                   mask_encoding=encoding, ignore_index=ignore_index)
    images, masks = _read_pairs([pair for _, pair in chosen], meta.channels, encoding, num_classes, raw, ignore_index)
    held = sorted(set().union(*per_file.values()) - {ignore_index})
    if len(held) < 2:
        fix = ("no pixel is marked: are the labels missing, or saved in another folder?" if held == [0] else
               "the other class (background, 0) is missing: re-export the masks with it")
        value = held[0] if held else ignore_index
        raise DataError(f"{root}: all {len(per_file)} masks read hold only the value {value} (one class), so "
                        f"there is nothing to tell apart; {fix}")
    return Split(meta, split, images, masks, [stem for stem, _ in chosen])


def load(name_or_folder: str | os.PathLike, split: str = "train", data_dir: str | os.PathLike | None = None,
         subset: int | None = None, seed: int = 0, palette: dict | list | None = None, num_classes: int | None = None,
         size: int | tuple[int, int] = 128, ignore_index: int | None = None) -> Split:
    """One :class:`Split` of ``membrane``, ``camvid``, ``shapes`` or a folder (``images/`` and ``masks/``, or
    ``train/``, ``val/``, ``test/`` with both; a ``dataset.json`` may declare ``num_classes``, ``ignore_index``,
    ``class_names``).

    ``subset`` keeps that many pairs (seeded by ``seed``); ``palette`` maps RGB masks to classes; ``num_classes``
    and ``ignore_index`` override a folder's; ``size``: the shapes' side. A dataset's files are read from disk,
    never downloaded: a :class:`DataError` says what to run when they are missing or damaged.
    Taught in ``notebooks/01_data.ipynb``."""
    if split not in SPLITS:
        raise DataError(f"Unknown split {split!r}: use one of {', '.join(SPLITS)}.")
    key = registry.registered(name_or_folder)
    if key == "folder":
        raise DataError("Pass the folder's path itself, e.g. load('path/to/my_data'), not 'folder'.")
    if key in ("shapes", "streets"):
        return _load_synthetic(key, split, subset, seed, size if key == "shapes" else (120, 160))
    if key is not None:
        return _load_registry(DATASETS[key], split, data_dir, subset, seed)
    return _load_folder(Path(name_or_folder).expanduser(), split, subset, seed, palette, num_classes, ignore_index)
