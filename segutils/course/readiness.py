"""A readiness checklist an instructor can run on a participant's laptop in seconds.

Each check is green or red, and a red one says how to fix it. Run it in
``notebooks/00_setup.ipynb`` or from a terminal with ``python -m segutils.course.readiness``
(exit code 1 when a required check fails). Taught in ``notebooks/00_setup.ipynb``.
"""

from __future__ import annotations

import html
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

MIN_FREE_GB = 2.0


@dataclass(frozen=True)
class Check:
    """The outcome of one check: ``ok`` is green; ``required`` ones must be green to start."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


class Checklist(list):
    """A list of :class:`Check` that renders as a green/red table in notebooks."""

    @property
    def ready(self) -> bool:
        """True when every required check is green."""
        return all(c.ok for c in self if c.required)

    def _repr_html_(self) -> str:
        rows = []
        for c in self:
            colour = "#1a7f37" if c.ok else ("#cf222e" if c.required else "#9a6700")
            mark = "&#10004;" if c.ok else "&#10008;"
            fix = "" if c.ok else html.escape(c.fix)
            rows.append(
                f"<tr><td style='color:{colour};font-weight:bold'>{mark}</td>"
                f"<td>{html.escape(c.name)}</td><td>{html.escape(c.detail)}</td><td>{fix}</td></tr>"
            )
        verdict = "Ready." if self.ready else "Not ready: fix the red rows, then run the checklist again."
        return (
            "<table><tr><th></th><th>check</th><th>found</th><th>fix</th></tr>"
            + "".join(rows)
            + f"</table><p><b>{verdict}</b></p>"
        )

    def __str__(self) -> str:
        lines = []
        for c in self:
            mark = "OK  " if c.ok else ("FAIL" if c.required else "WARN")
            lines.append(f"[{mark}] {c.name}: {c.detail}")
            if not c.ok:
                lines.append(f"       fix: {c.fix}")
        lines.append("Ready." if self.ready else "Not ready: fix the FAIL rows, then run the checklist again.")
        return "\n".join(lines)

    __repr__ = __str__


def _python() -> Check:
    v = sys.version_info
    return Check(
        "Python >= 3.11",
        v >= (3, 11),
        f"{v.major}.{v.minor}.{v.micro}",
        "Install Python 3.11, then `make test` (or use the conda route: environment.yml).",
    )


def _tensorflow() -> Check:
    from segutils import config

    try:
        tf = config.import_tensorflow()
    except Exception as err:  # noqa: BLE001 - any import failure is the finding
        return Check("TensorFlow >= 2.16", False, f"import failed: {err}", "Run `make test` or `make lab`.")
    major, minor = (int(p) for p in tf.__version__.split(".")[:2])
    return Check(
        "TensorFlow >= 2.16",
        (major, minor) >= (2, 16),
        tf.__version__,
        'pip install "tensorflow>=2.16" (it brings Keras 3).',
    )


#: `make check` hands the shell's TF_USE_LEGACY_KERAS over under this name (segutils refuses to import with it).
LEGACY_ENV = "SEGUTILS_SHELL_TF_USE_LEGACY_KERAS"


def _keras() -> Check:
    version = metadata.version("keras")
    legacy = os.environ.get(LEGACY_ENV) or os.environ.get("TF_USE_LEGACY_KERAS", "")
    if legacy.strip().lower() in {"1", "true", "yes"}:
        return Check("Keras 3", False, f"TF_USE_LEGACY_KERAS={legacy} in the shell: tf.keras would be the legacy "
                     "Keras 2, and segutils refuses to import", "`unset TF_USE_LEGACY_KERAS` in the shell (in a "
                     "notebook: restart the kernel, then run %env TF_USE_LEGACY_KERAS=0 before any import).")
    return Check("Keras 3", version.startswith("3."), version, 'pip install "keras>=3"; unset TF_USE_LEGACY_KERAS.')


def _segmentation_models() -> Check:
    try:
        from segutils.models.linknet import import_sm

        import_sm()
    except Exception as err:  # noqa: BLE001
        return Check(
            "segmentation-models imports",
            False,
            f"{type(err).__name__}: {err}",
            'Import segutils first (it sets SM_FRAMEWORK=tf.keras); pip install "segmentation-models==1.0.1".',
        )
    return Check("segmentation-models imports", True, metadata.version("segmentation-models"))


def _profile() -> Check:
    from segutils import config

    try:
        profile = config.active()
    except config.UnknownProfileError as err:
        return Check("Profile", False, str(err), f"unset {config.ENV_VAR} or set it to ci, cpu or gpu.")
    return Check("Profile", True, f"{profile.name} ({profile.img_size}px, batch {profile.batch_size})")


def _widgets() -> Check:
    try:
        import ipywidgets
    except ImportError:
        return Check("ipywidgets", False, "missing", "pip install ipywidgets", required=False)
    return Check("ipywidgets", True, ipywidgets.__version__, required=False)


def _disk() -> Check:
    free_gb = shutil.disk_usage(Path.cwd()).free / 1e9
    return Check(
        f"Free disk >= {MIN_FREE_GB:g} GB",
        free_gb >= MIN_FREE_GB,
        f"{free_gb:.1f} GB free",
        "Free some space: datasets, weights and runs need about 2 GB.",
        required=False,
    )


def _writable() -> Check:
    from segutils.checks import writable
    from segutils.data.registry import ENV_DATA_DIR, data_root

    try:
        return Check("Data folder writable", True, str(writable(data_root(), "datasets")))
    except OSError as err:
        return Check("Data folder writable", False, str(err), f"Set {ENV_DATA_DIR} to a writable folder.")


def _runs_folder() -> Check:
    from segutils.checks import writable
    from segutils.training.runs import RUNS_ENV_VAR, runs_root

    try:
        return Check("Runs folder writable", True, str(writable(runs_root(), "training runs")))
    except OSError as err:
        return Check("Runs folder writable", False, str(err), f"Set {RUNS_ENV_VAR} to a folder you can write to.")


def _backup_seconds() -> Check:
    from segutils.training.checkpoints import BACKUP_ENV_VAR, backup_seconds

    try:
        seconds = backup_seconds()
    except ValueError as err:
        return Check("Backup interval", False, str(err), f"unset {BACKUP_ENV_VAR}, or set it to seconds, e.g. 600.")
    if seconds < 0:
        return Check("Backup interval", False, f"{BACKUP_ENV_VAR}={seconds:g} is negative",
                     f"unset {BACKUP_ENV_VAR}, or set it to seconds >= 0 (0: every epoch).")
    return Check("Backup interval", True, f"every {seconds:g} s" if seconds else "every epoch")


#: What to do when the profile's dataset is neither cached nor downloadable (no network).
WAYS_ON = (
    "Three ways on: run `make data` while online (it caches the datasets, so the course then runs offline); "
    "or set SEGUTILS_MIRROR to a workshop mirror or a USB copy (e.g. SEGUTILS_MIRROR=/media/usb/data/{name}); "
    "or run `SEGUTILS_PROFILE=ci make run`, which needs no download."
)


def _dataset() -> Check:
    from segutils import config
    from segutils.course.data import verify

    name = config.active().dataset
    if name == "shapes":
        return Check("Profile's dataset available", True, "shapes: generated in memory, no download", required=False)
    problems = verify(name)
    found = f"{name}: {len(problems)} file(s) missing or bad" if problems else f"{name}: all files present and verified"
    return Check("Profile's dataset available", not problems, found, WAYS_ON, required=False)


def dataset_for_run(name: str, profile: str) -> str | None:
    """None when the course can read ``name`` (generated, a folder, or cached: fetched now if a source answers).

    Otherwise the one message ``make run`` stops with, before the first notebook: what is
    missing, why it cannot be downloaded now, and :data:`WAYS_ON`.
    """
    from segutils.course.downloads import DownloadError, downloadable, fetch
    from segutils.data.registry import data_root

    meta = downloadable(name)
    if meta is None:
        return None
    try:
        fetch(meta.name)
        return None
    except DownloadError as err:
        why = next((f"{f['kind']}: {f['detail']}" for f in err.failures if f["kind"] != "skipped"), str(err))
        return (
            f"The {profile} profile's notebooks read the {meta.name} dataset, which is not (all) in "
            f"{data_root() / meta.name} and cannot be downloaded now ({why}). {WAYS_ON}"
        )


def _mirror() -> Check:
    """With SEGUTILS_MIRROR set (a workshop), it must serve what the active profile downloads."""
    from segutils import config
    from segutils.course.mirror import check_mirror
    from segutils.data.registry import ENV_MIRROR, WEIGHTS

    found = check_mirror()
    if not found:
        return Check("Workshop mirror", True, f"{ENV_MIRROR} not set: files come from their pinned sources",
                     required=False)
    profile = config.active()
    served = [n for n, problem in found.items() if problem is None]
    missing = [n for n, problem in found.items() if problem is not None]
    detail = f"{os.environ[ENV_MIRROR]} serves {', '.join(served) or 'nothing'}"
    detail += f"; not {', '.join(missing)} (first problem: {found[missing[0]]})" if missing else ""
    fix = (
        f"Ask the instructor to run `python -m segutils.course.kit serve <kit>` and check that {ENV_MIRROR} is "
        "the URL it prints (http://<instructor>:<port>/data/{name}/), or a USB copy's data/{name}; or unset it."
    )
    if not served or found.get(profile.dataset) is not None:
        return Check("Workshop mirror", False, detail, fix)
    if profile.encoder_weights == "imagenet" and found.get(WEIGHTS) is not None:  # LinkNet falls back to random
        return Check("Workshop mirror", False, detail + "; without the weights LinkNet starts from a random encoder",
                     "Ask the instructor for a kit built after `make data` fetched the encoder weights.",
                     required=False)
    return Check("Workshop mirror", True, detail)


def _train_step() -> Check:
    import keras
    import numpy as np

    x = np.random.default_rng(0).random((2, 32, 32, 1), dtype=np.float32)
    inputs = keras.Input((32, 32, 1))
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Conv2D(1, 1, activation="sigmoid")(h))
    model.compile("adam", "binary_crossentropy")
    start = time.perf_counter()
    model.fit(x, (x > 0.5).astype("float32"), epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    return Check(
        "A training step runs",
        seconds < 30,
        f"{seconds:.1f} s for a tiny model (includes tracing)",
        "This machine is very slow or busy: close other programs, use the ci profile, or Colab.",
    )


CHECKS: list[Callable[[], Check]] = [
    _python,
    _tensorflow,
    _keras,
    _segmentation_models,
    _profile,
    _widgets,
    _disk,
    _writable,
    _runs_folder,
    _backup_seconds,
    _dataset,
    _mirror,
    _train_step,
]


def run(checks: list[Callable[[], Check]] | None = None) -> Checklist:
    """Run every check (a crashing check becomes a red row, never an exception)."""
    results = Checklist()
    for check in checks or CHECKS:
        try:
            results.append(check())
        except Exception as err:  # noqa: BLE001 - report, don't crash the checklist
            name = check.__name__.strip("_").replace("_", " ")
            results.append(Check(name, False, f"{type(err).__name__}: {err}", "See the README's troubleshooting."))
    return results


def main(argv: list[str] | None = None) -> int:
    """Print the checklist; exit 1 when a required check fails."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m segutils.course.readiness", description=__doc__.splitlines()[0],
                                     epilog="It takes no arguments: SEGUTILS_PROFILE, SEGUTILS_DATA_DIR, "
                                     "SEGUTILS_RUNS_DIR and SEGUTILS_MIRROR set what it checks.")
    parser.parse_args(argv)
    results = run()
    print(results)
    return 0 if results.ready else 1


if __name__ == "__main__":
    sys.exit(main())
