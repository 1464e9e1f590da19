"""The comparison on the write-up's terms: paired bootstrap, scores at the labels' size, the write-up's U-Net."""

import dataclasses
import json
import sys

import keras
import numpy as np
import pytest

from segutils import config
from segutils.course.report import conclusion, scoring_note, write_report
from segutils.evaluation import (
    WRITEUP_NAME,
    build_writeup_unet,
    compare,
    masks_at_label_size,
    paired_bootstrap,
    to_label_size,
    verdict,
    writeup_rows,
)
from segutils.evaluation.stats import TOO_FEW, decision
from segutils.speed import count_flops

from .heads import head_model

SIG2 = 1 / (1 + np.exp(-2.0))  # the head's probability on a white pixel: sigmoid(4 * (1 - 0.5))


def test_a_constant_gap_has_an_interval_of_one_point_and_names_no_winner():
    b = np.array([[0.70, 0.80, 0.90, 0.60, 0.75], [0.72, 0.81, 0.88, 0.65, 0.70]])
    result = paired_bootstrap(b + 0.1, b)
    assert result["gap"] == pytest.approx(0.1, abs=1e-12)
    assert result["low"] == pytest.approx(0.1, abs=1e-12) and result["high"] == pytest.approx(0.1, abs=1e-12)
    assert (result["seeds"], result["images"], result["level"]) == (2, 5, 0.95)
    assert decision("linknet", "unet", result) == TOO_FEW == "too few test images to judge"
    assert verdict("linknet", "unet", result) == (
        "too few test images to judge between linknet and unet (a zero-width interval): gap +0.1000, 95% interval "
        "+0.1000 to +0.1000 over 5 test images and 2 seed(s)"
    )


def test_a_gap_on_every_image_names_the_higher_model():
    """Differences 0.1, 0.2, 0.1, 0.2, 0.1 (mean 0.14): every resampled mean lies in [0.1, 0.2], so 0 is outside."""
    b = np.array([0.70, 0.80, 0.90, 0.60, 0.75])
    result = paired_bootstrap(b + [0.1, 0.2, 0.1, 0.2, 0.1], b)
    assert result["gap"] == pytest.approx(0.14) and 0.1 - 1e-12 <= result["low"] < result["high"] <= 0.2 + 1e-12
    assert decision("linknet", "unet", result) == "linknet"
    assert decision("unet", "linknet", paired_bootstrap(b, b + [0.1, 0.2, 0.1, 0.2, 0.1])) == "linknet"
    assert verdict("linknet", "unet", result).startswith("linknet is higher than unet by 0.1400 (linknet - unet: "
                                                         "95% interval +0.1")


def test_no_gap_on_three_images_is_too_few_to_judge():
    a = np.array([0.7, 0.8, 0.9])
    assert paired_bootstrap(a, a) == dict(gap=0.0, low=0.0, high=0.0, level=0.95, seeds=1, images=3)
    assert verdict("a", "b", paired_bootstrap(a, a)) == (
        "too few test images to judge between a and b (3 test image(s), fewer than 5): gap +0.0000, 95% interval "
        "+0.0000 to +0.0000 over 3 test images and 1 seed(s)"
    )


def test_a_gap_carried_by_one_image_of_six_is_not_measurable():
    """Differences 0,0,0,0,0,1: a resampled mean is k/6, k ~ Binomial(6, 1/6); P(k = 0) = 0.33 and P(k <= 3) = 0.991,
    so the 95 % interval is [0, 0.5] and holds 0."""
    a = np.array([0.5] * 5 + [1.5])
    result = paired_bootstrap(a, np.full(6, 0.5))
    assert (result["gap"], result["low"], result["high"]) == (pytest.approx(1 / 6), 0.0, 0.5)
    assert decision("a", "b", result) == "no difference"
    assert verdict("a", "b", result).startswith("no measurable difference between a and b: gap +0.1667")
    assert paired_bootstrap(a, np.full(6, 0.5)) == result  # seeded: the same interval every time


@pytest.mark.parametrize("shape", [(1, 2), (2, 1)], ids=["two images", "two seeds of one image"])
def test_a_gap_on_fewer_than_five_images_names_no_winner(shape):
    a = np.array([0.5, 1.5]).reshape(shape)
    result = paired_bootstrap(a, np.full(shape, 0.5))
    assert (result["gap"], result["low"], result["high"]) == (0.5, 0.0, 1.0)
    assert decision("a", "b", result) == TOO_FEW
    assert verdict("a", "b", result).startswith(f"too few test images to judge between a and b ({shape[1]} test "
                                                "image(s), fewer than 5): gap +0.5000")


