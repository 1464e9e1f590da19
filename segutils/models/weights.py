"""LinkNet's encoder weights: where the file comes from, and what a file holds before Keras loads it.

Taught in ``notebooks/03_linknet.ipynb``."""

import io
import math
import os
import re
import zipfile
from dataclasses import dataclass

from ..data.registry import WEIGHTS, mirror_url, titled


class EncoderWeightsError(RuntimeError):
    """The encoder weights cannot be downloaded, or a file does not hold them; the message says the fix."""


def imagenet_weights_info(backbone: str) -> dict | None:
    """``name``, ``url`` and ``md5`` of the ImageNet no-top encoder file (``classification_models``), or None."""
    from classification_models.weights import WEIGHTS_COLLECTION

    wanted = (backbone, "imagenet", False)
    return next((e for e in WEIGHTS_COLLECTION if (e["model"], e["dataset"], e["include_top"]) == wanted), None)


def keras_cache_dir() -> str:
    """Where ``keras.utils.get_file(..., cache_subdir="models")`` looks first."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "models")


def encoder_weights_path(backbone: str, encoder_weights, mirror=None) -> str | None:
    """``encoder_weights`` (``"imagenet"``, None or a path) as what the model loads: ``"imagenet"`` from the Keras
    cache, the mirror or GitHub (md5-checked), else an :class:`EncoderWeightsError` with the fixes."""
    if encoder_weights is None:
        return None
    if encoder_weights == "imagenet":
        info = imagenet_weights_info(backbone)
        if info is None:  # weights from another table (EfficientNet, keras-applications): sm fetches them
            return "imagenet"
        import keras

        root = mirror_url(WEIGHTS, mirror)
        origins = ([root[0] + info["name"]] if root else []) + [info["url"]]
        os.makedirs(keras_cache_dir(), exist_ok=True)  # else Keras silently falls back to /tmp/.keras
        errors, name = [], info["name"]
        for origin in origins:
            try:
                return keras.utils.get_file(name, origin, cache_dir=os.path.dirname(keras_cache_dir()),
                                            cache_subdir="models", file_hash=info["md5"], hash_algorithm="md5")
            except Exception as err:  # noqa: BLE001 - try the next origin, then explain
                errors.append(f"{origin} ({type(err).__name__}: {err})")
        raise EncoderWeightsError(
            f"Could not download the ImageNet weights of the {backbone} encoder, {name}, from "
            f"{' nor from '.join(errors)}.\nFixes:\n  1. copy {name} (md5 {info['md5']}) to "
            f"{os.path.join(keras_cache_dir(), name)} (the Keras cache) and run again, or run `make data` while "
            "online;\n"
            f"  2. in a workshop, set SEGUTILS_MIRROR to the instructor's mirror (it serves {WEIGHTS}/{name});\n"
            f"  3. or pass its path as encoder_weights='/path/to/{name}' (build_model and build_linknet take it);\n"
            "  4. or train the encoder from scratch: encoder_weights=None.")
    path = os.fspath(encoder_weights)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"encoder_weights={path!r} is not a file. Pass 'imagenet', None, or the path of an "
                                "encoder weights file (.h5 from classification_models, or .weights.h5).")
    return path


@dataclass(frozen=True)
class WeightsFile:
    """What an HDF5 weights file holds: ``layers`` lists each layer's weight shapes, in file order."""

    path: str
    layers: tuple[tuple[tuple[int, ...], ...], ...]
    names: tuple[str, ...]  # layer names (legacy .h5), or () when the format keeps none (Keras 3)

    @property
    def numbers(self) -> int:
        return sum(math.prod(shape) for layer in self.layers for shape in layer)


def weights_file_error(path: str, what: str, backbone: str, fix: str) -> EncoderWeightsError:
    info = imagenet_weights_info(backbone)
    like = f", like {info['name']} (md5 {info['md5']})" if info else ""
    return EncoderWeightsError(f"encoder_weights={path!r} does not hold the {backbone} encoder's weights: it is "
                               f"{what}.\nExpected: the {backbone} encoder's weights in HDF5{like}.\nFix: {fix} Or "
                               "pass encoder_weights='imagenet' (downloaded and checked), or None to train the encoder "
                               "from scratch.")


def _legacy_layers(group) -> tuple[list, list]:
    names, layers = [], []
    for name in (n.decode() if isinstance(n, bytes) else n for n in group.attrs["layer_names"]):
        weight_names = [w.decode() if isinstance(w, bytes) else w for w in group[name].attrs.get("weight_names", [])]
        if weight_names:
            names.append(name)
            layers.append(tuple(tuple(group[name][w].shape) for w in weight_names))
    return names, layers


def _keras3_layers(group) -> list:
    names = []
    group.visit(names.append)  # Keras 3 keeps each layer's weights as layers/<name>/vars/0, 1, ...
    found = [group[name] for name in names if name.rsplit("/", 1)[-1] == "vars" and len(group[name])]
    return [tuple(tuple(found_vars[k].shape) for k in sorted(found_vars, key=int)) for found_vars in found]


def read_weights_file(path, backbone: str) -> WeightsFile:
    """The layers an HDF5 weights file (or ``.keras`` archive) holds, else an EncoderWeightsError saying what."""
    import h5py

    path = os.fspath(path)
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(4096)
    again = "Delete it and download (or copy) it again."
    if size == 0:
        raise weights_file_error(path, "an empty file (0 bytes)", backbone, again)
    if re.match(rb"\s*(<!doctype html|<html|<\?xml|<head|<body)", head[:512], re.I):
        page = f"an HTML page ({size:,} bytes{titled(head)}) saved in place of the weights"
        fix = "A download fetched a web page (a Wi-Fi login page or an error page): open a browser and log in if " \
              "asked, delete the file, and download it again."
        raise weights_file_error(path, page, backbone, fix)
    source = path
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                source = io.BytesIO(archive.read("model.weights.h5"))
        except (zipfile.BadZipFile, KeyError, OSError) as err:
            what = f"a zip archive that is not a .keras model ({err})"
            raise weights_file_error(path, what, backbone, again) from err
    elif not head.startswith(b"\x89HDF\r\n\x1a\n"):
        what = f"not an HDF5 file ({size:,} bytes starting with {head[:16]!r})"
        raise weights_file_error(path, what, backbone, again)
    try:
        with h5py.File(source, "r") as f:
            if "layer_names" in f.attrs or "model_weights" in f:
                names, layers = _legacy_layers(f["model_weights"] if "model_weights" in f else f)
            else:
                names, layers = [], _keras3_layers(f)
    except OSError as err:
        stored = re.search(r"stored_eof = (\d+)", str(err))
        what = f"a truncated HDF5 file, {size:,} of the {int(stored.group(1)):,} bytes it should have" if stored \
            else f"a damaged HDF5 file ({size:,} bytes; {err})"
        raise weights_file_error(path, what, backbone, again) from err
    return WeightsFile(path, tuple(layers), tuple(names))
