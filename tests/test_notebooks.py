"""Every notebook follows the course conventions; breaking one is caught."""

import copy
import tomllib

import nbformat
import pytest

from segutils.course import catalog as course

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
    assert course.convention_problems(_read(path), path.name) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_stripped_and_stable(path, tmp_path):
    nb = _read(path)
    course.write_notebook(nb, tmp_path / path.name)
    assert (tmp_path / path.name).read_text() == path.read_text(), "rewrite with segutils.course.write_notebook"


@pytest.fixture
def setup_nb():
    return _read(course.NOTEBOOK_DIR / "00_setup.ipynb")


def _problems(nb):
    return course.convention_problems(nb, "00_setup.ipynb")


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
    assert source.index('if "google.colab" in sys.modules:') < source.index("%pip")
    assert all(line.startswith("%pip install") for line in install)
    assert '"segmentation-models==1.0.1"' in install[0]
    assert f'--no-deps "segutils @ git+{course.REPO_URL}.git@main"' in install[1]


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
    assert course.long_code_cells(_read(path)) == []


def test_a_26_line_code_cell_is_reported_and_25_lines_are_not(setup_nb):
    setup_nb.cells.append(nbformat.v4.new_code_cell("\n".join(f"x{k} = {k}" for k in range(25))))
    assert course.long_code_cells(setup_nb) == []
    setup_nb.cells.append(nbformat.v4.new_code_cell("\n".join(f"x{k} = {k}" for k in range(26))))
    assert course.long_code_cells(setup_nb) == [f"cell {len(setup_nb.cells)}: 26 lines"]


def _solution_cell(nb):
    start = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and "## Exercises" in c.source)
    return next(c for c in nb.cells[start:] if c.cell_type == "code" and "SOLUTION_1 =" in c.source)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_hides_its_solutions_in_a_collapsed_code_cell(path):
    nb = _read(path)
    assert course.is_hidden(_solution_cell(nb))


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
        "(solution_cell() in segutils.course.catalog), so nbval runs it",
        "the Exercises have no solution cell (a hidden code cell assigning SOLUTION_...)",
    ]


def test_solution_cell_is_collapsed_code_in_jupyterlab_and_colab():
    cell = course.solution_cell("SOLUTION_1 = 4\n")
    assert cell.cell_type == "code" and cell.source == "# @title Solutions\nSOLUTION_1 = 4"
    assert cell.metadata == {"jupyter": {"source_hidden": True}, "cellView": "form"} and course.is_hidden(cell)
    assert course.solution_cell(cell.source).source == cell.source  # the title is not doubled


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_solution_cell_is_the_standard_one(path):
    cell, standard = _solution_cell(_read(path)), course.solution_cell(_solution_cell(_read(path)).source)
    assert (cell.source, cell.metadata) == (standard.source, standard.metadata)
