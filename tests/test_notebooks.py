"""Every notebook follows the course conventions; breaking one is caught."""

import copy
import os
import shutil
import subprocess
import sys
import tomllib

import nbformat
import pytest

from segutils.course import catalog as course
from segutils.course import conventions

from .conftest import ROOT

NOTEBOOKS = course.notebooks()


def _read(path):
    return nbformat.read(path, as_version=4)


def test_there_are_notebooks_and_they_start_at_00():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "00_setup.ipynb"
    planned = [name for name, _ in course.PLAN]
    assert [p.name for p in NOTEBOOKS] == [n for n in planned if (course.NOTEBOOK_DIR / n).exists()]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_follows_conventions(path):
    assert conventions.convention_problems(_read(path), path.name) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_stripped_and_stable(path, tmp_path):
    nb = _read(path)
    course.write_notebook(nb, tmp_path / path.name)
    assert (tmp_path / path.name).read_text() == path.read_text(), "rewrite with segutils.course.write_notebook"


@pytest.fixture
def setup_nb():
    return _read(course.NOTEBOOK_DIR / "00_setup.ipynb")


def _problems(nb):
    return conventions.convention_problems(nb, "00_setup.ipynb")


def test_removing_the_badge_fails(setup_nb):
    setup_nb.cells[0].source = setup_nb.cells[0].source.replace("colab-badge.svg", "")
    assert any("Colab badge" in p for p in _problems(setup_nb))


def test_a_badge_for_another_repository_fails(setup_nb):
    setup_nb.cells[0].source = setup_nb.cells[0].source.replace(course.repo_path(), "someone/else")
    assert any("Colab badge" in p for p in _problems(setup_nb))


def test_outputs_fail(setup_nb):
    setup_nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="hi")]
    assert _problems(setup_nb) == ["cell 2 has outputs or an execution count: strip them"]


def test_a_second_h1_fails(setup_nb):
    setup_nb.cells.append(nbformat.v4.new_markdown_cell("# Another title"))
    assert _problems(setup_nb) == [
        "expected exactly one H1, found 2: ['# Set up the segmentation course', '# Another title']"
    ]


def test_h1_inside_a_code_fence_is_not_a_heading(setup_nb):
    setup_nb.cells.append(nbformat.v4.new_markdown_cell("```bash\n# a shell comment\n```"))
    assert _problems(setup_nb) == []


def test_untagged_parameters_fail(setup_nb):
    setup_nb.cells[2].metadata["tags"] = []
    assert _problems(setup_nb) == ["expected one code cell tagged 'parameters', found 0"]


def test_lowercase_parameter_fails(setup_nb):
    setup_nb.cells[2].source += "\nlr = 0.1"
    assert _problems(setup_nb) == ["parameters cell assigns names that are not UPPER_CASE: ['lr']"]


def test_changed_setup_cell_fails_and_sync_repairs_it(setup_nb, tmp_path):
    setup_nb.cells[1].source = "import segutils"
    assert any("setup cell" in p for p in _problems(setup_nb))
    setup_nb.cells[1].source = course.SETUP_MARKER + "\nimport segutils"
    setup_nb.cells[0].source = setup_nb.cells[0].source.replace(course.repo_path(), "old/url")
    course.write_notebook(copy.deepcopy(setup_nb), tmp_path / "00_setup.ipynb")
    assert course.sync(tmp_path) == [tmp_path / "00_setup.ipynb"]
    assert _problems(_read(tmp_path / "00_setup.ipynb")) == []


def test_setup_cell_installs_only_on_colab_and_from_the_repository():
    source = course.setup_cell_source()
    install = [line.strip() for line in source.splitlines() if "pip install" in line]
    assert len(source.splitlines()) <= 6 and source.splitlines()[0] == course.SETUP_MARKER
    assert source.index('if "google.colab" in sys.modules:') < source.index("%pip")
    assert install == ["%pip install -q --no-deps segmentation-models==1.0.1 efficientnet==1.0.0 "
                       "image-classifiers==1.0.0 "
                       f'keras-applications==1.0.8 "segutils @ git+{course.REPO_URL}.git@main"']
    assert source.endswith("course.setup()  # versions and device; on Colab, runs go to Drive "
                           "(course.setup(drive=False) keeps them local)")


