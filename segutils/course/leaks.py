"""Answers after the attempt: find where a notebook shows an exercise's answer before the learner tries.

:func:`probe` returns a copy of a notebook with three small cells added: around the solution cell,
one counts the ``keras.Model.fit`` calls it makes (a solution shows code; an experiment's numbers
come from the learner's run), and at the end one prints the solutions and checks each with its
exercise's check (so the values searched for are the ones the checks accept); the cells after the
exercises are left out (their outputs come after the attempt). Execute the copy with the answers
left ``None`` (as committed), then :func:`leaks` lists what leaked: an expected value in
an output before the answer cell, in the solution cell or in the check cell; a solution cell with
output or with training; a cell before the answer cell that uses the solutions or the checks.
``tests/test_solution_leaks.py`` runs it over every notebook.
"""

from __future__ import annotations

import ast
import re

ANSWER_CELL = "# Your answers here"
_FITS, _SOLUTIONS = "LEAK-PROBE fits:", "LEAK-PROBE solutions:"

_BEFORE = """import keras as _leak_keras
_leak_fits, _leak_fit = [], _leak_keras.Model.fit
_leak_keras.Model.fit = lambda self, *a, **k: (_leak_fits.append(1), _leak_fit(self, *a, **k))[1]"""
_AFTER = f"""_leak_keras.Model.fit = _leak_fit
print({_FITS!r}, len(_leak_fits))"""
_DUMP = f"""import numbers as _leak_numbers


def _leak_plain(v):
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, _leak_numbers.Integral):
        return int(v)
    if isinstance(v, _leak_numbers.Real):
        return float(v)
    if isinstance(v, tuple | list):
        return tuple(_leak_plain(x) for x in v)
    if isinstance(v, set | frozenset):
        return {{_leak_plain(x) for x in v}} if v else repr(v)
    return repr(v)


{{checks}}
print({_SOLUTIONS!r}, repr({{k: _leak_plain(v) for k, v in sorted(globals().items()) if k.startswith("SOLUTION")}}))"""


def exercise_cells(nb) -> tuple[int, list[int], int]:
    """``(answer cell, solution cells, check cell)`` indices of the Exercises of ``nb``."""
    from .conventions import assigns_solution

    start = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and "## Exercises" in c.source)
    code = [i for i in range(start, len(nb.cells)) if nb.cells[i].cell_type == "code"]
    answer = next(i for i in code if nb.cells[i].source.startswith(ANSWER_CELL))
    solutions = [i for i in code if assigns_solution(nb.cells[i].source)]
    check = next(i for i in code if "report(" in nb.cells[i].source)
    return answer, solutions, check


def _report_calls(source: str) -> list[tuple[str, str, str]]:
    """``(answer name, solution name, check call source)`` of each ``NAME = report(n, NAME, SOLUTION_n, check)``."""
    calls = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "report" and len(node.args) == 4:
            answer, solution, check = node.args[1:]
            if isinstance(answer, ast.Name) and isinstance(solution, ast.Name):
                calls.append((answer.id, solution.id, ast.unparse(check)))
    return calls


def probe(nb):
    """A copy of ``nb`` with the probe cells added (see the module docstring); execute it, then :func:`leaks`."""
    import copy

    import nbformat.v4 as v4

    nb = copy.deepcopy(nb)
    _, solutions, check = exercise_cells(nb)
    del nb.cells[max(check, *solutions) + 1 :]  # what follows the exercises shows nothing early: nbval runs it
    checks = []
    for _answer, solution, call in _report_calls(nb.cells[check].source):
        checks.append(f"if {solution} is not None:\n    assert ({call})({solution}) is None, "
                      f"'the check rejects {solution}: its hint is ' + repr(({call})({solution}))")
    nb.cells.append(v4.new_code_cell(_DUMP.replace("{checks}", "\n".join(checks))))
    for i in reversed(solutions):
        nb.cells.insert(i + 1, v4.new_code_cell(_AFTER, metadata={"tags": ["leak-probe"]}))
        nb.cells.insert(i, v4.new_code_cell(_BEFORE, metadata={"tags": ["leak-probe"]}))
    return nb


