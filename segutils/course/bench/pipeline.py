"""Is the input pipeline fast enough? Images/s of decode + augment + batch next to LinkNet training.

``python -m segutils.course.bench pipeline [--data DIR] [--size 256] [--batch 8]`` reads the
membrane PNGs (``DIR/image/N.png`` and ``DIR/label/N.png``), runs them through
:func:`segutils.data.pipeline.make_dataset` without a cache (so every image is decoded
again), then times training steps of LinkNet-ResNet34 (random encoder, so no download)
at the same size and batch. The pipeline should be at least 10x faster than training, so
that it never makes the model wait. Both are measured one after the other on the same
machine; during real training they share the CPU. Taught in ``notebooks/01_data.ipynb``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[3]
SHARED = REPO.parent / "shared" / "data" / "membrane" / "train"


def default_data() -> Path | None:
    """The membrane training folder: the course data dir first, then ``../shared/data``."""
    candidates = []
    try:
        from segutils.data.fetch.downloads import data_root

        candidates.append(data_root() / "membrane" / "train")
    except ImportError:  # pragma: no cover - the download module is optional here
        pass
    candidates.append(SHARED)
    return next((c for c in candidates if (c / "image").is_dir() and (c / "label").is_dir()), None)


def pipeline_throughput(folder: Path, size: int, batch: int, batches: int, elastic: bool) -> float:
    """Images/s of PNG decode + resize + augment + batch, after 2 warm-up batches."""
    from segutils.data.augment import AugmentConfig
    from segutils.data.pipeline import make_dataset

    images = sorted((folder / "image").glob("*.png"), key=lambda p: (len(p.stem), p.stem))
    masks = [folder / "label" / p.name for p in images]
    if not images:
        raise SystemExit(f"no PNG images in {folder / 'image'}")
    ds = make_dataset(
        (images, masks), size, batch, training=True, augment=AugmentConfig(elastic=elastic),
        cache=False, repeat=True, channels=3, mask_encoding="binary_0_255",
    )  # fmt: skip
    iterator = iter(ds)
    for _ in range(2):
        next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        x, _ = next(iterator)
    _ = x.numpy()
    return batches * batch / (time.perf_counter() - start)


def build_model(size: int):
    """LinkNet-ResNet34 with a random encoder: ``segutils.models.linknet`` if present, else sm."""
    try:
        from segutils.models.linknet import build_linknet

        return build_linknet((size, size, 3), 1, encoder_weights=None), "segutils build_linknet"
    except ImportError:
        import segmentation_models as sm  # segutils, imported above, has set SM_FRAMEWORK

        model = sm.Linknet("resnet34", encoder_weights=None, input_shape=(size, size, 3), classes=1)
        return model, "segmentation_models.Linknet"


def training_throughput(size: int, batch: int, steps: int) -> tuple[float, str]:
    """Images/s of ``train_on_batch`` on random data, after one warm-up step."""
    model, source = build_model(size)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.random((batch, size, size, 3), dtype=np.float32)
    y = (rng.random((batch, size, size, 1)) > 0.5).astype(np.float32)
    model.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return steps * batch / (time.perf_counter() - start), source


def main(argv: list[str] | None = None) -> int:
    summary = __doc__.split("\n")[0]
    parser = argparse.ArgumentParser(prog="python -m segutils.course.bench pipeline", description=summary)
    parser.add_argument("--data", type=Path, help="membrane train folder with image/ and label/")
    parser.add_argument("--size", type=int, default=256, help="image side (default: 256)")
    parser.add_argument("--batch", type=int, default=8, help="batch size (default: 8)")
    parser.add_argument("--batches", type=int, default=20, help="pipeline batches to time (default: 20)")
    parser.add_argument("--steps", type=int, default=3, help="training steps to time (default: 3)")
    parser.add_argument("--elastic", action="store_true", help="add elastic deformation to the augmentation")
    parser.add_argument("--no-model", action="store_true", help="time the pipeline only")
    args = parser.parse_args(argv)

    folder = args.data or default_data()
    if folder is None:
        print(
            "No membrane data found: run `make data` (or `python -m segutils.course.data download membrane`), "
            "or pass --data DIR with train/image/*.png",
            file=sys.stderr,
        )
        return 2
    print(f"data: {folder}  size: {args.size}x{args.size}  batch: {args.batch}  elastic: {args.elastic}")
    piped = pipeline_throughput(folder, args.size, args.batch, args.batches, args.elastic)
    print(f"pipeline (decode + augment + batch): {piped:8.1f} images/s  ({args.batches} batches)")
    if args.no_model:
        return 0
    trained, source = training_throughput(args.size, args.batch, args.steps)
    print(f"LinkNet-ResNet34 training:           {trained:8.1f} images/s  ({args.steps} steps, {source})")
    ratio = piped / trained
    verdict = "yes" if ratio >= 10 else "NO: the model may wait for data (cache it, or drop elastic)"
    print(f"ratio pipeline / training: {ratio:.1f}x  -> pipeline >= 10x faster: {verdict}")
    return 0
