"""predict_masks' preparation, padding and head rule; segutils.evaluation: evaluate, V_rand / V_info."""

import csv
import types

import keras
import numpy as np
import pytest
from keras import layers

from segutils.compare_plots import time_to_reach
from segutils.course.report import conclusion, write_csv, write_report
from segutils.evaluation import compare, evaluate, region_scores, run_row
from segutils.predict import ends_in_logits, predict_masks

from .heads import head_model, ramp


def test_sigmoid_softmax_and_logits_heads_give_the_same_classes():
    image = ramp()
    expected = (image / 255.0 > 0.5).astype(np.uint8)
    sigmoid = predict_masks(head_model("sigmoid", 1), image)
    softmax = predict_masks(head_model("softmax", 2), image)
    logits = predict_masks(head_model("linear", 1), image)
    assert sigmoid.shape == (5, 7) and sigmoid.dtype == np.uint8
    np.testing.assert_array_equal(sigmoid, expected)
    np.testing.assert_array_equal(softmax, expected)
    np.testing.assert_array_equal(logits, expected)


def test_threshold_applies_to_probabilities_and_logits_alike():
    image = ramp()
    # p > 0.8  <=>  4 (x - 0.5) > logit(0.8)  <=>  x > 0.5 + log(4) / 4
    expected = (image / 255.0 > 0.5 + np.log(4.0) / 4).astype(np.uint8)
    assert 0 < expected.sum() < expected.size
    np.testing.assert_array_equal(predict_masks(head_model("sigmoid", 1), image, threshold=0.8), expected)
    np.testing.assert_array_equal(predict_masks(head_model("linear", 1), image, threshold=0.8), expected)


def test_uint8_and_float_images_are_normalised_once():
    image = ramp()
    model = head_model("sigmoid", 1)
    np.testing.assert_array_equal(predict_masks(model, image), predict_masks(model, image / 255.0))
    with pytest.raises(ValueError, match=r"float images must be in \[0, 1\]; pass them as uint8"):
        predict_masks(model, image.astype(np.float32))


def _pooled_model():
    """Only accepts multiples of 32: average over 32x32 blocks, upsample back, threshold."""
    inputs = keras.Input((None, None, 1))
    x = layers.UpSampling2D(32)(layers.AveragePooling2D(32)(inputs))
    model = keras.Model(inputs, layers.Activation("sigmoid", name="output")(layers.Conv2D(1, 1, name="head")(x)))
    model.get_layer("head").set_weights([np.full((1, 1, 1, 1), 4.0, np.float32), np.array([-2.0], np.float32)])
    return model


def test_sizes_that_are_not_multiples_of_32_come_back_at_their_own_size():
    model = _pooled_model()
    small = np.full((20, 45), 200, np.uint8)
    large = np.full((50, 70, 1), 30, np.uint8)
    masks = predict_masks(model, [small, large, small], batch_size=2)
    assert [m.shape for m in masks] == [(20, 45), (50, 70), (20, 45)]
    assert masks[0].all() and not masks[1].any()
    batch = predict_masks(model, np.stack([small, small]))
    assert batch.shape == (2, 20, 45) and batch.all()


def test_channels_convert_to_what_the_model_takes():
    gray = ramp()
    rgb = np.repeat(gray[..., None], 3, axis=-1)
    model = head_model("sigmoid", 1)
    np.testing.assert_array_equal(predict_masks(model, rgb), predict_masks(model, gray))
    with pytest.raises(ValueError, match=r"takes 1 channel\(s\) but an image has 4: drop the alpha channel"):
        predict_masks(head_model("sigmoid", 1), np.zeros((4, 4, 4), np.uint8))


