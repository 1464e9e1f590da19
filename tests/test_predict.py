"""Overlap-tile prediction: the grid, the blend, mirroring, agreement with whole-image prediction, flips."""

import keras
import numpy as np
import pytest

from segutils.evaluation import evaluate
from segutils.models import build_unet
from segutils.predict import ends_in_logits, head_rule, predict_masks, predict_probabilities
from segutils.tiling import blend_window, mirror_indices, predict_tiled, receptive_field, tile_grid, tiled_probabilities


@pytest.fixture(scope="module")
def unet():
    keras.utils.set_random_seed(0)
    return build_unet((None, None, 1), 1, filters=4, depth=2)


@pytest.fixture(scope="module")
def pixelwise():
    """A model whose output at a pixel depends on that pixel only (a 1x1 conv): tiling must not show."""
    inputs = keras.Input((None, None, 1))
    conv = keras.layers.Conv2D(1, 1, activation="sigmoid")
    model = keras.Model(inputs, conv(inputs))
    conv.set_weights([np.full((1, 1, 1, 1), 6.0, "float32"), np.array([-3.0], "float32")])
    return model


class Recorder:
    """Wraps a model and records the batch shapes it is asked to predict."""

    def __init__(self, model):
        self.model, self.shapes = model, []
        self.input_shape, self.layers, self.get_layer = model.input_shape, model.layers, model.get_layer
        self.name, self.outputs = model.name, model.outputs

    def predict_on_batch(self, x):
        self.shapes.append(x.shape)
        return self.model.predict_on_batch(x)


def test_grid_of_a_non_square_image_by_hand():
    grid = tile_grid(150, 97, tile=64, overlap=32)
    # margin: 32 / 2 = 16, rounded up to 32; steps of 64 - 32 = 32 from -32 until 150 + 32 is covered
    assert grid.margin == 32 and grid.tile == (64, 64)
    assert grid.rows == (-32, 0, 32, 64, 96, 128)  # the last tile ends at 192 >= 182
    assert grid.cols == (-32, 0, 32, 64, 96)  # ends at 160 >= 129
    assert len(grid) == 30 and next(grid.origins()) == (-32, -32)


def test_an_image_that_fits_gets_one_tile_shrunk_to_a_multiple_of_32():
    assert tile_grid(64, 64, tile=128, overlap=64) == tile_grid(64, 64, 128, 64)
    grid = tile_grid(64, 64, tile=128, overlap=64)
    assert (grid.tile, grid.rows, grid.cols) == ((128, 128), (-32,), (-32,))
    small = tile_grid(20, 30, tile=256, overlap=64)  # 20 + 64 -> 96, 30 + 64 -> 96
    assert (small.tile, len(small)) == ((96, 96), 1)
    assert tile_grid(100, 100, tile=256, overlap=0).tile == (128, 128)


def test_bad_tile_and_overlap_say_what_works():
    with pytest.raises(ValueError, match=r"tile=100 must be a positive multiple of 32 .* use tile=96 or 128"):
        tile_grid(500, 500, tile=100)
    with pytest.raises(
        ValueError,
        match=r"overlap=48 must be a multiple of 32 from 0 to tile - 32 = 224 \(tile=256\); "
        r"64 is the nearest",
    ):
        tile_grid(500, 500, tile=256, overlap=48)
    with pytest.raises(ValueError, match="overlap=64 must be"):
        tile_grid(500, 500, tile=64, overlap=64)
    with pytest.raises(ValueError, match="the image is empty: 0 x 5 pixels"):
        tile_grid(0, 5)


def test_blend_weights_of_neighbours_add_up_to_one():
    window = blend_window((128, 96), overlap=32)
    assert window.dtype == np.float32 and window.shape == (128, 96)
    assert window[64, 48] == 1.0 and window.min() > 0
    # sin^2 on the left of one tile meets cos^2 on the right of the tile 128 - 32 = 96 pixels before it
    row = window[64]
    total = np.zeros(96 + 64, np.float64)
    total[:96] += row
    total[64:] += row
    np.testing.assert_allclose(total[64:96], 1.0, atol=1e-6)
    assert np.array_equal(blend_window((64, 64), 0), np.ones((64, 64), np.float32))