def test_notebook_08s_setup_cell_asks_for_the_profiles_street_scenes(tmp_path):
    source = course.setup_cell_source(notebook="08_street_scenes.ipynb")
    assert len(source.splitlines()) <= 6 and course.SETUP_DATA == {"08_street_scenes.ipynb": "streets"}
    assert source.splitlines()[-1].startswith('course.setup(data="streets")  # versions and device; ')
    assert source.replace('course.setup(data="streets")', "course.setup()") == course.setup_cell_source()
    path = course.NOTEBOOK_DIR / "08_street_scenes.ipynb"
    nb = _read(path)
    assert nb.cells[1].source == source and conventions.convention_problems(nb, path.name) == []
    assert any("setup cell" in p for p in conventions.convention_problems(nb, "07_inference.ipynb"))
    nb.cells[1].source = course.setup_cell_source()  # the plain cell: sync puts the streets one back
    course.write_notebook(nb, tmp_path / path.name)
    assert course.sync(tmp_path) == [tmp_path / path.name] and _read(tmp_path / path.name).cells[1].source == source


def test_a_ref_that_is_not_a_plain_git_name_is_refused():
    with pytest.raises(ValueError, match=r"'main\"; rm' is not a git ref the setup cell can install"):
        course.setup_cell_source('main"; rm')


