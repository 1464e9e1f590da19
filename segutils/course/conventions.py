"""What a course notebook must look like: its sections, setup and parameters cells, exercises with hidden solutions
and a check cell, short code cells and a short core path (``tests/test_notebooks.py``, ``python -m segutils.course
check``)."""

from __future__ import annotations

from .catalog import REF_PATTERN, colab_url, pinned_ref, setup_cell_source

REQUIRED_SECTIONS = ("## Overview", "## Summary", "## Exercises", "## Next")


def _headings(markdown: str) -> list[str]:
    lines, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            lines.append(line.rstrip())
    return lines


def _uppercase_assignments(source: str) -> list[str]:
    """Names assigned at the top level of ``source`` that are not UPPER_CASE."""
    import ast

    bad = []
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        for target in targets:
            if isinstance(target, ast.Name) and not target.id.isupper():
                bad.append(target.id)
    return bad


def convention_problems(nb, filename: str) -> list[str]:
    """What in notebook ``nb`` (saved as ``filename``) breaks the course conventions; empty when none."""
    problems = []
    if nb.metadata.get("kernelspec", {}).get("name") != "python3":
        problems.append("kernelspec is not python3")
    for i, cell in enumerate(nb.cells, start=1):
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
            problems.append(f"cell {i} has outputs or an execution count: strip them")
    markdown = "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    h1 = [h for h in _headings(markdown) if h.startswith("# ")]
    if len(h1) != 1:
        problems.append(f"expected exactly one H1, found {len(h1)}: {h1}")
    first = nb.cells[0].source if nb.cells and nb.cells[0].cell_type == "markdown" else ""
    if f"({colab_url(filename)})" not in first or "colab-badge.svg" not in first:
        problems.append(f"the first cell lacks the Colab badge linking to {colab_url(filename)}")
    headings = _headings(markdown)
    for section in REQUIRED_SECTIONS:
        if section not in headings:
            problems.append(f"missing section {section!r}")
    code = [c for c in nb.cells if c.cell_type == "code"]
    ref = pinned_ref(code[0].source) if code else None
    if not code or not ref or not REF_PATTERN.fullmatch(ref) or code[0].source != setup_cell_source(ref, filename):
        problems.append("the first code cell is not the standard setup cell (run `python -m segutils.course sync`)")
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    if len(tagged) != 1:
        problems.append(f"expected one code cell tagged 'parameters', found {len(tagged)}")
    elif len(code) < 2 or code[1] is not tagged[0]:
        problems.append("the parameters cell must come right after the setup cell")
    else:
        lower = _uppercase_assignments(tagged[0].source)
        if lower:
            problems.append(f"parameters cell assigns names that are not UPPER_CASE: {lower}")
    problems += _exercise_problems(nb)
    return problems


def _exercise_problems(nb) -> list[str]:
    """The Exercises section must be checked through ``segutils.course.exercises.report``."""
    markdown = [i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"]
    start = next((i for i in markdown if "## Exercises" in _headings(nb.cells[i].source)), None)
    if start is None:
        return []
    cells = list(enumerate(nb.cells, start=1))[start:]
    code = [c.source for _, c in cells if c.cell_type == "code"]
    problems = []
    if not any("report(" in source for source in code):
        problems.append("the Exercises have no check cell calling segutils.course.exercises.report(...)")
    if any("check out" in source for source in code):
        problems.append("an exercise cell prints 'check out' itself: let report() say it, only for answers it checked")
    if any("<details" in c.source for _, c in cells if c.cell_type == "markdown"):
        problems.append("a solution sits in <details>: put it in a code cell whose source is hidden "
                        "(solution_cell() in segutils.course.conventions), so nbval runs it")
    solutions = [(i, c) for i, c in cells if c.cell_type == "code" and assigns_solution(c.source)]
    if not solutions:
        problems.append("the Exercises have no solution cell (a hidden code cell assigning SOLUTION_...)")
    for i, cell in solutions:
        if not is_hidden(cell):
            problems.append(f"cell {i} shows its solution: hide its source (metadata jupyter.source_hidden = true)")
    return problems


def assigns_solution(source: str) -> bool:
    """Whether ``source`` assigns a top-level name starting with ``SOLUTION``."""
    import ast

    try:
        body = ast.parse(source).body
    except SyntaxError:
        return False
    for node in body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        for target in targets:
            names = target.elts if isinstance(target, ast.Tuple) else [target]
            if any(isinstance(n, ast.Name) and n.id.startswith("SOLUTION") for n in names):
                return True
    return False


def is_hidden(cell) -> bool:
    """Whether a cell's source is collapsed in JupyterLab (``metadata.jupyter.source_hidden``)."""
    return cell.metadata.get("jupyter", {}).get("source_hidden") is True


SOLUTION_TITLE = "# @title Solutions"


def solution_cell(source: str):
    """A code cell with ``source`` collapsed: JupyterLab shows a bar, nbval and ``make run`` still run it.

    Colab hides it too: its first line is a form title (:data:`SOLUTION_TITLE`) and ``cellView`` is
    ``form``, so Colab shows the title and keeps the code folded until the learner opens it.
    """
    import nbformat.v4 as v4

    source = source.strip()
    cell = v4.new_code_cell(source if source.startswith(SOLUTION_TITLE) else f"{SOLUTION_TITLE}\n{source}")
    cell.metadata["jupyter"] = {"source_hidden": True}
    cell.metadata["cellView"] = "form"
    return cell


#: The longest code cell a notebook from 04 on may have (issue 14: a cell shows one idea).
MAX_CODE_LINES = 25


def long_code_cells(nb, limit: int = MAX_CODE_LINES) -> list[str]:
    """The code cells of ``nb`` longer than ``limit`` lines, as ``"cell N: L lines"``."""
    return [f"cell {i}: {len(c.source.splitlines())} lines" for i, c in enumerate(nb.cells, start=1)
            if c.cell_type == "code" and len(c.source.splitlines()) > limit]


#: The most cells a notebook's core path may have (issue 22: one topic at a time).
MAX_CORE_CELLS = 30


def core_path(nb) -> list:
    """The cells of ``nb`` before its Summary or Exercises heading, whichever comes first: what every learner does.

    Going further (optional side tracks) and Behind the scenes (plumbing) come after the exercises.
    Raises ``ValueError`` when the notebook has neither heading.
    """
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and {"## Summary", "## Exercises"} & set(_headings(cell.source)):
            return nb.cells[:i]
    raise ValueError("the notebook has no '## Summary' or '## Exercises' heading: its core path has no end")