@pytest.mark.parametrize("size", [1, 2, 5])
def test_mirror_indices_reflect_like_numpy_pad(size):
    expected = np.pad(np.arange(size), 40, mode="reflect") if size > 1 else np.zeros(81 if size == 1 else 0, int)
    assert np.array_equal(mirror_indices(-40, size + 80, size), expected)


def test_receptive_field_by_hand():
    # depth 1: conv3 conv3 (1+2+2=5), pool (+1=6, jump 2), bottleneck 2 x conv3 (+4+4=14),
    # up-conv 2x2/2 (each output reads one input: +0, jump 1), 2 x conv3 (+2+2=18), 1x1 head
    assert receptive_field(build_unet((None, None, 1), 1, filters=4, depth=1)) == 18
    # depth 2: 5, pool 6, 2 x conv3 at jump 2 -> 14, pool 16, 2 x conv3 at jump 4 -> 32, up, 2 x conv3 at
    # jump 2 -> 40, up, 2 x conv3 -> 44
    assert receptive_field(build_unet((None, None, 1), 1, filters=4, depth=2)) == 44


def test_one_tile_agrees_with_the_whole_image_beyond_half_the_receptive_field(unet):
    image = np.random.default_rng(1).random((64, 64), dtype="float32")
    whole = unet.predict_on_batch(image[None, ..., None])[0, ..., 0]
    tiled = tiled_probabilities(unet, image, tile=128, overlap=64)[..., 0]
    band = receptive_field(unet) // 2  # 22 pixels
    inner = (slice(band, -band),) * 2
    assert np.abs(tiled[inner] - whole[inner]).max() < 1e-5
    # Near the border the tile sees the mirrored image where the whole image sees zero padding.
    assert np.abs(tiled - whole).max() > 1e-3


def test_pixelwise_model_is_untouched_by_tiling_blending_and_flips(pixelwise):
    image = (np.random.default_rng(2).random((150, 97)) * 255).astype(np.uint8)
    expected = pixelwise.predict_on_batch(image[None, ..., None].astype("float32") / 255)[0]
    for tta in (False, True):
        probs = tiled_probabilities(pixelwise, image, tile=64, overlap=32, batch_size=3, tta=tta)
        assert probs.shape == (150, 97, 1) and probs.dtype == np.float32
        np.testing.assert_allclose(probs, expected, atol=1e-6)
    assert np.array_equal(predict_tiled(pixelwise, image, tile=64, overlap=32), (expected[..., 0] > 0.5))


def test_non_square_image_not_a_multiple_of_32_comes_back_at_its_size(unet):
    image = (np.random.default_rng(3).random((75, 41, 1)) * 255).astype(np.uint8)
    mask = predict_tiled(unet, image, tile=64, overlap=32)
    assert mask.shape == (75, 41) and mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 1}


def test_flips_average_the_four_flipped_predictions(unet):
    image = np.random.default_rng(4).random((64, 96, 1), dtype="float32")
    flips = [(), (0,), (1,), (0, 1)]
    expected = np.mean(
        [np.flip(unet.predict_on_batch(np.flip(image, a)[None])[0], a) for a in flips], axis=0
    )  # overlap 0: no margin, a single 64 x 96 tile is exactly the whole image
    probs = tiled_probabilities(unet, image, tile=128, overlap=0, tta=True)
    np.testing.assert_allclose(probs, expected, atol=1e-6)
    assert np.abs(probs - unet.predict_on_batch(image[None])[0]).max() > 1e-4  # flips do change it


def test_logits_are_turned_into_probabilities_first():
    keras.utils.set_random_seed(0)
    logits = build_unet((None, None, 1), 1, filters=4, depth=2, logits=True)
    image = np.random.default_rng(5).random((64, 64), dtype="float32")
    z = logits.predict_on_batch(image[None, ..., None])[0]
    probs = tiled_probabilities(logits, image, tile=64, overlap=0)
    np.testing.assert_allclose(probs, 1 / (1 + np.exp(-z)), atol=1e-6)
    assert np.array_equal(predict_tiled(logits, image, tile=64, overlap=0), (z[..., 0] > 0).astype(np.uint8))


