"""The course in one place: repository URL, notebook order, badges and the setup cell.

Every notebook's Colab badge and setup cell are built from :data:`REPO_URL` here;
``tests/test_notebooks.py`` checks that each notebook matches, and
``python -m segutils.course sync`` rewrites them after the URL changes.
Taught in ``notebooks/00_setup.ipynb``.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO_URL = "https://github.com/segmentation-course/unet-vs-linknet"
BRANCH = "main"
NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"

#: The course in order: notebook file and what it teaches (later issues add 04-06).
PLAN = [
    ("00_setup.ipynb", "Set up: what the course teaches, profiles and their budgets, the environment report"),
    ("01_data.ipynb", "Data: datasets, your own folder, masks, joint augmentation, tf.data"),
    ("02_unet.ipynb", "U-Net block by block: double conv, encoder, bottleneck, decoder with skips; then train it"),
    ("03_linknet.ipynb", "LinkNet on a pretrained ResNet34: encoder stages, the decoder block by hand"),
    ("04_losses_metrics.ipynb", "Losses and metrics: the accuracy trap, IoU, Dice, focal, combined losses"),
    ("05_training.ipynb", "Training: one loop for CPU, GPU and several devices, mixed precision, resuming"),
    ("06_comparison.ipynb", "An honest comparison of U-Net and LinkNet: metrics, speed, seeds, pictures"),
    ("07_inference.ipynb", "Inference: images of any size (overlap-tile), flips, export to SavedModel/ONNX/LiteRT"),
    ("08_street_scenes.ipynb", "Street scenes: both models on CamVid's 11 classes, per-class verdict, speed"),
]

#: Where Colab mounts Google Drive, and the runs folder on it (``SEGUTILS_RUNS_DIR`` when kept there).
DRIVE, DRIVE_RUNS = "/content/drive", "/content/drive/MyDrive/segutils/runs"
#: Packages Colab lacks (segmentation-models and what it needs): installed with ``--no-deps``, so the install
#: leaves Colab's own TensorFlow, NumPy, matplotlib and ipywidgets as they are.
COLAB_EXTRAS = ["segmentation-models==1.0.1", "efficientnet==1.0.0", "image-classifiers==1.0.0",
                "keras-applications==1.0.8"]


def repo_path() -> str:
    """``owner/name`` of :data:`REPO_URL`."""
    return REPO_URL.removeprefix("https://github.com/").strip("/")


def colab_url(notebook: str) -> str:
    """The Colab address that opens ``notebooks/<notebook>`` from the repository."""
    return f"https://colab.research.google.com/github/{repo_path()}/blob/{BRANCH}/notebooks/{notebook}"


def github_url(notebook: str) -> str:
    """The GitHub address of ``notebooks/<notebook>``."""
    return f"{REPO_URL}/blob/{BRANCH}/notebooks/{notebook}"


def badges_markdown(notebook: str) -> str:
    """The Colab and GitHub badges line for one notebook."""
    return (
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(notebook)}) "
        f"[![View on GitHub](https://img.shields.io/badge/view%20on-GitHub-181717?logo=github)]({github_url(notebook)})"
    )


SETUP_MARKER = "# Setup: on Colab this installs segutils (the version matching this notebook) and keeps runs on Drive."
#: A git ref Colab may install: a branch, a tag or a commit (no spaces, quotes or shell characters).
REF_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")
#: Notebooks whose setup cell asks ``course.setup`` for another of the profile's datasets than ``dataset``.
SETUP_DATA = {"08_street_scenes.ipynb": "streets"}


def profile_dataset(profile, data: str = "dataset") -> str:
    """The dataset ``data`` names in ``profile``: its ``streets`` one for ``"streets"``, else its ``dataset``."""
    return profile.streets.dataset if data == "streets" else profile.dataset


def setup_cell_source(ref: str = BRANCH, notebook: str = "") -> str:
    """The setup cell every notebook starts with; on Colab it installs ``segutils`` at git ``ref``.

    ``python -m segutils.course sync`` pins ``ref`` to the current commit (or a tag), so Colab installs
    the ``segutils`` the notebook was written against; ``course.setup()`` does the rest (see its docstring),
    ``course.setup(data="streets")`` in the notebooks of :data:`SETUP_DATA`.
    """
    if not REF_PATTERN.fullmatch(ref):
        raise ValueError(f"{ref!r} is not a git ref the setup cell can install: use a branch, tag or commit name "
                         "made of letters, digits and . _ / -")
    extras = " ".join(COLAB_EXTRAS)
    call = f'course.setup(data="{SETUP_DATA[notebook]}")' if notebook in SETUP_DATA else "course.setup()"
    return f"""{SETUP_MARKER}