def renderings(value) -> list[str]:
    """How ``value`` would look in an output: exact for numbers of 2+ digits, sets, tuples and strings.

    Single digits (also as floats, such as 0.0 or 1.0), booleans and None are too common to mean
    anything in an output; they give none.
    """
    if value is None or isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [] if abs(value) < 10 else sorted({str(value), f"{value:,}"})
    if isinstance(value, float):
        if abs(value) < 5e-4 or (value.is_integer() and abs(value) < 10):
            return []  # 0.0000 or 1.000 prints everywhere
        return sorted({f"{value:.3f}", f"{value:.4f}", f"{value:.1%}", f"{value:.2%}", repr(value)})
    if isinstance(value, str):
        return [value] if len(value) >= 3 and not value.startswith("<") else []
    if isinstance(value, set | frozenset):
        return [repr(set(value))] if value else []
    if isinstance(value, tuple):
        return [repr(value), str(list(value))]
    return []


def _text(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        for kind in ("text/plain", "text/markdown", "text/html"):
            data = output.get("data", {}).get(kind)
            parts.append("".join(data) if isinstance(data, list) else data or "")
    return "\n".join(parts)


def _found(rendering: str, text: str) -> bool:
    """``rendering`` in ``text``, not as part of a longer number or name (``512`` is not in ``1512`` or ``5.12``)."""
    edge = r"[\w.]" if rendering[:1].isalnum() or rendering[:1] == "-" else r"(?!)"
    end = r"(?:[\w]|[.,]\d)" if rendering[-1:].isalnum() or rendering[-1:] == "%" else r"(?!)"
    return re.search(rf"(?<!{edge}){re.escape(rendering)}(?!{end})", text) is not None


def leaks(executed) -> list[str]:
    """What the executed probe of a notebook (:func:`probe`) shows too early; empty when nothing.

    Raises ``ValueError`` when the probe did not run to its end (the notebook failed first).
    """
    from .conventions import assigns_solution

    probe_cells = [i for i, c in enumerate(executed.cells) if "leak-probe" in c.metadata.get("tags", [])]
    answer, _, check = exercise_cells(executed)
    dump = _text(executed.cells[-1])
    if _SOLUTIONS not in dump:
        errors = [f"cell {i + 1} raised {o.get('ename')}: {o.get('evalue')}" for i, c in enumerate(executed.cells)
                  for o in c.get("outputs", []) if o.get("output_type") == "error"]
        raise ValueError(f"the probe did not run to its end, so nothing was checked: {(errors or [dump[-300:]])[0]}")
    solutions = ast.literal_eval(dump.split(_SOLUTIONS, 1)[1].strip())
    problems = []
    number = lambda i: i + 1 - sum(p < i for p in probe_cells)  # noqa: E731 - as JupyterLab numbers the original
    for i in probe_cells[1::2]:  # each "after" cell reports the fits of the solution cell before it
        fits = int(_text(executed.cells[i]).split(_FITS, 1)[1].split()[0])
        if fits:
            problems.append(f"cell {number(i - 1)} (solution) trains a model ({fits} fit call(s)): an experiment's "
                            "numbers must come from the learner's run")
        if _text(executed.cells[i - 1]).strip():
            problems.append(f"cell {number(i - 1)} (solution) has output: a solution shows code and prints nothing")
    shown = [i for i in range(len(executed.cells) - 1) if i < answer or i == check
             or (i - 1 in probe_cells and i + 1 in probe_cells)]
    for i in shown:
        cell = executed.cells[i]
        if cell.cell_type != "code" or i in probe_cells:
            continue
        text = _text(cell)
        for name, value in solutions.items():
            for rendering in renderings(value):
                if _found(rendering, text):
                    problems.append(f"cell {number(i)} shows {name} ({rendering}) before the learner's attempt")
        if i < answer and (assigns_solution(cell.source) or "course.exercises" in cell.source):
            problems.append(f"cell {number(i)} computes an answer before the learner's answer cell")
    return problems