def test_rgb_is_converted_for_a_grayscale_model_like_predict_masks(unet):
    from segutils.predict import predict_masks

    rgb = (np.random.default_rng(7).random((64, 96, 3)) * 255).astype(np.uint8)
    # overlap 0, a tile the image fits in: one pass over the image, as predict_masks makes
    assert np.array_equal(predict_tiled(unet, rgb, tile=128, overlap=0), predict_masks(unet, rgb))


def test_several_classes_take_the_argmax():
    keras.utils.set_random_seed(0)
    model = build_unet((None, None, 3), 4, filters=4, depth=2)
    image = np.random.default_rng(6).random((64, 32, 3), dtype="float32")
    probs = model.predict_on_batch(image[None])[0]
    assert np.array_equal(predict_tiled(model, image, tile=64, overlap=0), probs.argmax(-1))


def test_tiles_are_predicted_a_few_at_a_time(pixelwise):
    recorder = Recorder(pixelwise)
    image = np.zeros((300, 200), np.uint8)
    tiled_probabilities(recorder, image, tile=64, overlap=32, batch_size=4, tta=True, progress=False)
    # rows: 1 + ceil((300 + 64 - 64) / 32) = 11, cols: 1 + ceil((200 + 64 - 64) / 32) = 8;
    # 88 tiles in 22 batches of 4, each predicted under 4 flips
    assert len(recorder.shapes) == 22 * 4
    assert max(s[0] for s in recorder.shapes) == 4 and {s[1:] for s in recorder.shapes} == {(64, 64, 1)}


def test_a_progress_bar_for_many_tiles(pixelwise, capsys):
    tiled_probabilities(pixelwise, np.zeros((200, 200), np.uint8), tile=64, overlap=32, progress=True)
    assert "tiles" in capsys.readouterr().err


def test_bad_images_say_what_is_wrong(unet):
    with pytest.raises(ValueError, match=r"takes one image \(H, W\) or \(H, W, C\), got shape \(2, 64, 64, 1\)"):
        predict_tiled(unet, np.zeros((2, 64, 64, 1), "float32"))
    with pytest.raises(ValueError, match=r"the model takes 1 channel\(s\) but an image has 4: drop the alpha"):
        predict_tiled(unet, np.zeros((64, 64, 4), "float32"))
    with pytest.raises(ValueError, match=r"^the image is float32 with values 255\.\.255: float images must be in "
                       r"\[0, 1\]; pass them as uint8 \(x\.astype\(np\.uint8\)\) or divide by 255 yourself\.$"):
        predict_tiled(unet, np.full((64, 64), 255.0, "float32"))
    fixed = build_unet((64, 64, 1), 1, filters=4, depth=2)
    with pytest.raises(ValueError, match=r"fixed 64 x 64 inputs, .* got tile=128"):
        predict_tiled(fixed, np.zeros((100, 100), "float32"), tile=128)
    assert predict_tiled(fixed, np.zeros((100, 70), "float32"), overlap=32).shape == (100, 70)
    for predict in (predict_tiled, predict_masks):
        with pytest.raises(ValueError, match=r"^batch_size must be a whole number >= 1, got 0 \(int\)$"):
            predict(unet, np.zeros((64, 64), "float32"), batch_size=0)


