"""segutils: the reusable code of the U-Net vs LinkNet segmentation course.

Importing it prints nothing, sets ``SM_FRAMEWORK=tf.keras`` for ``segmentation_models`` and refuses Keras 2 with
the fix. Taught in ``notebooks/00_setup.ipynb``."""

import os
from importlib import metadata

__version__ = "0.1.0"

os.environ.setdefault("SM_FRAMEWORK", "tf.keras")
# Hide TensorFlow's C++ start-up chatter (oneDNN, CUDA probing) unless asked for.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class KerasVersionError(ImportError):
    """Raised when Keras 2 is active: the course needs Keras 3 (TensorFlow >= 2.16)."""


def _check_keras() -> None:
    legacy = os.environ.get("TF_USE_LEGACY_KERAS", "")
    if legacy.strip().lower() in {"1", "true", "yes"}:
        raise KerasVersionError(f"TF_USE_LEGACY_KERAS={legacy} makes tf.keras the legacy Keras 2 (tf_keras), but this "
                                "course is written for Keras 3.\nFix: unset it before starting Python or the kernel: "
                                "`unset TF_USE_LEGACY_KERAS` in the shell, or in a notebook restart the kernel, then "
                                "run `%env TF_USE_LEGACY_KERAS=0` before any import.")
    try:
        keras_version = metadata.version("keras")
    except metadata.PackageNotFoundError:
        return  # TensorFlow will say what is missing when it is imported.
    if int(keras_version.split(".")[0]) < 3:
        raise KerasVersionError(f"keras {keras_version} is installed, but this course needs Keras 3.\nFix: pip install "
                                '"tensorflow>=2.16" "keras>=3" (or `make test`, which installs the locked versions).')


_check_keras()
