"""Profiles (``ci``, ``cpu``, ``gpu``): how big a run is; ``SEGUTILS_PROFILE`` picks one, else the hardware.
Taught in ``notebooks/00_setup.ipynb``."""

import os
import platform
import sys
import tempfile
from dataclasses import asdict, dataclass
from importlib import metadata

ENV_VAR = "SEGUTILS_PROFILE"


@dataclass(frozen=True)
class StreetBudget:
    """Notebook 08's CamVid run: ``(height, width)`` at CamVid's 4:3, padded to multiples of 32; ``ci``: ``streets``."""

    dataset: str
    img_size: tuple[int, int]
    batch_size: int
    epochs: int
    steps_per_epoch: int
    seeds: int = 1
    subset: int | None = None  # training and validation images (the test split is always whole)
    unet_filters: int = 16
    models: tuple[str, ...] = ("unet", "linknet")  # gpu adds the same-encoder control, unet-resnet34


@dataclass(frozen=True)
class Profile:
    """How big one run is: data, image side, batch, ``epochs * steps_per_epoch`` steps, U-Net width, LinkNet's
    encoder weights, Adam's ``lr``, ``seeds`` per model, ``patience`` (early stop) and ``lr_patience`` in epochs,
    the ``models`` notebooks 05-06 compare."""

    name: str
    dataset: str
    img_size: int
    batch_size: int
    epochs: int
    steps_per_epoch: int
    subset: int | None
    unet_filters: int
    encoder_weights: str | None
    mixed_precision: bool
    lr: float = 1e-3
    seeds: int = 1
    jit_compile: bool = False
    run_eagerly: bool = False
    patience: int = 5
    lr_patience: int = 3
    models: tuple[str, ...] = ("unet", "linknet")
    streets: StreetBudget = StreetBudget("camvid", (144, 192), 4, 2, 25)  # cpu: 50 steps, 08 within 8 min

    def as_dict(self) -> dict:
        """The profile as a plain dict."""
        return asdict(self)


PROFILES: dict[str, Profile] = {
    # Tests and CI: synthetic data, tiny models, no downloads.
    "ci": Profile("ci", "shapes", 64, 4, 1, 2, 8, 8, None, False, run_eagerly=True, patience=1, lr_patience=1,
                  streets=StreetBudget("streets", (96, 128), 4, 1, 2, subset=8, unet_filters=8)),
    # A laptop without a GPU: real data, small images, narrow U-Net.
    "cpu": Profile("cpu", "membrane", 128, 4, 30, 20, None, 16, "imagenet", False),
    # Colab or a workstation GPU: full resolution, full width, twice the cpu profile's steps at twice the batch.
    "gpu": Profile("gpu", "membrane", 512, 8, 60, 20, None, 64, "imagenet", True, seeds=3, jit_compile=True,
                   patience=8, lr_patience=4, models=("unet", "linknet", "unet-resnet34"),
                   streets=StreetBudget("camvid", (360, 480), 8, 40, 25, seeds=3, unet_filters=32,
                                        models=("unet", "linknet", "unet-resnet34"))),
}


def budget(profile: Profile) -> dict:
    """A profile's training budget per model: steps, images seen, epochs and patience in steps."""
    steps = profile.epochs * profile.steps_per_epoch
    return dict(steps=steps, images=steps * profile.batch_size, epochs=profile.epochs,
                steps_per_epoch=profile.steps_per_epoch, patience_steps=profile.patience * profile.steps_per_epoch)


class UnknownProfileError(ValueError):
    """``SEGUTILS_PROFILE`` or an argument names no profile."""


def get(name: str) -> Profile:
    """The profile called ``name`` (case-insensitive)."""
    key = name.strip().lower()
    if key not in PROFILES:
        raise UnknownProfileError(f"Unknown profile {name!r}. Valid profiles: {', '.join(PROFILES)}. Give one of "
                                  f"them; if {ENV_VAR} named it, set it to one or unset it to pick by hardware.")
    return PROFILES[key]


_startup_log = ""


def import_tensorflow():
    """TensorFlow, imported with its C++ start-up lines kept in :func:`startup_log` (added to the error if it fails)."""
    global _startup_log
    if sys.modules.get("tensorflow") is not None:
        return sys.modules["tensorflow"]
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as buffer:
        os.dup2(buffer.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()
        except BaseException as err:
            err.add_note("TensorFlow's start-up output:\n" + _read_back(buffer))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            _startup_log = _read_back(buffer)
    return tf


def _read_back(buffer) -> str:
    buffer.seek(0)
    return buffer.read().decode(errors="replace")


def startup_log() -> str:
    """What TensorFlow's C++ runtime printed while :func:`import_tensorflow` imported it."""
    return _startup_log


def accelerators() -> list[str]:
    """Device types of the GPUs and TPUs TensorFlow sees (empty on a CPU-only machine)."""
    tf = import_tensorflow()
    return [d.device_type for kind in ("GPU", "TPU") for d in tf.config.list_physical_devices(kind)]


def active() -> Profile:
    """The profile named by ``SEGUTILS_PROFILE``, else ``gpu`` with an accelerator, else ``cpu``."""
    name = os.environ.get(ENV_VAR, "").strip()
    return get(name) if name else PROFILES["gpu" if accelerators() else "cpu"]


def in_colab() -> bool:
    """True inside Google Colab."""
    return "google.colab" in sys.modules


def package_version(package: str) -> str:
    """The installed version of ``package``, or ``"not installed"``."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


class Report(dict):
    """The environment report: a dict that renders as a table in notebooks."""

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><th style='text-align:left'>{k}</th><td>{v}</td></tr>" for k, v in self.items())
        return f"<table>{rows}</table>"

    def __str__(self) -> str:
        width = max(map(len, self))
        return "\n".join(f"{k:<{width}}  {v}" for k, v in self.items())

    __repr__ = __str__


def environment_report() -> Report:
    """Python, TensorFlow, Keras, segmentation-models and NumPy versions, devices, Colab, profile."""
    tf = import_tensorflow()
    devices = [f"{d.device_type}:{d.name.rsplit(':', 1)[-1]}" for d in tf.config.list_physical_devices()]
    try:
        source = f"from {ENV_VAR}" if os.environ.get(ENV_VAR) else "picked from the hardware"
        profile = f"{active().name} ({source})"
    except UnknownProfileError as err:
        profile = f"invalid: {err}"
    return Report({"Python": platform.python_version(), "TensorFlow": tf.__version__, "Keras": package_version("keras"),
                   "segmentation-models": package_version("segmentation-models"), "NumPy": package_version("numpy"),
                   "Devices": ", ".join(devices) or "none", "Colab": "yes" if in_colab() else "no", "Profile": profile})
