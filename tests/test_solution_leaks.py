"""No notebook shows an exercise's answer before the learner tries (issue 22 item 2).

Every notebook runs in the ``ci`` profile with its answers left ``None``, as committed, probed by
``segutils.course.leaks``: the values its solutions hold (each accepted by its exercise's check) must
appear in no output before the answer cell, nor in the solution or check cell; a solution cell prints
nothing and trains nothing; no cell before the answer cell uses the solutions or the checks.
"""

import nbformat
import nbformat.v4 as v4
import pytest

from segutils.course import catalog, conventions, leaks

#: Notebooks other helpers own that still show an answer early; they fail as expected until fixed.
STILL_LEAKING: dict[str, str] = {
}


def _params():
    for path in catalog.notebooks():
        marks = [pytest.mark.xfail(reason=STILL_LEAKING[path.name], strict=False)] if path.name in STILL_LEAKING else []
        yield pytest.param(path, marks=marks, id=path.name)


@pytest.mark.parametrize("path", _params())
def test_no_notebook_shows_an_answer_before_the_learner_tries(path, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("SEGUTILS_PROFILE", "ci")
    probed = leaks.probe(nbformat.read(path, as_version=4))
    NotebookClient(probed, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}},
                   allow_errors=True).execute()
    problems = leaks.leaks(probed)
    assert not problems, "\n".join(problems)


# The analysis itself, on hand-made executed notebooks: each kind of leak is found, and nothing else.


def _out(cell, text):
    cell.outputs = [v4.new_output("stream", name="stdout", text=text)]
    return cell


def _executed(before="", solution_output="", fits=0, check_output="Exercise 1: not answered, ...\n", dump=None):
    nb = v4.new_notebook()
    nb.cells = [
        _out(v4.new_code_cell("x = 1"), before),
        v4.new_markdown_cell("## Exercises\n\n1. Which side does the gpu profile train at?"),
        v4.new_code_cell("# Your answers here\nGPU_SIZE = None"),
    ]
    probed = leaks.probe(_with_solution(nb))
    for cell in probed.cells:
        if "SOLUTION_1 =" in cell.source:
            _out(cell, solution_output)
        elif cell.source.startswith("_leak_keras.Model.fit = _leak_fit"):
            _out(cell, f"LEAK-PROBE fits: {fits}\n")
        elif "report(" in cell.source and "LEAK-PROBE" not in cell.source:
            _out(cell, check_output)
    _out(probed.cells[-1], dump if dump is not None else "LEAK-PROBE solutions: {'SOLUTION_1': 512}\n")
    return probed


def _with_solution(nb):
    nb.cells.append(conventions.solution_cell("SOLUTION_1 = config.get('gpu').img_size"))
    nb.cells.append(v4.new_code_cell("GPU_SIZE = report('1', GPU_SIZE, SOLUTION_1, nb00.check_gpu_size)"))
    return nb


def test_probe_wraps_the_solution_cell_and_checks_every_solution_at_the_end():
    probed = _executed()
    sources = [c.source for c in probed.cells]
    solution = next(i for i, s in enumerate(sources) if "SOLUTION_1 =" in s)
    assert sources[solution - 1].startswith("import keras as _leak_keras")
    assert sources[solution + 1].startswith("_leak_keras.Model.fit = _leak_fit")
    assert ("if SOLUTION_1 is not None:\n    assert (nb00.check_gpu_size)(SOLUTION_1) is None, "
            "'the check rejects SOLUTION_1: its hint is ' + repr((nb00.check_gpu_size)(SOLUTION_1))") in sources[-1]


def test_the_cells_after_the_exercises_are_left_out_of_the_probe():
    nb = v4.new_notebook()
    nb.cells = [v4.new_markdown_cell("## Exercises"), v4.new_code_cell("# Your answers here\nGPU_SIZE = None")]
    nb = _with_solution(nb)
    nb.cells.append(v4.new_code_cell("slow_export()  # after the exercises"))
    sources = [c.source for c in leaks.probe(nb).cells]
    assert not any("slow_export" in s for s in sources)
    assert sources[-2].startswith("GPU_SIZE = report(") and "LEAK-PROBE solutions:" in sources[-1]


def test_a_clean_notebook_has_no_leaks():
    assert leaks.leaks(_executed(before="gpu profiles: 1512 px, 5.12 s, 512.5\n")) == []


def test_an_answer_printed_before_the_attempt_is_found():
    assert leaks.leaks(_executed(before="the gpu profile trains at 512 px\n")) == [
        "cell 1 shows SOLUTION_1 (512) before the learner's attempt"
    ]


def test_a_solution_cell_that_prints_or_trains_is_found():
    assert leaks.leaks(_executed(solution_output="solutions: side 512\n", fits=2)) == [
        "cell 4 (solution) trains a model (2 fit call(s)): an experiment's numbers must come from the learner's run",
        "cell 4 (solution) has output: a solution shows code and prints nothing",
        "cell 4 shows SOLUTION_1 (512) before the learner's attempt",
    ]


def test_a_check_cell_that_prints_the_solution_is_found():
    assert leaks.leaks(_executed(check_output="Exercise 1: not answered; it is 512\n")) == [
        "cell 5 shows SOLUTION_1 (512) before the learner's attempt"
    ]


def test_a_probe_that_did_not_finish_checks_nothing_and_says_so():
    with pytest.raises(ValueError, match="the probe did not run to its end, so nothing was checked"):
        leaks.leaks(_executed(dump="AssertionError: the check rejects SOLUTION_1"))


@pytest.mark.parametrize(("value", "expected"), [
    (512, ["512"]), (31_030_658, ["31,030,658", "31030658"]), (7, []), (True, []), (None, []), (0.0, []), (1.0, []),
    (0.91364, ["0.9136", "0.91364", "0.914", "91.36%", "91.4%"]), ({2}, ["{2}"]),
    ("stage2_unit1_relu1", ["stage2_unit1_relu1"]),
    (("relu0", (32, 32, 64)), ["('relu0', (32, 32, 64))", "['relu0', (32, 32, 64)]"]), ("<_PrefetchDataset>", []),
])
def test_renderings(value, expected):
    assert leaks.renderings(value) == expected
