"""``course.setup()``: what every notebook's setup cell calls after Colab installed ``segutils``.

It prints the environment report and fetches the profile's dataset when it is not on disk yet
(``segutils.data.load`` itself never downloads). On Colab it also keeps the training runs on Google
Drive, because each Colab notebook runs in its own runtime whose files vanish with it, and notebooks
06 and 07 read the runs notebook 05 trained.
"""

from __future__ import annotations

import os
import sys

from .. import config
from .catalog import DRIVE, DRIVE_RUNS, profile_dataset
from .downloads import DownloadError, fetch_missing

#: What ``setup(data=...)`` may name: the profile's ``dataset`` (notebooks 00-07), or its ``streets`` one (08).
DATA = ("dataset", "streets")
#: Set to 0 by the runner, which fetched what its notebooks read (``make compare DATA=folder`` reads no membrane).
FETCH_ENV_VAR = "SEGUTILS_SETUP_FETCH"


def setup(drive: bool = True, data: str | None = "dataset") -> None:
    """Print the versions and devices (``config.environment_report()``); fetch the notebook's data; on Colab,
    keep runs on Drive.

    ``data`` names the active profile's dataset this notebook reads: ``"dataset"`` (``membrane`` in ``cpu``),
    ``"streets"`` (notebook 08: ``camvid``), or None. A registered dataset not yet on disk is downloaded
    and verified with a progress bar (``SEGUTILS_MIRROR`` applies); generated ones (``ci``) need nothing.
    A failed download is printed with its fix, and the notebook goes on.

    On Colab with ``drive=True`` it mounts Google Drive at :data:`~.catalog.DRIVE` (Colab asks for
    your authorisation) and points ``SEGUTILS_RUNS_DIR`` at :data:`~.catalog.DRIVE_RUNS`, unless you
    set it yourself; either way it prints one line saying where runs go and how to choose otherwise.
    ``drive=False`` keeps them in the runtime. Outside Colab ``drive`` changes nothing.
    """
    if data is not None and data not in DATA:
        raise ValueError(f"data={data!r}: use 'dataset', 'streets', or None to fetch nothing.")
    print(config.environment_report())
    if "google.colab" in sys.modules:
        _keep_runs_on_drive(drive)
    if data is not None:
        fetch_profile_data(data)


def fetch_profile_data(data: str = "dataset") -> None:
    """Fetch the active profile's ``data`` (one of :data:`DATA`) when it is a registered dataset not on disk."""
    if os.environ.get(FETCH_ENV_VAR) == "0":
        return
    try:
        profile = config.active()
    except config.UnknownProfileError:
        return  # the report above says the profile is invalid
    name = profile_dataset(profile, data)
    try:
        fetch_missing(name)
    except DownloadError as err:
        print(f'Could not fetch {name!r} now; `course.fetch("{name}")` tries again.\n{err}')


def _keep_runs_on_drive(drive: bool) -> None:
    if not drive:
        print("Runs stay in this Colab runtime and vanish with it; course.setup() keeps them on Google Drive.")
        return
    from google.colab import drive as google_drive

    from ..training.runs import RUNS_ENV_VAR

    google_drive.mount(DRIVE)
    runs = os.environ.setdefault(RUNS_ENV_VAR, DRIVE_RUNS)
    print(f"Runs go to {runs} on Google Drive, so notebooks 06 and 07 find notebook 05's runs after this "
          "runtime stops; course.setup(drive=False) keeps them in the runtime.")