def test_fixed_input_pads_smaller_and_rejects_or_resizes_larger_images():
    model = head_model("sigmoid", 1, size=(8, 8))
    assert predict_masks(model, ramp(5, 7)).shape == (5, 7)
    big = np.zeros((16, 16), np.uint8)
    big[:, 8:] = 255
    with pytest.raises(ValueError, match="16x16 is larger than the model's fixed input 8x8: pass resize=True"):
        predict_masks(model, big)
    mask = predict_masks(model, big, resize=True)
    assert mask.shape == (16, 16)
    np.testing.assert_array_equal(mask, (big > 127).astype(np.uint8))


def _two_cells():
    """Membrane (0) cross splitting a 9x9 mask into cells (1); 4 cells, two of them side by side."""
    mask = np.ones((9, 9), np.uint8)
    mask[4, :] = 0
    mask[:, 4] = 0
    return mask


def test_v_rand_and_v_info_of_a_perfect_prediction_are_1():
    truth = _two_cells()
    assert region_scores(truth, truth) == (1.0, 1.0)


def test_merging_two_cells_lowers_v_rand_and_v_info():
    truth = _two_cells()
    merged = truth.copy()
    merged[:4, 4] = 1  # the two top cells become one region
    v_rand, v_info = region_scores(truth, merged)
    assert v_rand < 1.0 and v_info < 1.0
    # Rand on the 64 true-cell pixels, pairs without self-pairs: sum n_ij^2 = 4 * 16^2 = 1024; predicted
    # regions there 32, 16, 16 -> 1536; precision (1024 - 64) / (1536 - 64), recall 1; V_rand = their F-score
    precision = 960 / 1472
    assert v_rand == pytest.approx(2 * precision / (precision + 1))
    # V_info: H(T) = log 4, H(S) = 1.5 log 2, I = H(S) (S is a function of T) -> 2 * 1.5 / (2 + 1.5)
    assert v_info == pytest.approx(2 * 1.5 / 3.5)


def test_evaluate_on_fixed_predictions_equals_hand_computed_values():
    truth = [np.array([[0, 0], [1, 1]]), np.array([[1, 1], [1, 1]])]
    pred = [np.array([[0, 1], [1, 1]]), np.array([[1, 1], [1, 0]])]
    result = evaluate(pred, (None, truth), num_classes=2, regions=False)
    # pixels: truth 0 -> pred 0 once, pred 1 once; truth 1 -> pred 0 once, pred 1 five times
    np.testing.assert_array_equal(result.confusion_matrix, [[1, 1], [1, 5]])
    np.testing.assert_allclose(result.scores["iou"], [1 / 3, 5 / 7])
    np.testing.assert_allclose(result.scores["dice"], [1 / 2, 10 / 12])
    assert result.scores["pixel_accuracy"] == pytest.approx(6 / 8)
    assert result.scores["mean_iou"] == pytest.approx((1 / 3 + 5 / 7) / 2)
    # per image: image 1 IoU [1/2, 2/3]; image 2 has no class 0 in truth but one in prediction: IoU [0, 3/4]
    np.testing.assert_allclose(result.per_image["iou"], [[1 / 2, 2 / 3], [0, 3 / 4]])
    np.testing.assert_allclose(result.per_image["pixel_accuracy"], [3 / 4, 3 / 4])
    assert result.summary()["iou_1"] == pytest.approx(5 / 7)


def test_evaluate_a_model_adds_region_scores_for_two_classes():
    truth = _two_cells()
    image = (truth * 255).astype(np.uint8)
    result = evaluate(head_model("sigmoid", 1), ([image, image], [truth, truth[..., None]]), num_classes=2)
    split = types.SimpleNamespace(images=[image], masks=[truth])
    assert evaluate(head_model("sigmoid", 1), split, num_classes=2).per_image_regions.tolist() == [[1.0, 1.0]]
    with pytest.raises(ValueError, match="data must be an \\(images, masks\\) pair, a split"):
        evaluate(head_model("sigmoid", 1), [image], num_classes=2)
    assert result.scores["mean_iou"] == 1.0
    assert (result.v_rand, result.v_info) == (1.0, 1.0)
    assert result.per_image_regions.shape == (2, 2)