def test_the_verdict_on_a_1_image_test_split_names_no_winner():
    result = paired_bootstrap([[0.62]], [[0.50]])
    assert (result["images"], result["seeds"], result["low"], result["high"]) == (1, 1, pytest.approx(0.12),
                                                                                   pytest.approx(0.12))
    assert decision("unet", "linknet", result) == TOO_FEW
    assert "is higher" not in verdict("unet", "linknet", result)


def test_issue23_bad2_seven_images_in_a_folder_give_one_test_image_and_no_winner_in_report(tmp_path):
    """Issue 23, BAD 2: a folder of 7 images leaves 1 test image; report.md said "unet is higher by 0.1160"."""
    from PIL import Image

    from segutils.data import load

    folder = tmp_path / "seven"
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    for i in range(7):
        Image.fromarray(np.full((8, 8, 3), 30 * i, np.uint8)).save(folder / "images" / f"img{i}.png")
        Image.fromarray(np.tile([[0, 1]], (8, 4)).astype(np.uint8)).save(folder / "masks" / f"img{i}.png")
    test = load(folder, "test")
    assert len(test) == 1
    per_image = {"unet": np.array([[0.6160]]), "linknet": np.array([[0.5000]])}  # one seed, the one test image
    table = compare([dict(model="unet", seed=0, mean_iou=0.6160), dict(model="linknet", seed=0, mean_iou=0.5)])
    text = conclusion(table, per_image)
    assert ("- **linknet vs unet** (the write-up's question): too few test images to judge between linknet and unet "
            "(1 test image(s), fewer than 5): gap -0.1160, 95% interval -0.1160 to -0.1160 over 1 test images and "
            "1 seed(s).") in text
    report = write_report(tmp_path / "report", table, text=text).read_text()
    assert "too few test images to judge" in report and "is higher" not in report


def test_bootstrap_refuses_unpaired_or_nan_scores():
    with pytest.raises(ValueError, match=r"give two \(seeds, images\) arrays of one shape, got \(2, 5\) and \(1, 5\)"):
        paired_bootstrap(np.zeros((2, 5)), np.zeros((1, 5)))
    with pytest.raises(ValueError, match="paired_bootstrap got NaN scores"):
        paired_bootstrap([0.5, np.nan], [0.5, 0.5])
    with pytest.raises(ValueError, match="strictly between 0 and 1, got 95"):
        paired_bootstrap([0.5], [0.5], level=95)


def test_probabilities_are_resized_bilinearly_to_the_label():
    p = np.array([[SIG2, SIG2, 1 - SIG2, 1 - SIG2]] * 4, np.float32)[..., None]
    up = to_label_size(p, (8, 8))
    assert up.shape == (8, 8, 1) and up.dtype == np.float32
    # output column j samples input x = (j + 0.5) / 2 - 0.5: column 3 is 3/4 of column 1 and 1/4 of column 2
    np.testing.assert_allclose(up[0, :, 0], [SIG2] * 3 + [0.75 * SIG2 + 0.25 * (1 - SIG2),
                                                         0.25 * SIG2 + 0.75 * (1 - SIG2)] + [1 - SIG2] * 3, atol=1e-6)
    assert to_label_size(p, (4, 4)) is not None and np.array_equal(to_label_size(p, (4, 4)), p)
    with pytest.raises(ValueError, match=r"one image's probabilities \(h, w, C\), got shape \(4, 4\)"):
        to_label_size(p[..., 0], (8, 8))


def test_masks_come_back_at_each_labels_own_size():
    """Left half white: resized to 4 x 4, predicted (p = sigmoid(4 (x - 0.5))), back at 8 x 8 and 8 x 12."""
    model = head_model("sigmoid", 1, size=(4, 4))
    image = np.zeros((8, 8), np.uint8)
    image[:, :4] = 255
    wide = np.zeros((8, 12), np.uint8)
    wide[:, :6] = 255
    labels = [np.zeros((8, 8), np.uint8), np.zeros((8, 12, 1), np.uint8)]
    masks = masks_at_label_size(model, [image, wide], labels, size=4)
    assert [m.shape for m in masks] == [(8, 8), (8, 12)] and masks[0].dtype == np.uint8
    np.testing.assert_array_equal(masks[0], (image == 255).astype(np.uint8))
    np.testing.assert_array_equal(masks[1], (wide == 255).astype(np.uint8))
    with pytest.raises(ValueError, match="2 images and 1 masks: give one label per image"):
        masks_at_label_size(model, [image, wide], labels[:1], size=4)
    assert scoring_note(labels, 4).startswith(
        "- **Scored at the labels' resolution** (8 x 12, 8 x 8): each model predicted at 4 x 4, its probabilities "
        "were resized to each label's own size (bilinear)"
    )


