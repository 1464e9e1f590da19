"""``python -m segutils.course.bench infer``: what does overlap-tile prediction cost against one whole-image pass?

Predicts one random uint8 image (default 480 x 640, not multiples of 32) with a U-Net
(``build_unet``, BatchNorm, default 8 filters, depth 4) three ways: the whole image in one
pass (padded to a multiple of 32, then cropped), :func:`segutils.tiling.predict_tiled`,
and ``predict_tiled(..., tta=True)``. Each is warmed up, then timed ``--repeats`` times; the
table shows the median seconds, megapixels per second, and the ratio to the whole image.
Tiles cost more than their share: overlapping tiles predict some pixels twice (the "tiled
pixels" column), and flips four times. The last line is the process's peak resident memory
(``ru_maxrss``); ``--no-whole --size 5000`` shows that a 5000 x 5000 image stays within it.
"""

from __future__ import annotations

import argparse
import resource
import statistics

from segutils.course.parameters import whole

from . import print_header


def whole_image(model, image):
    """One forward pass on the image padded (mirrored) to a multiple of 32, cropped back."""
    import numpy as np

    height, width = image.shape[:2]
    pad = ((0, -height % 32), (0, -width % 32), (0, 0))
    x = np.pad(image.astype("float32") / 255.0, pad, mode="reflect")[None]
    return model.predict_on_batch(x)[0, :height, :width]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m segutils.course.bench infer", description=__doc__.splitlines()[0])
    parser.add_argument("--height", type=whole(), default=480)
    parser.add_argument("--width", type=whole(), default=640)
    parser.add_argument("--size", type=whole(), help="square image side (overrides --height/--width)")
    parser.add_argument("--tile", type=whole(32), default=256, help="tile side (multiple of 32)")
    parser.add_argument("--overlap", type=whole(0), default=64, help="overlap of neighbouring tiles (multiple of 32)")
    parser.add_argument("--batch", type=whole(), default=4, help="tiles per forward pass")
    parser.add_argument("--filters", type=whole(), default=8, help="U-Net level-1 filters (the paper uses 64)")
    parser.add_argument("--depth", type=whole(), default=4)
    parser.add_argument("--repeats", type=whole(), default=3, help="timed runs per method (median)")
    parser.add_argument("--no-whole", action="store_true", help="skip the whole-image pass (huge images)")
    parser.add_argument("--no-tta", action="store_true", help="skip the flips")
    args = parser.parse_args(argv)
    height, width = (args.size, args.size) if args.size is not None else (args.height, args.width)

    import keras
    import numpy as np

    from segutils.models import build_unet
    from segutils.speed import time_calls
    from segutils.tiling import predict_tiled, tile_grid

    keras.utils.set_random_seed(0)
    model = build_unet((None, None, 1), 1, filters=args.filters, depth=args.depth, batchnorm=True, dropout=0.0)
    image = np.random.default_rng(0).integers(0, 256, (height, width, 1), dtype=np.uint8)
    grid = tile_grid(height, width, args.tile, args.overlap)
    tiled_pixels = len(grid) * grid.tile[0] * grid.tile[1]
    megapixels = height * width / 1e6

    def tiled(tta):
        return lambda: predict_tiled(model, image, args.tile, args.overlap, args.batch, tta=tta, progress=False)

    methods = [] if args.no_whole else [("whole image", lambda: whole_image(model, image), 1.0)]
    methods.append((f"tiled {grid.tile[0]}x{grid.tile[1]}/{args.overlap}", tiled(False), tiled_pixels / 1e6))
    if not args.no_tta:
        methods.append(("tiled + 4 flips", tiled(True), 4 * tiled_pixels / 1e6))
    print(f"U-Net f={args.filters} depth={args.depth} ({model.count_params():,} params), {height}x{width} uint8 "
          f"image ({megapixels:.2f} MP), {len(grid)} tiles of {grid.tile[0]}x{grid.tile[1]}, batch {args.batch}, "
          f"CPU, median of {args.repeats} (keras {keras.__version__})")
    header = f"{'method':<20} {'seconds':>8} {'MP/s':>7} {'predicted MP':>13} {'vs whole':>9}"
    print_header(header)
    reference = None
    for name, fn, predicted in methods:
        seconds = statistics.median(time_calls(fn, repeats=args.repeats))
        reference = reference or (seconds if name == "whole image" else None)
        ratio = f"{seconds / reference:>8.2f}x" if reference else f"{'-':>9}"
        predicted_mp = megapixels if name == "whole image" else predicted
        print(f"{name:<20} {seconds:>8.3f} {megapixels / seconds:>7.2f} {predicted_mp:>13.2f} {ratio}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {peak:.0f} MB")
    return 0