def test_the_benchmark_reports_whole_tiled_and_flips(capsys):
    from segutils.course.bench.__main__ import main

    argv = ["infer", "--height", "70", "--width", "100", "--tile", "64", "--overlap", "32"]
    assert main(argv + ["--filters", "4", "--depth", "2", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    # 70 x 100 with margins of 32: 1 + ceil((134 - 64) / 32) = 4 rows, 1 + ceil((164 - 64) / 32) = 5 columns
    assert "70x100 uint8 image (0.01 MP), 20 tiles of 64x64" in out
    rows = [line.split()[0:2] for line in out.splitlines() if line.startswith(("whole", "tiled"))]
    assert [r[0] for r in rows] == ["whole", "tiled", "tiled"] and "peak resident memory" in out
    assert "tiled 64x64/32" in out and "tiled + 4 flips" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["models", "--size", "0"], "models: error: argument --size: takes a whole number >= 32, got '0'"),
    (["models", "--steps", "-1"], "models: error: argument --steps: takes a whole number >= 1, got '-1'"),
    (["infer", "--size", "0"], "infer: error: argument --size: takes a whole number >= 1, got '0'"),
    (["pipeline", "--batches", "0"], "pipeline: error: argument --batches: takes a whole number >= 1, got '0'"),
    (["pipeline", "--threads", "abc"], "pipeline: error: argument --threads: takes a whole number >= 1 or auto, "
                                       "got 'abc'"),
    (["train", "--size", "abc"], "train: error: argument --size: takes a whole number >= 1, got 'abc'"),
    (["train", "--models", "unet,segnet"], "train: error: --models 'unet,segnet': 'segnet' unknown; give "
                                           "comma-separated names from unet, linknet, unet-resnet34"),
    (["pipeline", "--fit", "Unet"], "pipeline: error: --fit 'Unet': 'Unet' unknown; give comma-separated names "
                                    "from unet, linknet, unet-resnet34"),
])
def test_a_benchmark_size_or_count_below_one_is_a_usage_error(argv, message, capsys):
    from segutils.course.bench.__main__ import main

    with pytest.raises(SystemExit) as stop:  # before --size 0 fell back to 480 x 640, --steps -1 was a traceback
        main(argv)
    assert stop.value.code == 2 and f"python -m segutils.course.bench {message}\n" in capsys.readouterr().err


def test_a_value_segutils_refuses_is_one_error_line_and_help_lists_the_benchmarks(capsys):
    from segutils.course.bench.__main__ import main

    assert main(["train", "--profile", "gpu2"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == ("python -m segutils.course.bench train: error: Unknown profile 'gpu2'. Valid "
                                 "profiles: ci, cpu, gpu. Give one of them; if SEGUTILS_PROFILE named it, set it to "
                                 "one or unset it to pick by hardware.\n")
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m segutils.course.bench {pipeline|models|train|infer} [--help]\n\n")
    assert "  infer     what does overlap-tile prediction cost against one whole-image pass?\n" in out
    assert main(["frob"]) == 2
    assert capsys.readouterr().err.endswith("\nunknown benchmark 'frob'\n")


def _lambda_logits_model():
    inputs = keras.Input((None, None, 1))
    z = keras.layers.Conv2D(1, 1, name="head")(inputs)
    return keras.Model(inputs, keras.layers.Lambda(lambda t: 2.0 * t, name="scale")(z), name="hidden_logits")


def test_logits_hidden_behind_a_lambda_are_refused_not_cut_at_one_half():
    model = _lambda_logits_model()
    image = np.zeros((32, 32), np.uint8)
    message = (r"cannot tell whether model 'hidden_logits' outputs logits or probabilities: its layer 'scale' "
               r"\(Lambda\) has no activation; pass from_logits=True \(logits\) or False \(probabilities\) to "
               r"predict_masks; give evaluate its masks")
    for predict in (predict_masks, predict_probabilities, predict_tiled):
        with pytest.raises(ValueError, match=message):
            predict(model, image)
    with pytest.raises(ValueError, match=message):
        evaluate(model, ([image], [image]), 2)  # evaluate has no from_logits: the fix goes through predict_masks
    masks = predict_masks(model, [image], from_logits=True)
    iou = evaluate(masks, ([image], [image]), 2).scores["iou"]  # truth all 0: class 0's IoU is its predicted share
    assert iou[0] == pytest.approx((masks[0] == 0).mean())
    model.get_layer("head").set_weights([np.zeros((1, 1, 1, 1), np.float32), np.array([-0.1], np.float32)])
    # told, the prediction reads the Lambda's -0.2 as a logit: probability sigmoid(-0.2)
    np.testing.assert_allclose(predict_probabilities(model, image, from_logits=True), 1 / (1 + np.exp(0.2)), rtol=1e-6)
    np.testing.assert_allclose(tiled_probabilities(model, image, from_logits=True), 1 / (1 + np.exp(0.2)), rtol=1e-6)


def test_a_flat_or_two_output_model_gets_one_clear_error():
    inputs = keras.Input((None, None, 1))
    flat = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(inputs)), name="flat")
    two = keras.Model(inputs, [keras.layers.Conv2D(1, 1, activation="sigmoid")(inputs),
                               keras.layers.Conv2D(2, 1, activation="softmax")(inputs)], name="two")
    image = np.zeros((32, 32), np.uint8)
    for predict in (predict_masks, predict_probabilities, predict_tiled):
        with pytest.raises(ValueError, match=r"^model 'flat' maps \(None, None, None, 1\) to \(None, 3\): prediction "
                                             r"takes a segmentation model from images \(B, H, W, C\) to class maps"):
            predict(flat, image)
        with pytest.raises(ValueError, match=r"^model 'two' has 2 outputs: prediction takes a segmentation model with "
                                             r"one output .* keras.Model\(model.input, model.outputs\[0\]\)"):
            predict(two, image)
        with pytest.raises(ValueError, match=r"^model 'two' has 2 outputs"):  # also when told it outputs logits
            predict(two, image, from_logits=True)