def test_the_writeup_unet_has_the_papers_width_and_31_million_parameters():
    model = build_writeup_unet((256, 256, 1), 2)
    assert model.count_params() == 31_030_593  # the paper's 31,030,658 with one output channel (65 fewer)
    assert model.get_layer("enc1_conv1").filters == 64 and model.get_layer("bottleneck_conv2").filters == 1024
    assert isinstance(model.get_layer("dec4_up"), keras.layers.UpSampling2D)
    assert model.get_layer("dec4_upconv").kernel_size == (2, 2)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)
    assert [layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)] == [0.5, 0.5]


def test_writeup_rows_time_training_and_prediction_under_the_profiles_precision():
    profile = dataclasses.replace(config.get("ci"), mixed_precision=True)
    (row,) = writeup_rows([32], channels=1, num_classes=2, batch_size=2, profile=profile, repeats=1)
    assert keras.mixed_precision.global_policy().name == "float32"  # restored
    assert row["model"] == f"{WRITEUP_NAME} @32 px" == "unet-64 write-up @32 px"
    assert row["parameters"] == 31_030_593
    assert row["flops"] == count_flops(build_writeup_unet((32, 32, 1), 2)) / 1e9
    assert row["step_s"] > 0 and row["latency_ms"] > 0 and row["images_per_s"] > 0


def _table():
    rows = [dict(model=m, seed=s, mean_iou=v, step_s=t, latency_ms=t * 10)
            for m, values, t in (("unet", (0.80, 0.82), 0.5), ("linknet", (0.70, 0.74), 0.1),
                                 ("unet-resnet34", (0.75, 0.77), 0.2)) for s, v in enumerate(values)]
    rows += [dict(model=f"{WRITEUP_NAME} @128 px", seed=0, step_s=2.0, latency_ms=300.0, parameters=31_030_593,
                  flops=6.0),
             dict(model=f"{WRITEUP_NAME} @256 px", seed=0, step_s=8.0, latency_ms=1200.0, parameters=31_030_593,
                  flops=24.0)]
    return compare(rows)


def test_conclusion_separates_decoder_and_encoder_and_reads_the_writeup_rows(tmp_path):
    base = np.array([[0.70, 0.80, 0.90, 0.60, 0.75]] * 2)
    per_image = {"unet": base + [0.1, 0.2, 0.1, 0.2, 0.1], "linknet": base, "unet-resnet34": base + [0, 0, 0, 0, 0.1]}
    text = conclusion(_table(), per_image, {"unet": 30.0, "linknet": float("nan")}, 0.75, encoder_pretrained=False,
                      unet_filters=16)
    assert "- **Accuracy**: test mean IoU unet 0.8100, unet-resnet34 0.7600, linknet 0.7200." in text
    assert ("- **linknet vs unet** (the write-up's question): unet is higher than linknet by 0.1400 "
            "(linknet - unet: 95% interval -0.1800 to -0.1000 over 5 test images and 2 seed(s)).") in text
    assert ("- **unet-resnet34 vs linknet** (the decoder's effect: the same ResNet34 encoder, U-Net's decoder "
            "against LinkNet's): no measurable difference between unet-resnet34 and linknet: gap +0.0200") in text
    assert "- **unet-resnet34 vs unet** (mostly the encoder's effect" in text
    assert ("- **Speed (training step)**: unet 0.5 s, linknet 0.1 s, unet-resnet34 0.2 s: linknet is 5.00x faster "
            "than unet, 2.00x faster than unet-resnet34.") in text
    assert ("concerns its U-Net: 64 filters, UpSampling2D decoder, 31,030,593 parameters, not the 16-filter U-Net "
            "trained here. This machine measures 2 s per training step, 6.0 GFLOPs per image at 128 px; 8 s per "
            "training step, 24.0 GFLOPs per image at 256 px. LinkNet's step at the profile's size takes 0.1 s: "
            "the write-up's U-Net is 20.0x slower here (the write-up: 4-8x).") in text
    assert "unet reached validation mean IoU 0.750 first (unet 30.0 s, linknet never)" in text
    assert "The ResNet34 encoder was NOT pretrained here" in text
    report = write_report(tmp_path, _table(), text=text).read_text()
    assert "| unet-64 write-up @256 px | 1 |" in report


