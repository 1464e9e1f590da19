"""What ``make_dataset`` reads, checked: arrays, or lists of PNG paths (checked as they are read).

Behind ``make_dataset`` (``notebooks/01_data.ipynb``)."""

from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from segutils.checks import DIVIDE_HINT, is_whole
from segutils.data.files import binary_top, jpeg_masks_error, read_mask, to_classes

MASK_ENCODINGS = ("index", "binary_0_255")
MULTIPLE = 32  # LinkNet-ResNet34 halves the image 5 times


def _reflectable(side: int, target: int) -> bool:
    """Can ``side`` be padded (centred) up to ``target`` by reflection? Each pad must be < ``side``."""
    pad = target - side
    return pad - pad // 2 <= side - 1


#: The smallest side that reflection can pad up to 32 (12: pads of 10 on both sides).
MIN_PAD_SIDE = next(s for s in range(1, MULTIPLE + 1) if _reflectable(s, MULTIPLE))


def parse_size(img_size) -> tuple[int, int]:
    """``(height, width)`` of an ``img_size`` given as one side or a pair; ValueError for anything else."""
    pair = tuple(img_size) if isinstance(img_size, (tuple, list)) else (img_size, img_size)
    if len(pair) == 2 and all(is_whole(s) for s in pair):
        return int(pair[0]), int(pair[1])
    if isinstance(img_size, float) or any(isinstance(s, float) for s in pair):
        hint = f"sides are whole numbers of pixels: {DIVIDE_HINT}"
    elif isinstance(img_size, (tuple, list)) and len(pair) != 2:
        hint = f"a pair is (height, width), this has {len(pair)} value(s); for a square pass one number"
    else:
        hint = "pass a whole number of pixels, e.g. 256, or (height, width)"
    raise ValueError(f"img_size must be a side or a (height, width) pair of whole numbers >= 1, got {img_size!r}: "
                     f"{hint}")


