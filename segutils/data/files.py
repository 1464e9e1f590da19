"""Reading image and mask files (never JPEG masks) and pairing them by file stem; errors name files and fix.

Taught in ``notebooks/01_data.ipynb``."""

from pathlib import Path

import numpy as np
from PIL import Image

from .registry import natural_key

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
MAX_INFERRED_CLASSES = 64  # more distinct mask values than this are not class indices
MAX_LISTED = 10


class DataError(ValueError):
    """A dataset or folder cannot be loaded; the message says which files and how to fix them."""


def listing(items, what: str) -> str:
    items = list(items)
    more = f" ... and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else ""
    return f"{len(items)} {what}: {', '.join(map(str, items[:MAX_LISTED]))}{more}"


def _open(path: Path) -> Image.Image:
    try:
        image = Image.open(path)
        image.load()
        return image
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise DataError(f"Cannot read {path}: {err}. The file is damaged or not an image: re-export it as PNG (or "
                        "JPEG, TIFF, BMP for images), or remove it together with its partner.") from err


def jpeg_masks_error(paths, where: str) -> DataError:
    """The refusal of JPEG masks: what JPEG does to them, and the fix."""
    return DataError(f"{listing([Path(p).name for p in paths], 'JPEG masks')} in {where}: JPEG compression changes "
                     "pixel values at every edge, so a JPEG mask holds classes that were never drawn. Save the masks "
                     "as PNG (lossless) from your labelling tool; converting the JPEGs keeps the damage (binary "
                     "masks: threshold at 128, then save as PNG).")


def read_image(path: Path, channels: int = 3) -> np.ndarray:
    """One image as ``uint8`` ``H x W x channels`` (16-bit images are scaled by 255/65535)."""
    image = _open(path)
    if image.mode.startswith("I;16") or image.mode == "I":
        image = Image.fromarray((np.asarray(image) / 257).round().clip(0, 255).astype(np.uint8))
    elif image.mode == "F":
        raise DataError(f"{path} holds floating-point pixels: save it as an 8-bit PNG or TIFF.")
    array = np.asarray(image.convert("L" if channels == 1 else "RGB"), dtype=np.uint8)  # grey repeated, alpha dropped
    return array[..., None] if channels == 1 else array


def palette_map(palette) -> dict[tuple[int, int, int], int]:
    items = palette.items() if isinstance(palette, dict) else ((colour, i) for i, colour in enumerate(palette))
    mapping = {}
    for colour, index in items:
        colour = tuple(int(c) for c in colour)
        if len(colour) != 3 or not all(0 <= c <= 255 for c in colour) or int(index) < 0:
            raise DataError(f"Palette entry {colour} -> {index} is not an (r, g, b) colour -> class index >= 0.")
        mapping[colour] = int(index)
    return mapping


def read_mask(path: Path, palette: dict | None = None) -> np.ndarray:
    """Raw values of one mask: a ``P`` PNG's palette indices, RGB mapped by ``palette`` (a palette_map); no JPEG."""
    image = _open(path)  # .jpg names are refused by the callers, with all of them named at once
    if image.format == "JPEG":
        raise jpeg_masks_error([path], f"{Path(path).parent} (JPEG inside, whatever the name says)")
    if palette is not None:
        rgb = np.asarray(image.convert("RGB")).astype(np.int32)
        keys = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
        found, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
        colours = [((k >> 16) & 255, (k >> 8) & 255, k & 255) for k in found.tolist()]
        unknown = [f"{c} ({n} px)" for c, n in zip(colours, counts.tolist(), strict=True) if c not in palette]
        if unknown:
            raise DataError(f"{path} has colours that are not in the palette: {listing(unknown, 'colours')}. "
                            "Add each to the palette with its class index (anti-aliased edges? export masks without "
                            "smoothing).")
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
        examples = ", ".join(str(tuple(c)) for c in colours[:4].tolist())
        raise DataError(f"{path} is an RGB colour-coded mask ({len(colours)} colours, e.g. {examples}): give "
                        "load() palette={(r, g, b): class_index, ...} or a list of colours in class order, so each "
                        "colour maps to a class (make_dataset reads no palette: load the folder first).")
    if array.ndim != 2 or array.dtype.kind not in "ui":
        raise DataError(f"{path} has mode {image.mode}, which is not a mask: save it as an 8-bit or 16-bit PNG.")
    return array


