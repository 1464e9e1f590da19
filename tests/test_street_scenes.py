"""Notebook 08's pieces (issue 24): 4:3 sizes that are never squashed, the synthetic streets, the class-weights
experiment's check, the report's per-class columns and colours."""

import math

import numpy as np
import pytest

from segutils import config, plotting
from segutils.course import streets
from segutils.data import ImageFormat, load, make_dataset
from segutils.data.pipeline import resize_split
from segutils.data.registry import CAMVID_COLOURS, DATASETS
from segutils.data.sources import check_size
from segutils.evaluation import Evaluation, compare, run_row


@pytest.mark.parametrize("name", list(config.PROFILES))
def test_every_profile_trains_camvid_at_its_own_aspect(name):
    budget = config.get(name).streets
    height, width = budget.img_size
    assert width / height == pytest.approx(480 / 360)
    padded = check_size(budget.img_size, "pad")
    assert padded[0] % 32 == 0 and padded[1] % 32 == 0 and padded[0] >= height and padded[1] == width


def test_gpu_trains_at_least_four_times_the_cpu_steps_with_three_seeds():
    cpu, gpu = config.get("cpu").streets, config.get("gpu").streets
    assert gpu.epochs * gpu.steps_per_epoch >= 4 * cpu.epochs * cpu.steps_per_epoch
    assert (gpu.seeds, cpu.seeds, gpu.img_size, check_size(gpu.img_size, "pad")) == (3, 1, (360, 480), (384, 480))
    assert config.get("ci").streets.dataset == "streets" and cpu.dataset == "camvid"


def test_a_4_3_pair_is_padded_not_squashed_and_the_void_fills_the_masks():
    image = np.zeros((6, 8, 3), np.uint8)
    image[:, :4] = 200  # left half bright: a squash would move the edge, padding keeps it at x = 4 of 8
    mask = np.zeros((6, 8), np.uint8)
    mask[:, 4:] = 3
    images, masks = next(iter(make_dataset(([image], [mask]), (18, 24), 1, masks=None,
                                           images=ImageFormat(pad_or_reject="pad"))))
    # 6 x 8 -> 18 x 24 (x3, the same aspect), then padded centred to 32 x 32: 7 rows above, 7 below, 4 columns each side
    assert images.shape == (1, 32, 32, 3) and masks.shape == (1, 32, 32, 1)
    row = masks.numpy()[0, 16, :, 0]
    assert row[4:16].tolist() == [0] * 12 and row[16:28].tolist() == [3] * 12
    assert images.numpy()[0, 16, 4:16, 0].min() > 0.7 and images.numpy()[0, 16, 16:28, 0].max() < 0.05


def test_padding_fills_masks_with_the_ignore_index():
    split = load("streets", "test", subset=1)
    _, masks = next(iter(make_dataset(split, (90, 120), 1, images=ImageFormat(pad_or_reject="pad"))))
    m = masks.numpy()[0, :, :, 0]
    assert m.shape == (96, 128) and (m[:3] == 11).all() and (m[-3:] == 11).all()


def test_resize_split_takes_a_height_width_pair():
    images, masks = resize_split(load("streets", "val", subset=2), (96, 128))
    assert [im.shape for im in images] == [(96, 128, 3)] * 2 and [m.shape for m in masks] == [(96, 128)] * 2


def test_streets_holds_camvids_twelve_values_at_4_3_and_repeats_for_a_seed():
    first, again = load("streets", "train"), load("streets", "train")
    assert len(first) == 64 and first.images[0].shape == (120, 160, 3)
    assert set(np.unique(np.stack(first.masks)).tolist()) == set(range(12))
    assert all(np.array_equal(a, b) for a, b in zip(first.masks, again.masks, strict=True))
    info = first.info
    assert (info.num_classes, info.ignore_index, info.class_names) == (12, 11, DATASETS["camvid"].class_names)
    assert not np.array_equal(load("streets", "test").masks[0], first.masks[0])


def test_camvid_and_streets_draw_in_camvids_label_colours_and_the_default_palette_does_not_wrap_at_10():
    assert DATASETS["camvid"].colours == CAMVID_COLOURS and DATASETS["streets"].colours == CAMVID_COLOURS
    mask = np.array([[0, 3, 10, 11]])
    assert plotting.mask_to_rgb(mask, 11, CAMVID_COLOURS).tolist() == [[[128, 128, 128], [128, 64, 128],
                                                                        [0, 128, 192], [0, 0, 0]]]
    default = [tuple(c) for c in plotting.mask_to_rgb(np.arange(20)[None])[0]]
    assert len(set(default)) == 20  # bicyclist (10) is not sky's (0) blue


def _evaluation(iou):
    return Evaluation(3, np.eye(3), {"iou": np.array(iou), "mean_iou": 0.5, "mean_dice": 0.5, "pixel_accuracy": 0.9},
                      {}, [], ignore_index=2)


def test_the_table_puts_per_class_columns_in_class_order_with_names_and_no_void_column():
    names = [f"c{k}" for k in range(12)] + ["void"]
    row = {"model": "unet", "mean_iou": 0.5} | {f"iou_{k}": k / 20 for k in range(12)}
    table = compare([row], class_names=names)
    assert table.header()[3:] == [f"IoU c{k}" for k in range(12)]
    assert "iou_2" not in run_row("unet", 0, _evaluation([0.2, 0.4, math.nan]))
    assert set(run_row("unet", 0, _evaluation([0.2, 0.4, math.nan]))) >= {"iou_0", "iou_1"}