def test_conclusion_without_per_image_scores_or_writeup_rows_still_reads_the_table():
    table = compare([dict(model="unet", seed=0, mean_iou=0.8), dict(model="linknet", seed=0, mean_iou=0.7)])
    assert conclusion(table).startswith("- **Accuracy**: test mean IoU unet 0.8000, linknet 0.7000.")
    assert "interval" not in conclusion(table) and "write-up's speed claim" not in conclusion(table)


def test_runs_for_takes_notebook_05s_runs_when_there_are_some(tmp_path, monkeypatch):
    from segutils.course.fallback import runs_for

    monkeypatch.setenv("SEGUTILS_RUNS_DIR", str(tmp_path))
    for model, dataset in (("unet", "shapes"), ("linknet", "membrane")):
        folder = tmp_path / "train" / "ci" / dataset / f"{model}-seed0"
        folder.mkdir(parents=True)
        (folder / "record.json").write_text(json.dumps(dict(model=model, seed=0, config=dict(dataset=dataset))))
    runs, note = runs_for(["unet"], "shapes", 1, config.get("ci"))
    assert [(r["model"], r["seed"]) for r in runs] == [("unet", 0)]
    assert note == f"1 run(s) of notebook 05 from {tmp_path}/train/ci."


def test_without_runs_06_trains_as_05_does_fine_tune_for_a_pretrained_encoder(tmp_path, monkeypatch):
    """The fallback on an encoder file in the ImageNet file's format: LinkNet fine-tunes, U-Net fits, one protocol."""
    from classification_models.tfkeras import Classifiers

    from segutils.course.fallback import runs_for
    from segutils.training import protocol_differences

    encoder = Classifiers.get("resnet34")[0](input_shape=(None, None, 3), weights=None, include_top=False)
    encoder.save(tmp_path / "resnet34.h5")
    monkeypatch.setenv("SEGUTILS_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    profile = dataclasses.replace(config.get("ci"), img_size=32, batch_size=2, epochs=2, steps_per_epoch=1,
                                  encoder_weights=str(tmp_path / "resnet34.h5"))
    runs, note = runs_for(("unet", "linknet"), "shapes", 1, profile, subset=4)
    unet, linknet = runs
    assert (unet["model"], linknet["model"]) == ("unet", "linknet")
    assert [p["phase"] for p in unet["phases"]] == ["train"]
    assert [p["phase"] for p in linknet["phases"]] == ["frozen", "unfrozen"] and linknet["config"]["encoder_pretrained"]
    assert protocol_differences(unet, linknet) == {}
    assert note.startswith("No run of notebook 05 for ['unet', 'linknet'] on 'shapes': trained here in ")
    assert note.endswith(f"Looked for notebook 05's runs in {tmp_path}/runs/train/ci. To use its runs, run notebook "
                         "05 first in the 'ci' profile, or point SEGUTILS_RUNS_DIR at the folder that holds its "
                         "train/ci/.")


def _run(model, seed, phases, **changes):
    protocol = dict(budget_steps=600, batch_size=4, lr=0.001, batchnorm="frozen", seed=seed, phases=phases)
    return dict(model=model, seed=seed, protocol={**protocol, **changes})


def test_report_prints_the_shared_protocol_once_and_each_models_phases(tmp_path):
    runs = [_run("unet", 0, ["train"]), _run("unet", 1, ["train"]),
            _run("linknet", 0, ["frozen", "unfrozen"]), _run("linknet", 1, ["frozen", "unfrozen"])]
    report = write_report(tmp_path, _table(), runs=runs).read_text()
    section = report.split("## Protocol\n\n")[1].split("\n\n")[0]
    assert section.splitlines() == [
        "- budget_steps: 600", "- batch_size: 4", "- lr: 0.001", "- batchnorm: frozen",
        "- unet: phases ['train'], seeds [0, 1]", "- linknet: phases ['frozen', 'unfrozen'], seeds [0, 1]",
    ]


def test_report_says_when_the_runs_do_not_share_one_protocol(tmp_path):
    runs = [_run("unet", 0, ["train"]), _run("linknet", 0, ["train"], lr=0.0001)]
    report = write_report(tmp_path, _table(), runs=runs).read_text()
    assert "- **Not one protocol**: the runs differ in lr (['0.0001', '0.001'])" in report
    assert "- lr:" not in report