def binary_top(values, ignore_index: int | None = None) -> int | None:
    """255 or 65535 when ``values`` (the ignore index aside) are only 0 and that value; else None."""
    rest = set(values) - {ignore_index}
    return next((top for top in (255, 65535) if top in rest and rest <= {0, top}), None)


def value_hint(values: list[int], path: Path, num_classes: int | None = None) -> str:
    """What to do about mask ``values`` that are not class indices 0..num_classes-1 (never back where we came from)."""
    top = binary_top(values)
    if top is not None and num_classes == 2:  # one 0/255 mask among 0/1 ones, or binary read as indices
        return (f"This mask is binary 0/{top} while the others are read as 0/1: re-save it as 0/1 (np.asarray(mask) "
                f"// {top}) if the other masks are 0/1; if all masks are 0/{top}, they are read as 0/1 by load() "
                "without num_classes, or by MaskFormat(encoding='binary_0_255') in make_dataset.")
    if top is not None:
        return (f"These are binary masks (0 and {top}): load() reads them as 0/1 without num_classes or with "
                "num_classes=2, make_dataset with MaskFormat(encoding='binary_0_255').")
    if len(values) > 32 or path.suffix.lower() in (".jpg", ".jpeg"):
        return ("That many values look like a photo or a lossy (JPEG) mask: save masks losslessly (PNG) with one "
                "value per class, or as RGB colour codes with palette=...; an RGB mask also needs palette=....")
    void = (" 255 often marks pixels to ignore: then pass ignore_index=255 (or put {\"ignore_index\": 255} in the "
            "folder's dataset.json)." if 255 in values else "")
    return f"Pass num_classes={max(values) + 1} if all of them are classes, or remap the stray values to a class.{void}"


def to_classes(raw: np.ndarray, encoding: str, num_classes: int, path: Path, ignore_index: int | None = None):
    """Raw mask values -> class indices (``uint8``, ``int32`` over 256 classes), checked against ``num_classes``."""
    values = np.unique(raw).tolist()
    if encoding == "binary_0_255":
        top = binary_top(values, ignore_index) or (255 if set(values) - {ignore_index} <= {0} else None)
        if top is None:
            already = (" It is 0/1 already: one folder must use one encoding, so re-save the 0/255 masks as 0/1 "
                       "(np.asarray(mask) // 255) and read all of them as class indices." if set(values) <= {0, 1}
                       else "")
            raise DataError(f"{path} should hold only 0 and 255 but has values {values[:MAX_LISTED]}.{already}")
        out = (raw == top).astype(np.uint8)
        if ignore_index is not None:
            out[raw == ignore_index] = ignore_index
        return out
    stray = [v for v in values if not 0 <= v < num_classes and v != ignore_index]
    if stray:
        raise DataError(f"{path} has mask values outside the {num_classes} classes 0..{num_classes - 1}: "
                        f"{listing(stray, 'values')} (all values: {values[: MAX_LISTED * 2]}). "
                        f"{value_hint(values, path, num_classes)}")
    return raw.astype(np.uint8 if num_classes <= 256 else np.int32)  # 16-bit masks: class 300 is not 44


def _named(paths) -> str:
    return ", ".join(Path(p).name for p in paths[:MAX_LISTED]) + (" ..." if len(paths) > MAX_LISTED else "")


