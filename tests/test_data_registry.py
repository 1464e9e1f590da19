"""The dataset registry: metadata, manifests, and the fixed membrane split."""

import pytest

from segutils.data import DATASETS, DatasetInfo, info
from segutils.data.registry import (
    MEMBRANE_FRACTIONS,
    SPLIT_SEED,
    natural_key,
    read_manifest,
    seeded_split,
    split_names,
)

MEMBRANE_STEMS = [str(i) for i in range(30)]


def test_registry_names_and_types():
    assert list(DATASETS) == ["membrane", "camvid", "streets", "shapes", "folder"]
    assert all(isinstance(meta, DatasetInfo) for meta in DATASETS.values())
    for meta in DATASETS.values():
        assert len(meta.class_names) == meta.num_classes
        assert meta.description.strip()
    with pytest.raises(AttributeError):
        DATASETS["membrane"].num_classes = 3  # frozen


def test_info_is_case_insensitive_and_unknown_names_list_the_valid_ones():
    assert info(" Membrane ") is DATASETS["membrane"]
    with pytest.raises(ValueError) as err:
        info("membrain")
    message = str(err.value)
    assert "'membrain'" in message
    assert "membrane, camvid, streets, shapes, folder" in message
    assert "folder path also works" in message


def test_membrane_metadata():
    meta = info("membrane")
    assert (meta.num_classes, meta.class_names, meta.ignore_index) == (2, ("membrane", "cell"), None)
    assert (meta.mask_encoding, meta.channels) == ("binary_0_255", 1)
    base_url, entries = read_manifest(meta.manifest)
    assert base_url.startswith("https://raw.githubusercontent.com/zhixuhao/unet/")
    assert "b45af4d458437d8281cc218a07fd4380818ece4a" in base_url  # pinned commit
    assert len(entries) == 60
    assert {e.path for e in entries} == {f"train/{kind}/{i}.png" for kind in ("image", "label") for i in range(30)}
    assert all(len(e.sha256) == 64 and e.size > 0 for e in entries)


def test_camvid_metadata_and_manifest_counts():
    meta = info("camvid")
    assert meta.num_classes == 12
    assert meta.class_names[0] == "sky" and meta.class_names[3] == "road"
    assert meta.class_names[11] == "unlabelled" and meta.ignore_index == 11
    assert (meta.mask_encoding, meta.channels) == ("index", 3)
    base_url, entries = read_manifest(meta.manifest)
    assert "bb68b64e72cb004b3ed927fee0f5624dd8097498" in base_url
    pairs = split_names(entries, "camvid")
    assert {k: len(v) for k, v in pairs.items()} == {"train": 367, "val": 101, "test": 233}
    image, mask = pairs["val"][0]
    assert image.startswith("val/") and mask == "valannot/" + image.split("/", 1)[1]
    names = [{i.split("/")[1] for i, _ in v} for v in pairs.values()]
    assert not (names[0] & names[1] or names[0] & names[2] or names[1] & names[2])


def test_shapes_and_folder_have_no_manifest():
    assert info("shapes").num_classes == 4
    assert info("shapes").class_names == ("background", "circle", "square", "triangle")
    assert info("shapes").manifest is None and info("folder").manifest is None


def test_membrane_split_sizes_cover_everything_without_overlap():
    split = seeded_split(MEMBRANE_STEMS, MEMBRANE_FRACTIONS)
    assert {k: len(v) for k, v in split.items()} == {"train": 20, "val": 5, "test": 5}
    train, val, test = map(set, split.values())
    assert not (train & val or train & test or val & test)
    assert train | val | test == set(MEMBRANE_STEMS)
    assert split["train"] == sorted(split["train"], key=natural_key)


def test_membrane_split_is_deterministic_and_order_independent():
    first = seeded_split(MEMBRANE_STEMS, MEMBRANE_FRACTIONS)
    assert seeded_split(list(reversed(MEMBRANE_STEMS)), MEMBRANE_FRACTIONS) == first
    assert seeded_split(MEMBRANE_STEMS, MEMBRANE_FRACTIONS, seed=SPLIT_SEED) == first
    assert seeded_split(MEMBRANE_STEMS, MEMBRANE_FRACTIONS, seed=1) != first


def test_membrane_split_from_the_manifest_matches():
    _, entries = read_manifest("membrane.tsv")
    pairs = split_names(entries, "membrane")
    expected = seeded_split(MEMBRANE_STEMS, MEMBRANE_FRACTIONS)
    for name, chosen in expected.items():
        assert pairs[name] == [(f"train/image/{s}.png", f"train/label/{s}.png") for s in chosen]


@pytest.mark.parametrize("n", [1, 2, 3, 7, 20, 67, 100])
def test_seeded_split_70_15_15(n):
    names = [f"img{i}" for i in range(n)]
    split = seeded_split(names)
    sizes = [len(v) for v in split.values()]
    assert sum(sizes) == n and sizes[1] == round(n * 0.15) == sizes[2]
    assert set().union(*map(set, split.values())) == set(names)


def test_natural_key_orders_numbers():
    assert sorted(["10", "2", "1", "img10", "img9"], key=natural_key) == ["1", "2", "10", "img9", "img10"]
