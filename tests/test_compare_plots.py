"""Comparison pictures: the arrays, lines and bars drawn, checked against hand-made inputs."""

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from segutils import compare_plots as cp  # noqa: E402
from segutils.evaluation import compare  # noqa: E402

RED, BLUE, WHITE = cp.ERROR_COLOURS[1], cp.ERROR_COLOURS[2], cp.ERROR_COLOURS[0]

RUNS = [
    dict(model="unet", seed=0, history={"val_mean_iou": [0.3, 0.5, 0.62, 0.70]}, elapsed=[10.0, 20.0, 30.0, 40.0]),
    dict(model="unet", seed=1, history={"val_mean_iou": [0.4, 0.66, 0.68, 0.71]}, elapsed=[11.0, 21.0, 31.0, 41.0]),
    dict(model="unet", seed=2, history={"val_mean_iou": [0.2, 0.3, 0.4, 0.5]}, elapsed=[12.0, 22.0, 32.0, 42.0]),
    dict(model="linknet", seed=0, history={"val_mean_iou": [0.5, 0.6, 0.68, 0.70]}, elapsed=[4.0, 8.0, 12.0, 16.0]),
]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_first_to_reach_takes_the_median_over_seeds_counting_never_as_late():
    reach = cp.first_to_reach(RUNS, 0.65)
    # unet seeds reach 0.65 at epochs 4, 2, never -> median 4 (40 s, 21 s, inf -> 40 s)
    assert reach["unet"] == {"epoch": 4.0, "seconds": 40.0}
    assert reach["linknet"] == {"epoch": 3.0, "seconds": 12.0}
    never = cp.first_to_reach(RUNS[2:3], 0.65)["unet"]
    assert math.isnan(never["epoch"]) and math.isnan(never["seconds"])


def test_learning_curves_draw_each_run_against_epochs_and_seconds_with_the_target():
    fig = cp.learning_curves(RUNS, target_iou=0.65)
    ax_e, ax_s = fig.axes
    curves_e = [line for line in ax_e.lines if line.get_label().startswith(("unet", "linknet"))]
    curves_s = [line for line in ax_s.lines if line.get_label().startswith(("unet", "linknet"))]
    assert [line.get_label() for line in curves_s] == ["unet seed 0", "unet seed 1", "unet seed 2", "linknet seed 0"]
    np.testing.assert_array_equal(curves_e[3].get_xdata(), [1, 2, 3, 4])
    np.testing.assert_array_equal(curves_s[3].get_xdata(), [4.0, 8.0, 12.0, 16.0])
    np.testing.assert_array_equal(curves_s[0].get_ydata(), [0.3, 0.5, 0.62, 0.70])
    assert curves_s[0].get_color() == "tab:blue" and curves_s[3].get_color() == "tab:orange"
    target = [line for line in ax_s.lines if line.get_label() == "target 0.650"][0]
    np.testing.assert_array_equal(target.get_ydata(), [0.65, 0.65])
    vertical = sorted(line.get_xdata()[0] for line in ax_s.lines if line.get_linestyle() == ":")
    assert vertical == [12.0, 40.0]
    assert ax_s.get_title() == "to 0.650: linknet first (unet 40 s, linknet 12 s)"
    assert ax_e.get_title() == "to 0.650: linknet first (unet epoch 4, linknet epoch 3)"


def test_learning_curves_say_a_tie_and_refuse_runs_without_history():
    runs = [dict(RUNS[3], model="unet"), RUNS[3]]
    assert cp.learning_curves(runs, 0.65).axes[1].get_title().startswith("to 0.650: tie: unet = linknet")
    with pytest.raises(ValueError, match=r"run unet seed 0 has no history\['val_mean_iou'\] or 'elapsed'"):
        cp.learning_curves([dict(model="unet", seed=0, history={}, elapsed=[])])