def test_the_class_iou_chart_leaves_the_void_out_and_stays_page_wide():
    names = DATASETS["camvid"].class_names
    evaluation = Evaluation(12, np.eye(12), {"iou": np.r_[np.linspace(0, 1, 11), np.nan]}, {}, [], ignore_index=11)
    from segutils.compare_plots import class_iou_bars

    fig = class_iou_bars({"unet": evaluation, "linknet": evaluation}, names)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == list(names[:11]) and fig.get_size_inches()[0] <= 8
    plotting.pyplot().close("all")


def test_the_class_weights_check_compares_the_rarest_classes():
    shares = np.array([0.5, 0.01, 0.3, 0.02, 0.0, 0.17])  # class 4 is void (share 0 of the labelled pixels)
    names = ["road", "pole", "sky", "sign", "void", "car"]
    plain, weighted = np.array([0.9, 0.0, 0.8, 0.1, np.nan, 0.5]), np.array([0.88, 0.12, 0.8, 0.2, np.nan, 0.5])
    effect = streets.weights_effect(plain, weighted, shares, names, ignore_index=4, k=2)
    assert [r["name"] for r in effect["rows"]] == ["pole", "sign"]
    assert effect["rare_plain"] == pytest.approx(0.05) and effect["rare_weighted"] == pytest.approx(0.16)
    assert effect["verdict"] == "helped" and effect["change"] == pytest.approx(0.11)
    assert streets.weights_effect(weighted, plain, shares, names, 4, k=2)["verdict"] == "hurt"
    unchanged = streets.weights_effect(plain, plain + 0.001, shares, names, 4, k=2)
    assert unchanged["verdict"] == "changed nothing measurable"
    with pytest.raises(ValueError, match="one IoU per class"):
        streets.weights_effect(plain[:5], weighted, shares, names, 4)


def test_normalised_alpha_keeps_the_focal_average_and_the_weights_proportions():
    alpha = streets.normalised_alpha([2.0, 6.0, 50.0], ignore_index=2)
    assert alpha[:2] == pytest.approx([0.125, 0.375]) and alpha[1] / alpha[0] == pytest.approx(3)


def test_the_runner_keeps_registered_names_and_makes_folders_absolute(tmp_path, monkeypatch):
    from segutils.course import parameters

    monkeypatch.chdir(tmp_path)
    (tmp_path / "camvid").mkdir()  # a folder of that name here is not the dataset
    assert parameters.dataset_param("camvid") == "camvid" and parameters.dataset_param("CamVid") == "CamVid"
    assert parameters.dataset_param("my data") == str(tmp_path / "my data")
    assert parameters.dataset_param(str(tmp_path / "x y")) == str(tmp_path / "x y")
    cpu = config.get("cpu")
    assert parameters.datasets_read(["notebooks/08_street_scenes.ipynb"], {}, cpu) == ["camvid"]
    assert parameters.datasets_read(["notebooks/05_training.ipynb", "notebooks/08_street_scenes.ipynb"], {}, cpu) == [
        "camvid", "membrane"]
    assert parameters.datasets_read(["notebooks/08_street_scenes.ipynb"], {"DATASET": "shapes"}, cpu) == ["shapes"]


def test_make_compare_data_camvid_writes_the_per_class_report(tmp_path, monkeypatch):
    """`make compare DATA=camvid` through the runner in the ci profile: notebook 08 on a local CamVid (8 pairs for
    training and validation, the whole test split)."""
    import os
    from pathlib import Path

    from PIL import Image

    from segutils.course import runner

    mirror = os.environ.get("SEGUTILS_MIRROR", "")
    if "{name}" not in mirror or not Path(mirror.replace("{name}", "camvid"), "testannot").is_dir():
        pytest.skip("needs a local CamVid: SEGUTILS_MIRROR=/path/to/{name} with camvid/ in it")
    for name, value in (("SEGUTILS_PROFILE", "ci"), ("SEGUTILS_RUNS_DIR", str(tmp_path / "runs")),
                        ("SEGUTILS_DATA_DIR", str(tmp_path / "data")), ("SEGUTILS_REPORT_DIR", "")):
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    assert runner.main(["--compare", "camvid", "--out", str(tmp_path / "out")]) == 0  # notebook 08, at 4:3
    (summary,) = (tmp_path / "out").glob("*/summary.md")
    assert "08_street_scenes.ipynb | ok" in summary.read_text() and "05_training" not in summary.read_text()
    (report,) = (tmp_path / "out").glob("*/08_street_scenes/report.md")
    header = next(line for line in report.read_text().splitlines() if line.startswith("| model"))
    names = DATASETS["camvid"].class_names
    assert header.endswith(" | ".join(f"IoU {n}" for n in names[:11]) + " |") and "unlabelled" not in header
    with Image.open(report.parent / "classes.png") as chart, Image.open(report.parent / "masks.png") as masks:
        assert chart.width <= 800 and masks.width <= 1600