def _git(cwd, *args):
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def checkout(tmp_path):
    """A git checkout holding a copy of the notebooks and a segutils/ file, committed."""
    for path in NOTEBOOKS:
        (tmp_path / "notebooks").mkdir(exist_ok=True)
        shutil.copy(path, tmp_path / "notebooks" / path.name)
    (tmp_path / "segutils").mkdir()
    (tmp_path / "segutils" / "x.py").write_text("X = 1\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "first")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "course")
    return tmp_path


def _refs(directory):
    return {p.name: course.pinned_ref(next(c.source for c in _read(p).cells if c.cell_type == "code"))
            for p in course.notebooks(directory)}


def test_sync_pins_every_setup_cell_to_the_current_commit_then_to_a_tag(checkout):
    commit = _git(checkout, "rev-parse", "HEAD")
    assert course.current_ref(checkout) == commit
    changed = course.sync(checkout / "notebooks", ref=course.current_ref(checkout))
    assert [p.name for p in changed] == [p.name for p in NOTEBOOKS]
    assert set(_refs(checkout / "notebooks").values()) == {commit}
    for path in course.notebooks(checkout / "notebooks"):
        problems = conventions.convention_problems(_read(path), path.name)
        assert [p for p in problems if "setup cell" in p] == []  # a pinned cell is a standard one (08: data=)
    _git(checkout, "tag", "v1.0")
    assert course.current_ref(checkout) == "v1.0"
    course.sync(checkout / "notebooks", ref="v1.0")
    assert set(_refs(checkout / "notebooks").values()) == {"v1.0"}
    assert course.sync(checkout / "notebooks") == []  # without a ref, each cell keeps its own


def test_sync_refuses_to_pin_a_commit_without_the_segutils_changes(checkout):
    (checkout / "segutils" / "x.py").write_text("X = 2\n")
    with pytest.raises(RuntimeError, match="segutils/ has uncommitted changes, which Colab could not install"):
        course.current_ref(checkout)


def test_sync_outside_a_git_checkout_asks_for_a_ref(tmp_path):
    with pytest.raises(RuntimeError, match="is not a git checkout: pass the ref to pin with --ref"):
        course.current_ref(tmp_path)


def test_sync_command_refuses_a_bad_ref_and_leaves_the_notebooks_alone():
    before = {p.name: p.read_text() for p in NOTEBOOKS}
    done = subprocess.run([sys.executable, "-m", "segutils.course", "sync", "--ref", "a b"], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 1
    assert done.stderr.strip().endswith("sync: 'a b' is not a git ref the setup cell can install: use a branch, "
                                        "tag or commit name made of letters, digits and . _ / -")
    assert {p.name: p.read_text() for p in NOTEBOOKS} == before


def test_repository_url_is_defined_once():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["urls"]["Repository"] == course.REPO_URL
    assert course.colab_url("00_setup.ipynb") == (
        "https://colab.research.google.com/github/segmentation-course/unet-vs-linknet/blob/main/notebooks/00_setup.ipynb"
    )


def test_readme_lists_every_notebook():
    readme = (ROOT / "README.md").read_text()
    for path in NOTEBOOKS:
        assert f"notebooks/{path.name}" in readme, f"README's notebooks table lacks {path.name}"


SHORT_CELL_NOTEBOOKS = [p for p in NOTEBOOKS if p.name[:2] >= "04"]


@pytest.mark.parametrize("path", SHORT_CELL_NOTEBOOKS, ids=lambda p: p.name)
def test_code_cells_from_notebook_04_on_are_at_most_25_lines(path):
    assert conventions.long_code_cells(_read(path)) == []


def test_a_26_line_code_cell_is_reported_and_25_lines_are_not(setup_nb):
    setup_nb.cells.append(nbformat.v4.new_code_cell("\n".join(f"x{k} = {k}" for k in range(25))))
    assert conventions.long_code_cells(setup_nb) == []
    setup_nb.cells.append(nbformat.v4.new_code_cell("\n".join(f"x{k} = {k}" for k in range(26))))
    assert conventions.long_code_cells(setup_nb) == [f"cell {len(setup_nb.cells)}: 26 lines"]


def _solution_cell(nb):
    start = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and "## Exercises" in c.source)
    return next(c for c in nb.cells[start:] if c.cell_type == "code" and "SOLUTION_1 =" in c.source)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_hides_its_solutions_in_a_collapsed_code_cell(path):
    nb = _read(path)
    assert conventions.is_hidden(_solution_cell(nb))


def test_a_solution_in_plain_sight_fails(setup_nb):
    cell = _solution_cell(setup_nb)
    del cell.metadata["jupyter"]
    number = setup_nb.cells.index(cell) + 1
    assert _problems(setup_nb) == [
        f"cell {number} shows its solution: hide its source (metadata jupyter.source_hidden = true)"
    ]


def test_a_solution_in_details_fails(setup_nb):
    setup_nb.cells.remove(_solution_cell(setup_nb))
    setup_nb.cells.insert(-2, nbformat.v4.new_markdown_cell("<details><summary>Solution</summary>\n\n42\n</details>"))
    assert _problems(setup_nb) == [
        "a solution sits in <details>: put it in a code cell whose source is hidden "
        "(solution_cell() in segutils.course.conventions), so nbval runs it",
        "the Exercises have no solution cell (a hidden code cell assigning SOLUTION_...)",
    ]


def test_solution_cell_is_collapsed_code_in_jupyterlab_and_colab():
    cell = conventions.solution_cell("SOLUTION_1 = 4\n")
    assert cell.cell_type == "code" and cell.source == "# @title Solutions\nSOLUTION_1 = 4"
    assert cell.metadata == {"jupyter": {"source_hidden": True}, "cellView": "form"} and conventions.is_hidden(cell)
    assert conventions.solution_cell(cell.source).source == cell.source  # the title is not doubled


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_solution_cell_is_the_standard_one(path):
    cell, standard = _solution_cell(_read(path)), conventions.solution_cell(_solution_cell(_read(path)).source)
    assert (cell.source, cell.metadata) == (standard.source, standard.metadata)
