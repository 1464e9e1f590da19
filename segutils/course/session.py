"""``course.setup()``: what every notebook's setup cell calls after Colab installed ``segutils``.

Locally it only prints the environment report. On Colab it also keeps the training runs on Google
Drive, because each Colab notebook runs in its own runtime whose files vanish with it, and notebooks
06 and 07 read the runs notebook 05 trained.
"""

from __future__ import annotations

import os
import sys

from .. import config
from .catalog import DRIVE, DRIVE_RUNS


def setup(drive: bool = True) -> None:
    """Print the versions and devices (``config.environment_report()``); on Colab, keep runs on Drive.

    On Colab with ``drive=True`` it mounts Google Drive at :data:`~.catalog.DRIVE` (Colab asks for
    your authorisation) and points ``SEGUTILS_RUNS_DIR`` at :data:`~.catalog.DRIVE_RUNS`, unless you
    set it yourself; either way it prints one line saying where runs go and how to choose otherwise.
    ``drive=False`` keeps them in the runtime. Outside Colab ``drive`` changes nothing.
    """
    print(config.environment_report())
    if "google.colab" not in sys.modules:
        return
    if not drive:
        print("Runs stay in this Colab runtime and vanish with it; course.setup() keeps them on Google Drive.")
        return
    from google.colab import drive as google_drive

    from ..training.runs import RUNS_ENV_VAR

    google_drive.mount(DRIVE)
    runs = os.environ.setdefault(RUNS_ENV_VAR, DRIVE_RUNS)
    print(f"Runs go to {runs} on Google Drive, so notebooks 06 and 07 find notebook 05's runs after this "
          "runtime stops; course.setup(drive=False) keeps them in the runtime.")