def test_class_iou_bars_heights_and_labels():
    fig = cp.class_iou_bars({"unet": [0.61, 0.93], "linknet": [0.58, np.nan]}, ["membrane", "cell"])
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, [0.61, 0.93, 0.58, 0.0])
    centres = [p.get_x() + p.get_width() / 2 for p in ax.patches]
    np.testing.assert_allclose(centres, [-0.2, 0.8, 0.2, 1.2])
    assert [t.get_text() for t in ax.texts] == ["0.610", "0.930", "0.580", "n/a"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["membrane", "cell"]
    with pytest.raises(ValueError, match="same classes"):
        cp.class_iou_bars({"unet": [0.5, 0.5], "linknet": [0.5]})


def test_speed_vs_accuracy_plots_means_with_seed_spread():
    rows = [
        dict(model="unet", seed=0, mean_iou=0.77, latency_ms=40.0, step_s=0.8),
        dict(model="unet", seed=1, mean_iou=0.79, latency_ms=42.0, step_s=0.8),
        dict(model="linknet", seed=0, mean_iou=0.75, latency_ms=25.0),
    ]
    fig = cp.speed_vs_accuracy(compare(rows))
    latency, step = fig.axes
    points = {c.get_label(): c.lines[0].get_xydata()[0] for c in latency.containers}
    np.testing.assert_allclose(points["unet"], [41.0, 0.78])
    np.testing.assert_allclose(points["linknet"], [25.0, 0.75])
    unet = latency.containers[0]
    std = np.std([0.77, 0.79], ddof=1)  # the y error bar spans one sample standard deviation
    np.testing.assert_allclose(unet.lines[2][1].get_segments()[0][:, 1], [0.78 - std, 0.78 + std])
    assert [c.get_label() for c in step.containers] == ["unet"]  # linknet has no s/step
    assert latency.get_xlabel() == "latency ms (batch 1)" and step.get_xlabel() == "s/step"
    with pytest.raises(ValueError, match="the table needs 'mean_iou'"):
        cp.speed_vs_accuracy([dict(model="unet", mean_iou=0.5)])


def test_error_map_colours_false_positives_and_negatives():
    truth = np.array([[1, 1], [0, 0]])
    prediction = np.array([[1, 0], [1, 0]])
    np.testing.assert_array_equal(cp.error_codes(truth, prediction), [[0, 2], [1, 0]])
    rgb = cp.error_map(truth, prediction)
    np.testing.assert_array_equal(rgb[0, 1], BLUE)  # cell missed: false negative
    np.testing.assert_array_equal(rgb[1, 0], RED)  # cell drawn on membrane: false positive
    np.testing.assert_array_equal(rgb[0, 0], WHITE)
    multi = cp.error_codes(np.array([[0, 1, 2, 3]]), np.array([[0, 2, 2, 0]]), num_classes=4, ignore_index=3)
    np.testing.assert_array_equal(multi, [[0, 3, 0, 4]])
    with pytest.raises(ValueError, match="same H x W"):
        cp.error_codes(np.zeros((2, 2)), np.zeros((2, 3)))


def _pairs():
    masks = [np.zeros((4, 4), np.uint8) for _ in range(3)]
    for m in masks:
        m[:2] = 1
    unet = [m.copy() for m in masks]
    unet[1][3, 3] = 1  # one false positive at (3, 3)
    linknet = [m.copy() for m in masks]
    linknet[2][0, 0] = 0  # one false negative at (0, 0)
    images = [np.full((4, 4), 100, np.uint8)] * 3
    return images, masks, {"unet": unet, "linknet": linknet}


def test_comparison_grid_draws_truth_masks_and_error_maps():
    images, masks, predictions = _pairs()
    fig = cp.comparison_grid(images, masks, predictions, indices=[1, 2], class_names=["membrane", "cell"])
    axes = np.array(fig.axes).reshape(2, 6)
    assert [ax.get_title() for ax in axes[0]] == ["image", "truth", "unet", "unet errors", "linknet", "linknet errors"]
    unet_errors = np.asarray(axes[0, 3].images[0].get_array())
    np.testing.assert_array_equal(unet_errors[3, 3], RED)
    assert (unet_errors.reshape(-1, 3) == WHITE).all(axis=1).sum() == 15
    linknet_errors = np.asarray(axes[1, 5].images[0].get_array())
    np.testing.assert_array_equal(linknet_errors[0, 0], BLUE)
    assert axes[1, 0].get_ylabel() == "image 2"
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["0 membrane", "1 cell", "false positive (cell predicted, not true)",
                      "false negative (cell true, missed)"]


def test_worst_indices_lowest_first_skipping_nan():
    assert cp.worst_indices([0.9, 0.2, np.nan, 0.5, 0.2], k=3) == [1, 4, 3]
    assert cp.worst_indices([np.nan, 0.4], k=5) == [1]


def test_worst_images_picks_each_models_lowest_iou_images():
    images, masks, predictions = _pairs()
    per_image = {"unet": np.array([1.0, 0.8, 0.95]), "linknet": np.array([0.9, 1.0, 0.7])}
    fig = cp.worst_images(images, masks, predictions, per_image, k=2)
    axes = np.array(fig.axes).reshape(4, 4)
    ylabels = ["unet worst 1", "unet worst 2", "linknet worst 1", "linknet worst 2"]
    assert [ax.get_ylabel() for ax in axes[:, 0]] == ylabels
    assert [ax.get_title() for ax in axes[:, 0]] == ["image 1", "image 2", "image 2", "image 0"]
    assert axes[0, 2].get_title() == "unet, IoU 0.800"
    assert axes[0, 3].get_title() == "errors; linknet 1.000 here"
    np.testing.assert_array_equal(np.asarray(axes[0, 3].images[0].get_array())[3, 3], RED)
    np.testing.assert_array_equal(np.asarray(axes[2, 3].images[0].get_array())[0, 0], BLUE)
