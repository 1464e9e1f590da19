"""report() goes on with the solution when an answer is empty, and checks a given one."""

import pytest

from segutils.course.exercises import ExerciseError, report


def check_half(answer):
    """Right answer: 0.5."""
    if answer == 0.5:
        return None
    return "Count the pixels that are set and divide by all pixels."


def test_empty_answer_goes_on_with_the_solution_and_says_so(capsys):
    assert report("1", None, 0.5, check_half) == 0.5
    assert capsys.readouterr().out == "Exercise 1: not answered, so the solution was used to go on.\n"


def test_empty_answer_is_not_checked(capsys):
    def never(answer):
        raise RuntimeError("the check must not run on an empty answer")

    assert report(2, None, [1, 2], never) == [1, 2]
    assert "checks out" not in capsys.readouterr().out


def test_right_answer_checks_out_and_is_returned(capsys):
    answer = 0.5
    assert report("2", answer, 99.0, check_half) is answer
    assert capsys.readouterr().out == "Exercise 2: your answer checks out.\n"


def test_wrong_answer_raises_the_hint(capsys):
    with pytest.raises(ExerciseError) as caught:
        report("3", 0.25, 0.5, check_half)
    assert str(caught.value) == "Count the pixels that are set and divide by all pixels."
    assert caught.value.number == "3"
    assert isinstance(caught.value, AssertionError)
    assert capsys.readouterr().out == ""


def test_a_check_returning_neither_none_nor_a_hint_is_a_type_error():
    with pytest.raises(
        TypeError, match=r"check of exercise 4 must return None or a hint \(a non-empty str\), got False"
    ):
        report("4", 1, 1, lambda answer: False)


def _setup_notebook():
    import nbformat

    from segutils.course import catalog as course

    return nbformat.read(course.NOTEBOOK_DIR / "00_setup.ipynb", as_version=4)


def test_the_conventions_require_report_in_the_exercises():
    from segutils.course import conventions

    nb = _setup_notebook()
    assert conventions.convention_problems(nb, "00_setup.ipynb") == []
    check = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith("# Check"))
    check.source = 'if GPU_SIZE is None:\n    GPU_SIZE = 512\nprint("Both answers check out.")'
    assert conventions.convention_problems(nb, "00_setup.ipynb") == [
        "the Exercises have no check cell calling segutils.course.exercises.report(...)",
        "an exercise cell prints 'check out' itself: let report() say it, only for answers it checked",
    ]


def test_report_before_the_exercises_does_not_count():
    import nbformat

    from segutils.course import conventions

    nb = _setup_notebook()
    check = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith("# Check"))
    check.source = check.source.replace("report(", "reported(")
    check_cell = "from segutils.course.exercises import report\nreport(1, 1, 1, print)"
    nb.cells.insert(3, nbformat.v4.new_code_cell(check_cell))
    assert conventions.convention_problems(nb, "00_setup.ipynb") == [
        "the Exercises have no check cell calling segutils.course.exercises.report(...)"
    ]