def test_every_course_model_is_read_as_probabilities_or_logits():
    from segutils.models import build_linknet, build_linknet_scratch

    assert ends_in_logits(build_linknet_scratch((64, 64, 3), 3)) is False
    assert ends_in_logits(build_linknet((64, 64, 3), 3, encoder_weights=None)) is False
    assert ends_in_logits(build_unet((None, None, 1), 2, filters=4, depth=2, logits=True)) is True
    assert ends_in_logits(build_unet((None, None, 1), 2, filters=4, depth=2, logits=True), from_logits=False) is False


def test_predict_tiled_refuses_a_nan_image(unet):
    image = np.full((64, 64), 0.5, np.float32)
    image[3, 4] = np.nan
    message = r"^the image holds NaN or infinite values: replace them \(np\.nan_to_num\) first\.$"
    with pytest.raises(ValueError, match=message):
        predict_tiled(unet, image)
    with pytest.raises(ValueError, match=message):
        predict_masks(unet, image)


def test_the_head_rule_at_the_threshold_itself_is_class_0_in_prediction_and_metrics():
    """p == threshold exactly: class 0 everywhere (strict >), as argmax of [0.5, 0.5] gives class 0."""
    from segutils import metrics

    from .heads import head_model

    image = np.array([[0.5, 0.75], [0.25, 0.5]], np.float32)  # z = 4 (x - 0.5): 0, 1, -1, 0
    for activation, from_logits in (("sigmoid", False), ("linear", True)):
        model = head_model(activation, 1)
        probs = predict_probabilities(model, image)
        assert probs[0, 0, 0] == 0.5  # sigmoid(0) is exactly one half
        np.testing.assert_array_equal(predict_masks(model, image), [[0, 1], [0, 0]])
        np.testing.assert_array_equal(predict_tiled(model, image), [[0, 1], [0, 0]])
        outputs = model.predict_on_batch(image[None, ..., None])
        truth = np.array([[[0, 1], [0, 0]]])
        metric = metrics.ClassIoU(1, 2, from_logits=from_logits)
        metric.update_state(truth, outputs)
        assert float(metric.result()) == 1.0  # 0.5 counted as class 1 would give IoU 1/3
    np.testing.assert_array_equal(head_rule(np.array([[0.25], [0.2500001]]), 0.25), [0, 1])
    np.testing.assert_array_equal(head_rule(np.array([[0.5, 0.5], [0.4, 0.6]])), [0, 1])  # argmax: ties to class 0


def test_images_are_read_by_the_pipelines_rule(unet):
    """uint16, whole numbers 0..255 and floats in [0, 1] predict as the uint8 image they stand for, as make_dataset
    reads them (sources.image_array): one rule for training and prediction."""
    image = np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)
    expected = predict_masks(unet, image)
    for same in (image.astype(np.uint16) * 257, image.astype(np.int64), image.astype(np.float32) / 255):
        np.testing.assert_array_equal(predict_masks(unet, same), expected)
        np.testing.assert_array_equal(predict_tiled(unet, same, tile=32, overlap=0), predict_tiled(unet, image,
                                                                                                   tile=32, overlap=0))
    with pytest.raises(ValueError, match=r"^the image is int64 with values 300\.\.300: pass uint8 \(0\.\.255\)"):
        predict_masks(unet, np.full((64, 64), 300, np.int64))
