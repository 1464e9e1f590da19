"""Models: a wrong encoder weights file, bad input shapes, odd image sides, one direction of imports (issue 10)."""

import ast
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from segutils.models import EncoderWeightsError, build_linknet, build_unet

ROOT = Path(__file__).resolve().parents[1]
IMAGENET34 = "resnet34_imagenet_1000_no_top.h5 (md5 8caaa0ad39d927cb8ba5385bf945d582)"
RESNET18 = (40, 11_186_889)  # layers with weights, numbers: classification_models' ResNet18, include_top=False
RESNET34 = (72, 21_302_473)


@pytest.fixture(scope="module")
def resnet18_files(tmp_path_factory):
    """A resnet18 encoder saved as legacy .h5 and as .weights.h5."""
    from classification_models.tfkeras import Classifiers

    encoder = Classifiers.get("resnet18")[0](input_shape=(None, None, 3), weights=None, include_top=False)
    assert (sum(1 for layer in encoder.layers if layer.weights), encoder.count_params()) == RESNET18
    folder = tmp_path_factory.mktemp("weights")
    encoder.save(folder / "resnet18.h5")  # legacy HDF5, the format classification_models ships
    encoder.save_weights(folder / "resnet18.weights.h5")
    return folder


def _refusal(path, backbone="resnet34", **kwargs) -> str:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(EncoderWeightsError) as err:
            build_linknet((64, 64, 3), 1, backbone=backbone, encoder_weights=str(path), **kwargs)
    assert [str(w.message)[:80] for w in caught] == []  # one error, no flood of warnings
    return str(err.value)


def test_an_html_page_saved_as_weights_is_refused_naming_the_page_and_the_fix(tmp_path):
    page = tmp_path / "resnet34_imagenet_1000_no_top.h5"
    page.write_bytes(b"<!DOCTYPE html>\n<html><head><title>Sign in to Airport Wi-Fi</title></head></html>")
    assert _refusal(page) == (
        f"encoder_weights='{page}' does not hold the resnet34 encoder's weights: it is an HTML page (81 bytes, "
        "titled 'Sign in to Airport Wi-Fi') saved in place of the weights.\n"
        f"Expected: the resnet34 encoder's weights in HDF5, like {IMAGENET34}.\n"
        "Fix: A download fetched a web page (a Wi-Fi login page or an error page): open a browser and log in if "
        "asked, delete the file, and download it again. Or pass encoder_weights='imagenet' (downloaded and "
        "checked), or None to train the encoder from scratch."
    )


def test_a_truncated_weights_file_says_how_many_bytes_it_lacks(resnet18_files, tmp_path):
    whole = (resnet18_files / "resnet18.h5").read_bytes()
    cut = tmp_path / "resnet18.h5"
    cut.write_bytes(whole[:1_000_000])
    message = _refusal(cut, backbone="resnet18")
    assert f"it is a truncated HDF5 file, 1,000,000 of the {len(whole):,} bytes it should have." in message
    assert "Fix: Delete it and download (or copy) it again." in message


def test_another_backbones_weights_are_refused_once_without_a_flood_of_warnings(resnet18_files):
    for name in ("resnet18.weights.h5", "resnet18.h5"):  # Keras 3 and legacy formats
        message = _refusal(resnet18_files / name)
        assert (
            f"it is the weights of {RESNET18[0]} layers ({RESNET18[1]:,} numbers), where the resnet34 encoder "
            f"has {RESNET34[0]} layers with weights ({RESNET34[1]:,} numbers).\n" in message
        )
        assert "Fix: Pass the file of the resnet34 encoder, or build with the backbone the file was saved from." in (
            message
        )


def test_a_whole_model_file_as_encoder_weights_is_refused_with_how_to_restore_it(tmp_path):
    model = build_linknet((64, 64, 3), 1, backbone="resnet18", encoder_weights=None)
    model.save_weights(tmp_path / "my_linknet.weights.h5")
    held = sum(1 for layer in model.layers if layer.weights)
    message = _refusal(tmp_path / "my_linknet.weights.h5", backbone="resnet18")
    assert (
        f"it is a whole model: the weights of {held} layers ({model.count_params():,} numbers), the encoder's "
        f"{RESNET18[0]} and {held - RESNET18[0]} more.\n" in message
    )
    assert "build it with encoder_weights=None and call model.load_weights(path)" in message


@pytest.mark.parametrize(
    ("shape", "hint"),
    [
        ((256, 256), "it has no channels: add them, (H, W, 1) for grayscale or (H, W, 3) for RGB"),
        ((256, 256, 0), "0 channels: images have 1 (grayscale) or 3 (RGB)"),
        ((256 / 4, 64, 1), "sides are whole numbers: use // to divide: 256 // 4, not 256 / 4"),
        (None, "pass three whole numbers >= 1 (sides may be None)"),
    ],
)
def test_a_unet_input_shape_without_channels_or_with_0_channels_is_refused_before_building(shape, hint):
    with pytest.raises(ValueError) as err:
        build_unet(shape, 1, filters=4, depth=2)
    assert str(err.value) == (
        "build_unet takes input_shape=(height, width, channels), e.g. (256, 256, 1), or (None, None, 1) for any "
        f"size; got {shape!r}: {hint}."
    )


def test_a_size_agnostic_unet_given_sides_its_depth_cannot_halve_names_the_sizes_it_accepts():
    model = build_unet((None, None, 1), 1, filters=4, depth=2)
    expected = (
        "U-Net with depth=2 down-samples by 4, so height and width must be multiples of 4; got height 30 "
        "(nearest valid sizes: 28 or 32); width 6 (nearest valid sizes: 4 or 8). Pad or crop the images to those "
        "sizes (segutils.predict.predict_masks pads and crops for you)."
    )
    image = np.zeros((1, 30, 6, 1), "float32")
    for call in (model, lambda x: model.predict(x, verbose=0)):
        with pytest.raises(ValueError) as err:
            call(image)
        assert expected in str(err.value)
    assert model(np.zeros((1, 28, 8, 1), "float32")).shape == (1, 28, 8, 1)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, top level or inside functions, relative ones made absolute."""
    package = ".".join(path.relative_to(ROOT).parent.parts)  # segutils/data/loading.py -> segutils.data
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            found |= {module} | {f"{module}.{alias.name}" for alias in node.names}
    return found


def test_the_data_package_never_imports_model_code():
    for path in sorted((ROOT / "segutils" / "data").glob("*.py")):
        assert not [m for m in _imports(path) if m.startswith("segutils.models")], path.name
    code = (
        "import sys, segutils.data, segutils.course.data, segutils.course.downloads\n"
        "print(sorted(m for m in sys.modules if m.startswith('segutils.models')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip() == "[]"
    assert "segutils.models.weights" in _imports(ROOT / "segutils" / "models" / "linknet.py")
    assert "segutils.data.registry.mirror_url" in _imports(ROOT / "segutils" / "models" / "weights.py")