def check_size(img_size: int | tuple[int, int], pad_or_reject: str = "reject") -> tuple[int, int]:
    """``(height, width)`` the pipeline outputs for ``img_size``: a side not a multiple of 32 is refused
    (``"reject"``, naming the nearest sizes) or padded up (``"pad"``); else ValueError."""
    h, w = parse_size(img_size)
    if pad_or_reject not in ("reject", "pad"):
        raise ValueError(f"pad_or_reject must be 'reject' or 'pad', got {pad_or_reject!r}")
    up = (-(-h // MULTIPLE) * MULTIPLE, -(-w // MULTIPLE) * MULTIPLE)
    if (h, w) == up:
        return up
    paddable = _reflectable(h, up[0]) and _reflectable(w, up[1])
    if pad_or_reject == "pad":
        if paddable:
            return up
        arg = str(up[0]) if up[0] == up[1] else f"({up[0]}, {up[1]})"
        raise ValueError(f"img_size {h}x{w} is too small to pad to {up[0]}x{up[1]}: images are padded by reflection, "
                         f"which needs each side longer than the padding added to it (sides of at least {MIN_PAD_SIDE} "
                         f"pad up to {MULTIPLE}). Pass img_size={arg} to resize the images to {up[0]}x{up[1]} "
                         "instead of padding them.")
    down = (h // MULTIPLE * MULTIPLE, w // MULTIPLE * MULTIPLE)
    nearest = f"{up[0]}x{up[1]}" if min(down) == 0 else f"{down[0]}x{down[1]} or {up[0]}x{up[1]}"
    pad = (f" Or pass images=ImageFormat(pad_or_reject='pad') to pad {h}x{w} up to {up[0]}x{up[1]} (images "
           "reflected, masks filled with the ignore index or 0)." if paddable else "")
    raise ValueError(f"img_size {h}x{w} is not a multiple of {MULTIPLE} (LinkNet halves it 5 times). "
                     f"Nearest valid sizes: {nearest}.{pad}")


def out_of_range(value: int, num_classes: int, source: str, fix: str) -> str:
    """The one message for a mask value outside the classes, from arrays and from PNG paths alike."""
    return (f"{source} holds the value {value}, but there are only {num_classes} classes (0..{num_classes - 1}); "
            f"masks must hold class indices ({fix})")


def _void_fix(value: int) -> str:
    return f"if {value} marks pixels to leave out, pass masks=MaskFormat(ignore_index={value}), or remap it to a class"


def image_array(x, label: str) -> np.ndarray:
    """One image ``H x W x C``, ``uint8`` or float32 in 0..255 (uint16 and floats in [0, 1] scaled); else ValueError."""
    x = np.asarray(x)
    x = x[..., None] if x.ndim == 2 else x
    if x.ndim != 3 or x.size == 0:
        raise ValueError(f"{label} has shape {x.shape}: an image is H x W or H x W x C with H, W >= 1")
    if x.dtype == np.uint8:
        return x
    if x.dtype == np.uint16:
        return x.astype(np.float32) * np.float32(255 / 65535)
    if x.dtype.kind == "f":
        if not np.isfinite(x).all():
            raise ValueError(f"{label} holds NaN or infinite values: replace them (np.nan_to_num) first.")
        low, high = float(x.min()), float(x.max())
        if 0 <= low and high <= 1:
            return x.astype(np.float32) * np.float32(255)
        fix = ("pass them as uint8 (x.astype(np.uint8)) or divide by 255 yourself" if low >= 0 and high <= 255
               else "undo the standardisation (x * std + mean) to get [0, 1], or pass uint8 values 0..255")
        raise ValueError(f"{label} is {x.dtype} with values {low:g}..{high:g}: float images must be in [0, 1]; {fix}.")
    if x.dtype.kind in "iu":
        low, high = int(x.min()), int(x.max())
        if 0 <= low and high <= 255:
            return x.astype(np.uint8)
        raise ValueError(f"{label} is {x.dtype} with values {low}..{high}: pass uint8 (0..255), uint16 (scaled by "
                         f"65535) or floats in [0, 1], e.g. (x / {max(high, 1)}).astype(np.float32) if {high} is "
                         "white.")
    raise ValueError(f"{label} is {x.dtype}: pass images as uint8 (0..255), uint16 (0..65535) or floats in [0, 1].")


def mask_array(m, label: str, num_classes: int | None, ignore_index: int | None) -> np.ndarray:
    """One mask as ``H x W x 1`` class indices (uint8, or int32 beyond 0..255); ValueError naming the mask."""
    m = np.asarray(m)
    m = m[..., 0] if m.ndim == 3 and m.shape[-1] == 1 else m
    if m.ndim != 2:
        raise ValueError(f"{label} has shape {m.shape}: masks are H x W class indices (one-hot? take argmax(-1))")
    if m.dtype.kind == "f":
        if not (np.isfinite(m).all() and np.array_equal(m, np.round(m))):
            raise ValueError(f"{label} holds values that are not whole class indices (a mask resized with "
                             "interpolation? resize masks with nearest neighbour only)")
        m = m.astype(np.int64)
    elif m.dtype.kind not in "iub":
        raise ValueError(f"{label} is {m.dtype}: masks hold whole class indices")
    m = m.astype(np.int64) if m.dtype.kind == "b" else m
    low, high = (int(m.min()), int(m.max())) if m.size else (0, 0)
    if low < 0 or (num_classes and high >= num_classes):
        values = np.unique(m).tolist()
        stray = [v for v in values if (v < 0 or (num_classes and v >= num_classes)) and v != ignore_index]
        if stray:
            fix = "a 0/255 mask is 0/1 after `mask // 255`" if binary_top(values) else _void_fix(stray[-1])
            if num_classes:
                raise ValueError(out_of_range(stray[-1] if stray[-1] >= 0 else stray[0], num_classes, label, fix))
            raise ValueError(f"{label} holds the value {stray[0]}: class indices are 0, 1, ... ({fix})")
    if not num_classes and high == 255 and ignore_index != 255 and binary_top(np.unique(m).tolist()) == 255:
        raise ValueError(f"{label} holds only 0 and 255: binary masks are 0/1 here; pass masks // 255 "
                         "(or masks=MaskFormat(num_classes=2), which refuses 255 and names the mask)")
    fits = 0 <= low and high <= 255 and (ignore_index is None or 0 <= ignore_index <= 255)
    return m.astype(np.uint8 if fits else np.int32)[..., None]


def decode_mask(path, mask_encoding: str, num_classes: int | None, ignore_index: int | None = None):
    """Class indices ``uint8 [H, W, 1]`` of one mask file (in ``tf.numpy_function``); no ``num_classes``: 0..255."""
    path = Path(path.decode() if isinstance(path, bytes) else path)
    raw = read_mask(path)
    if mask_encoding == "index" and raw.size:
        values = np.unique(raw).tolist()
        stray = [v for v in values if v != ignore_index and num_classes and v >= num_classes]
        if stray:  # values above 255 without num_classes: to_classes names them and the fix
            fix = ("a 0/255 PNG mask is 0/1 with MaskFormat(encoding='binary_0_255') when all masks are 0/255; if only "
                   "this one is, re-save it as 0/1" if binary_top(values) else _void_fix(stray[-1]))
            raise ValueError(out_of_range(stray[-1], num_classes, f"the mask {path}", fix))
        if not num_classes and ignore_index != 255 and binary_top(values) == 255:
            raise ValueError(f"the mask {path} holds only 0 and 255: binary masks are 0/1 here; pass "
                             "MaskFormat(encoding='binary_0_255') if all masks are 0/255, or num_classes")
    return to_classes(raw, mask_encoding, num_classes or 256, path, ignore_index)[..., None]


def _label(kind: str, i: int, count: int, names) -> str:
    return f"the {kind} of {names[i]!r}" if names is not None else f"{kind} {i} (of {count})"


def source(data, subset, mask_encoding, num_classes, ignore_index, channels):
    """``(dataset of (image [H,W,C] uint8 or float32 0..255, mask [H,W,1]), count)`` of checked pairs."""
    images, masks = (data.images, data.masks) if hasattr(data, "images") else data
    names = getattr(data, "names", None)
    if len(images) != len(masks):
        raise ValueError(f"{len(images)} images but {len(masks)} masks")
    if len(images) == 0:
        raise ValueError("data holds no images: pass a split from segutils.data.load, or (images, masks) with at "
                         "least one pair")
    if subset is not None:
        images, masks = images[:subset], masks[:subset]
    if isinstance(images[0], (str, Path)):
        images, masks = ([Path(p).expanduser() for p in paths] for paths in (images, masks))
        jpeg = [p for p in masks if Path(p).suffix.lower() in (".jpg", ".jpeg")]
        if jpeg:
            raise jpeg_masks_error(jpeg, "the mask paths")
        missing = [str(p) for p in [*images, *masks] if not Path(p).is_file()]
        if missing:
            raise FileNotFoundError(f"no file at {', '.join(missing[:9])}{' ...' * (len(missing) > 9)} ({len(missing)} "
                                    f"of the paths; relative ones start at {Path.cwd()}): check the names, or list a "
                                    "folder: sorted(folder.glob('*.png'))")
        for path in [*images, *masks]:  # a damaged file named now, not inside TF's IteratorGetNext error
            try:
                with Image.open(path) as image:
                    image.verify()  # chunk CRCs up to IEND: finds a truncated or damaged file without decoding it
            except Exception as err:  # noqa: BLE001 - PIL raises many kinds; the message names the file either way
                raise ValueError(f"cannot read the image {path}: {err} (truncated or damaged?); re-export it as PNG, "
                                 "or leave it and its mask out") from None
        if channels is None:  # the first image decides: grey (+alpha) -> 1, colour (+alpha) -> 3
            channels = 1 if tf.io.decode_png(Path(images[0]).read_bytes()).shape[-1] <= 2 else 3

        def decode(image_path, mask_path):
            image = tf.io.decode_png(tf.io.read_file(image_path), channels=channels)  # checked above
            image = tf.ensure_shape(image, [None, None, channels])
            mask = tf.numpy_function(lambda p: decode_mask(p, mask_encoding, num_classes, ignore_index), [mask_path],
                                     tf.uint8 if (num_classes or 0) <= 256 else tf.int32, stateful=False)
            return image, tf.ensure_shape(mask, [None, None, 1])

        paths = tf.data.Dataset.from_tensor_slices(([str(p) for p in images], [str(p) for p in masks]))
        return paths.map(decode, num_parallel_calls=tf.data.AUTOTUNE), len(images)

    count = len(images)
    images = [image_array(x, _label("image", i, count, names)) for i, x in enumerate(images)]
    masks = [mask_array(m, _label("mask", i, count, names), num_classes, ignore_index) for i, m in enumerate(masks)]
    odd = next((i for i, (x, m) in enumerate(zip(images, masks, strict=True)) if x.shape[:2] != m.shape[:2]), None)
    if odd is not None:
        (h, w), (mh, mw) = images[odd].shape[:2], masks[odd].shape[:2]
        raise ValueError(f"{_label('image', odd, count, names)} is {h}x{w} but its mask is {mh}x{mw} (height x "
                         "width): a mask must match its image pixel for pixel; resize both the same way (the mask "
                         "with nearest neighbour) or fix the pair")
    if len({x.dtype for x in images}) > 1:  # some float: all float, in the same 0..255 range
        images = [x.astype(np.float32) for x in images]
    if len({m.dtype for m in masks}) > 1:
        masks = [m.astype(np.int32) for m in masks]
    if len({x.shape for x in images}) == 1 and len({m.shape for m in masks}) == 1:
        return tf.data.Dataset.from_tensor_slices((np.stack(images), np.stack(masks))), count
    depth = {x.shape[-1] for x in images}
    if len(depth) > 1:
        raise ValueError(f"the images have different channel counts {sorted(depth)}: give them one count first, "
                         "e.g. np.repeat(image, 3, axis=-1) makes a grey H x W x 1 image RGB")
    signature = (tf.TensorSpec([None, None, depth.pop()], tf.as_dtype(images[0].dtype)),
                 tf.TensorSpec([None, None, 1], tf.as_dtype(masks[0].dtype)))
    # sizes differ: one element at a time, resized in the next step
    return tf.data.Dataset.from_generator(lambda: zip(images, masks, strict=True), output_signature=signature), count