def _rows(unet_ious, linknet_ious):
    record = {"train_seconds": 120.0, "best": {"val_mean_iou": 0.8, "seconds": 60.0}, "timings": {"median_step_s": 0.5}}
    speed = {"latency_ms": 12.5, "images_per_s": 80.0, "parameters": 1234, "flops": 2.5e9}
    rows = [run_row("unet", seed, record=record, speed=speed) | {"mean_iou": v} for seed, v in enumerate(unet_ious)]
    return rows + [run_row("linknet", seed) | {"mean_iou": v} for seed, v in enumerate(linknet_ious)]


def test_compare_shows_mean_and_std_over_seeds(tmp_path):
    table = compare(_rows([0.80, 0.82], [0.70, 0.74]))
    assert table.models == ["unet", "linknet"]
    assert table.mean("unet", "mean_iou") == pytest.approx(0.81)
    assert table.std("linknet", "mean_iou") == pytest.approx(0.02 * np.sqrt(2))
    lines = table.to_markdown().splitlines()
    assert lines[0] == (
        "| model | seeds | mean IoU | training s | best val IoU | s to best val IoU | s/step "
        "| latency ms (batch 1) | images/s | parameters | GFLOPs/image |"
    )
    assert lines[2] == (
        "| unet | 2 | 0.8100 ± 0.0141 | 120 ± 0 | 0.8000 ± 0.0000 | 60.00 ± 0.00 | 0.5000 ± 0.0000 "
        "| 12.50 ± 0.00 | 80.00 ± 0.00 | 1,234 ± 0 | 2.50 ± 0.00 |"
    )
    assert lines[3] == "| linknet | 2 | 0.7200 ± 0.0283 |  |  |  |  |  |  |  |  |"
    assert "<td>0.8100 ± 0.0141</td>" in table._repr_html_()
    write_csv(table, tmp_path / "t.csv")
    rows = list(csv.DictReader(open(tmp_path / "t.csv")))
    assert rows[0]["model"] == "unet" and float(rows[0]["mean_iou_mean"]) == pytest.approx(0.81)
    assert rows[1]["train_s_mean"] == "" and rows[1]["seeds"] == "2"


def test_time_to_reach_reads_the_first_epoch_at_the_target():
    record = {"history": {"val_mean_iou": [0.4, 0.7, 0.65, 0.8], "val_loss": [0.9, 0.5, 0.4, 0.3]},
              "elapsed": [10.0, 21.0, 30.0, 41.0]}
    assert time_to_reach(record, 0.7) == (2.0, 21.0)
    assert time_to_reach(record, 0.75, "val_mean_iou") == (4.0, 41.0)
    assert np.isnan(time_to_reach(record, 0.9)).all()


def test_conclusion_is_written_from_the_table(tmp_path):
    rows = _rows([0.80, 0.82], [0.70, 0.74])
    rows[2].update(step_s=0.1, latency_ms=5.0)
    rows[3].update(step_s=0.1, latency_ms=5.0)
    table = compare(rows)
    text = conclusion(table, None, {"unet": 30.0, "linknet": float("nan")}, 0.75, encoder_pretrained=False)
    assert "test mean IoU unet 0.8100, linknet 0.7200" in text
    assert "unet 0.5 s, linknet 0.1 s: linknet is 5.00x faster than unet." in text
    assert "unet 12.5 ms, linknet 5 ms: linknet is 2.50x faster than unet." in text
    assert "unet reached validation mean IoU 0.750 first (unet 30.0 s, linknet never)" in text
    assert "NOT pretrained here" in text
    path = write_report(tmp_path / "r", table, profile={"name": "ci"}, text=text)
    report = path.read_text()
    assert table.to_markdown() in report and "- name: ci" in report and (tmp_path / "r" / "table.csv").exists()