import sys
if "google.colab" in sys.modules:
    %pip install -q --no-deps {extras} "segutils @ git+{REPO_URL}.git@{ref}"
from segutils import config, course
{call}  # versions and device; on Colab, runs go to Drive (course.setup(drive=False) keeps them local)"""


def pinned_ref(source: str) -> str | None:
    """The git ref a setup cell's ``source`` installs ``segutils`` at, or None when it installs none."""
    found = re.search(r'"segutils @ git\+\S+?\.git@([^"\s]+)"', source)
    return found.group(1) if found else None


def current_ref(checkout: Path = NOTEBOOK_DIR.parent) -> str:
    """A tag on the checked-out commit of ``checkout`` if there is one, else that commit's hash.

    Raises:
        RuntimeError: ``checkout`` is not a git checkout, or ``segutils/`` has uncommitted changes
            (Colab would install the commit without them).
    """
    import subprocess

    def git(*args):
        done = subprocess.run(["git", "-C", str(checkout), *args], capture_output=True, text=True)
        return done.returncode, done.stdout.strip()

    code, commit = git("rev-parse", "HEAD")
    if code:
        raise RuntimeError(f"{checkout} is not a git checkout: pass the ref to pin with --ref (a tag or commit).")
    code, changed = git("status", "--porcelain", "--", "segutils")
    if changed:
        raise RuntimeError("segutils/ has uncommitted changes, which Colab could not install: commit them, then "
                           "sync again (or pass --ref).")
    code, tag = git("describe", "--tags", "--exact-match", "HEAD")
    return tag if code == 0 and tag else commit


def notebooks(directory: Path = NOTEBOOK_DIR) -> list[Path]:
    """The course notebooks in order (``NN_name.ipynb``)."""
    return sorted(p for p in directory.glob("[0-9][0-9]_*.ipynb"))


def sync(directory: Path = NOTEBOOK_DIR, ref: str | None = None) -> list[Path]:
    """Rewrite the badges and setup cell of every notebook in ``directory``; return the files that changed.

    ``ref`` is the git ref the setup cells install ``segutils`` at; None keeps each cell's own
    (:data:`BRANCH` when it has none). ``python -m segutils.course sync`` passes :func:`current_ref`.
    """
    import nbformat

    changed = []
    for path in notebooks(directory):
        nb = nbformat.read(path, as_version=4)
        before = nbformat.writes(nb)
        for cell in nb.cells:
            if cell.cell_type == "markdown" and "colab-badge.svg" in cell.source:
                lines = cell.source.splitlines()
                cell.source = "\n".join(
                    badges_markdown(path.name) if "colab-badge.svg" in line else line for line in lines
                )
            if cell.cell_type == "code" and cell.source.startswith("# Setup:"):
                cell.source = setup_cell_source(ref or pinned_ref(cell.source) or BRANCH, path.name)
        if nbformat.writes(nb) != before:
            write_notebook(nb, path)
            changed.append(path)
    return changed


def write_notebook(nb, path: Path) -> None:
    """Write ``nb`` with outputs stripped and stable JSON (what git should hold)."""
    import nbformat

    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.validate(nb)
    path.write_text(nbformat.writes(nb, indent=1) + "\n", encoding="utf-8")


PARAMETERS_HEADER = "# Parameters: read from the active profile; papermill and SEGUTILS_PROFILE override them."


def new_notebook(filename: str, title: str, overview: str, parameters: str, cells: list[tuple[str, str]]):
    """Build a course notebook in the standard shape.

    Args:
        filename: e.g. ``"02_unet.ipynb"`` (used for the badges).
        title: the single H1, without ``#``.
        overview: markdown for the Overview (what you learn, what you need, time on CPU/GPU).
        parameters: code of the parameters cell (UPPER_CASE constants from ``config.active()``).
        cells: the rest, as ``("markdown" | "code", source)`` pairs; include Summary,
            Exercises and Next.

    Returns:
        An ``nbformat`` notebook; save it with :func:`write_notebook`.
    """
    import nbformat.v4 as v4

    head = f"# {title}\n\n{badges_markdown(filename)}\n\n## Overview\n\n{overview.strip()}"
    params = v4.new_code_cell(f"{PARAMETERS_HEADER}\n{parameters.strip()}")
    params.metadata["tags"] = ["parameters"]
    nb = v4.new_notebook()
    nb.cells = [v4.new_markdown_cell(head), v4.new_code_cell(setup_cell_source(notebook=filename)), params]
    for kind, source in cells:
        make = v4.new_markdown_cell if kind == "markdown" else v4.new_code_cell
        nb.cells.append(make(source.strip()))
    return nb
