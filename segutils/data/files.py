"""Reading image and mask files: formats, channels, mask encodings, pairing by file stem.

Images: PNG, JPEG, TIFF, BMP; 8- or 16-bit, grayscale, RGB, RGBA or paletted. Masks: class
indices (8- or 16-bit, or the index values of a paletted PNG), ``{0, 255}`` binary, or RGB
colour codes mapped through a palette. Errors name the files and say how to fix them.
Taught in ``notebooks/01_data.ipynb``.
"""

from __future__ import annotations

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


def palette_map(palette) -> dict[tuple[int, int, int], int]:
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
        palette = palette_map(palette)
        rgb = np.asarray(image.convert("RGB")).astype(np.int32)
        keys = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
        found, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
        colours = [((k >> 16) & 255, (k >> 8) & 255, k & 255) for k in found.tolist()]
        unknown = [f"{c} ({n} px)" for c, n in zip(colours, counts.tolist(), strict=True) if c not in palette]
        if unknown:
            raise DataError(
                f"{path} has colours that are not in the palette: {listing(unknown, 'colours')}. "
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


def value_hint(values: list[int], path: Path) -> str:
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
            f"{listing(stray, 'values')} (all values: {values[: MAX_LISTED * 2]}). {value_hint(values, path)}"
        )
    return raw.astype(np.uint8)


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
        parts = [listing(lonely_images, "images without a mask")] if lonely_images else []
        parts += [listing(lonely_masks, "masks without an image")] if lonely_masks else []
        raise DataError(
            f"{base}: {'; '.join(parts)}. Each image needs a mask with the same name (the extension may "
            "differ): add or rename the missing files, or remove the extra ones."
        )
    return {stem: (images[stem], masks[stem]) for stem in sorted(images, key=natural_key)}