def test_runner_injects_parameters_after_the_parameters_cell():
    import nbformat

    from segutils.course.parameters import inject_parameters, parse_param

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("DATASET = 'shapes'"),
        nbformat.v4.new_code_cell("print(DATASET)"),
    ]
    nb.cells[1].metadata["tags"] = ["parameters"]
    inject_parameters(nb, dict([parse_param("DATASET=/data/my folder"), parse_param("SEEDS=2")]))
    injected = "# Parameters injected by segutils.course.runner\nDATASET = '/data/my folder'\nSEEDS = 2\n"
    assert nb.cells[2].source == injected
    assert nb.cells[2].metadata["tags"] == ["injected-parameters"] and len(nb.cells) == 4
    with pytest.raises(ValueError, match="NAME=VALUE with an UPPER_CASE name, got 'data=x'"):
        parse_param("data=x")


def test_runner_prints_the_reports_table(tmp_path, capsys):
    from segutils.course.runner import print_report_table

    table = compare(_rows([0.8], [0.7]))
    assert print_report_table(write_report(tmp_path, table, text="- a conclusion"))
    printed = capsys.readouterr().out
    assert printed.endswith(table.to_markdown() + "\n") and "conclusion" not in printed
    assert not print_report_table(tmp_path / "none.md")


def test_make_compare_writes_a_report_for_a_folder(tmp_path, monkeypatch):
    """What `make compare DATA=folder` runs, on a dozen tiny synthetic pairs in the ci profile."""
    from pathlib import Path

    from PIL import Image

    from segutils.course import runner

    notebooks = Path(runner.ROOT) / "notebooks"
    if not (notebooks / "05_training.ipynb").exists():
        pytest.skip("notebooks/05_training.ipynb is not in the tree yet")
    folder = tmp_path / "my data"
    rng = np.random.default_rng(0)
    for kind in ("images", "masks"):
        (folder / kind).mkdir(parents=True)
    for i in range(12):
        mask = np.zeros((64, 64), np.uint8)
        top, left = rng.integers(4, 36, size=2)
        mask[top : top + 24, left : left + 24] = 255
        image = np.clip(mask * 0.6 + rng.normal(60, 20, mask.shape), 0, 255).astype(np.uint8)
        Image.fromarray(image).save(folder / "images" / f"p{i:02d}.png")
        Image.fromarray(mask).save(folder / "masks" / f"p{i:02d}.png")
    for name, value in (
        ("SEGUTILS_PROFILE", "ci"),
        ("SEGUTILS_RUNS_DIR", str(tmp_path / "runs")),
        ("SEGUTILS_REPORT_DIR", ""),
    ):
        monkeypatch.setenv(name, value)
    paths = [notebooks / "05_training.ipynb", notebooks / "06_comparison.ipynb"]
    code = runner.main([*map(str, paths), "--out", str(tmp_path / "out"), "--param", f"DATASET={folder}"])
    assert code == 0
    (report,) = (tmp_path / "out").glob("*/06_comparison/report.md")
    text = report.read_text()
    assert "| unet | 1 |" in text and "| linknet | 1 |" in text and "V_rand" in text
    assert (report.parent / "table.csv").exists() and (report.parent / "masks.png").exists()


def test_linknets_float32_cast_after_its_sigmoid_is_not_read_as_logits():
    """LinkNet ends in sigmoid -> Activation('linear', float32): its masks are cut at p > 0.5."""
    from segutils.models import build_linknet, build_unet

    linknet = build_linknet((64, 64, 1), 1, encoder_weights=None)
    assert [layer.name for layer in linknet.layers[-2:]] == ["sigmoid", "output"]
    assert ends_in_logits(linknet) is False
    assert ends_in_logits(build_unet((64, 64, 1), 1, filters=4, depth=2)) is False
    assert ends_in_logits(build_unet((64, 64, 1), 1, filters=4, depth=2, logits=True)) is True
    x = np.random.default_rng(0).random((2, 64, 64, 1)).astype("float32")
    probabilities = np.asarray(linknet(x, training=False))[..., 0]
    np.testing.assert_array_equal(predict_masks(linknet, x), (probabilities > 0.5).astype(np.uint8))