def decide_encoding(per_file: dict, num_classes: int | None, ignore_index: int | None, where: str):
    """``(encoding, num_classes)`` of a folder's masks: binary when all are 0/255 (or 0/65535); a mix is refused."""
    values = sorted(set().union(*per_file.values()) - {ignore_index})
    binary = [p for p, v in per_file.items() if binary_top(v, ignore_index)]
    index = [p for p, v in per_file.items() if p not in binary and set(v) - {ignore_index, 0}]
    if binary and not index and num_classes in (None, 2):
        return "binary_0_255", 2
    top = binary_top(per_file[binary[0]], ignore_index) if binary else None
    if binary and index and not any(top in per_file[p] for p in index):  # 0/255 masks beside 0/1 masks
        held = sorted(set().union(*(per_file[p] for p in index)))[:MAX_LISTED]
        if len(binary) <= len(index):
            found = (f"{len(binary)} of the masks hold only 0 and {top} ({_named(binary)}), the other {len(index)} "
                     f"hold {held}")
            fix = (f"Re-save those {len(binary)} as 0/1 (np.asarray(mask) // {top}); or, if {top} marks pixels to "
                   f'leave out, pass ignore_index={top} (or put {{"ignore_index": {top}}} in the folder\'s '
                   "dataset.json).")
        else:
            found = (f"{len(index)} of the masks hold {held} ({_named(index)}), the other {len(binary)} hold only 0 "
                     f"and {top}")
            fix = f"Re-save those {len(index)} as 0/{top} (np.asarray(mask) * {top}) if they are binary too."
        raise DataError(f"{where}: {found}: one folder must use one encoding. {fix}")
    if num_classes is None:
        num_classes = max(values, default=0) + 1
        if num_classes > MAX_INFERRED_CLASSES:
            worst = [p for p, v in per_file.items() if max(set(v) - {ignore_index}, default=0) >= MAX_INFERRED_CLASSES]
            raise DataError(f"{where}: the masks hold {listing(values, 'values')}, too many to be class indices 0..K-1 "
                            f"({num_classes} classes; in {listing([Path(p).name for p in worst], 'masks')}). "
                            f"{value_hint(values, Path(worst[0]))} Or pass num_classes=... explicitly.")
    return "index", num_classes


def _files(folder: Path) -> dict[str, Path]:
    found: dict[str, list[Path]] = {}
    for path in folder.iterdir():
        if path.is_file() and not path.name.startswith(".") and path.suffix.lower() in IMAGE_EXTENSIONS:
            found.setdefault(path.stem, []).append(path)
    doubles = [" and ".join(p.name for p in sorted(paths)) for paths in found.values() if len(paths) > 1]
    if doubles:
        raise DataError(f"{folder} holds several files per name: {listing(doubles, 'clashes')}. Keep one of each.")
    return {stem: paths[0] for stem, paths in found.items()}


def folder_pairs(base: Path) -> dict[str, tuple[Path, Path]]:
    """``{stem: (image, mask)}`` of ``base/images`` and ``base/masks``, paired by file stem."""
    for sub in ("images", "masks"):
        if not (base / sub).is_dir():
            present = sorted(p.name + "/" for p in base.iterdir() if p.is_dir()) or ["no subfolders"]
            raise DataError(f"{base} has no {sub}/ subfolder (it has {', '.join(present)}). A dataset folder holds "
                            "images/ and masks/ with one mask per image under the same name (a.jpg <-> a.png), or "
                            "train/, val/, test/ subfolders that each hold images/ and masks/.")
    images, masks = _files(base / "images"), _files(base / "masks")
    if not images:
        other = sorted({p.suffix.lower() or p.name for p in (base / "images").iterdir() if p.is_file()})
        only = f" (only {', '.join(other)} files)" if other else ""
        raise DataError(f"{base / 'images'} holds no images{only}: put your images there as "
                        f"{', '.join(e.lstrip('.').upper() for e in IMAGE_EXTENSIONS)} files.")
    lonely_images = sorted(images.keys() - masks.keys(), key=natural_key)
    lonely_masks = sorted(masks.keys() - images.keys(), key=natural_key)
    if lonely_images or lonely_masks:
        parts = [listing(lonely_images, "images without a mask")] if lonely_images else []
        parts += [listing(lonely_masks, "masks without an image")] if lonely_masks else []
        raise DataError(f"{base}: {'; '.join(parts)}. Each image needs a mask with the same name (the extension may "
                        "differ): add or rename the missing files, or remove the extra ones.")
    jpeg = [masks[stem] for stem in sorted(masks, key=natural_key) if masks[stem].suffix.lower() in (".jpg", ".jpeg")]
    if jpeg:
        raise jpeg_masks_error(jpeg, str(base / "masks"))
    return {stem: (images[stem], masks[stem]) for stem in sorted(images, key=natural_key)}
