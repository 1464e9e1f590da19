"""Run the course headless: every notebook in order, in the active profile.

``python -m segutils.course.runner`` (what ``make run`` calls) first makes sure the profile's
dataset is cached (downloading it if a source answers; offline it stops at once, before the
first notebook, naming the three ways on), then executes the notebooks with one progress line
each, writes the executed copies, each kernel's stderr (``NN_name.kernel.log``) and
``summary.md`` / ``summary.json`` into ``runs/<timestamp>/``, and on a failing cell stops with
a non-zero exit code naming the notebook and the cell. Notebooks 06 and 08 write their comparison reports
(``report.md``, its table and figures) into a folder of their own there, ``06_comparison/`` and
``08_street_scenes/`` (one folder would hold the last one only), and the runner prints their tables at the end.
``--param NAME=VALUE`` injects parameters after each notebook's ``parameters`` cell, the
papermill way. ``--compare DATA`` (what ``make compare DATA=...`` calls) runs the comparison for DATA: notebooks 05
and 06 with ``DATASET=DATA`` (a folder becomes its absolute path), or, for CamVid, notebook 08, which trains at the
images' own 4:3 aspect where 05 and 06 would squash them square.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from segutils import course
from segutils.checks import writable
from segutils.course.parameters import (
    dataset_param,
    datasets_read,
    inject_parameters,
    notebook_parameters,
    parse_param,
    resolve_data,
    whole,
)

ROOT = Path(__file__).resolve().parents[2]

#: The notebooks ``--compare`` runs: 05 and 06, or notebook 08 for CamVid (trained at its 4:3 aspect, never square).
COMPARE_NOTEBOOKS = {"camvid": ("08_street_scenes.ipynb",)}
COMPARE_DEFAULT = ("05_training.ipynb", "06_comparison.ipynb")


def _notebooks(n: int) -> str:
    return f"{n} notebook" + ("s" if n != 1 else "")


def compare_notebooks(dataset: str) -> list[Path]:
    """The notebooks that compare the two models on ``dataset`` (as :func:`.parameters.resolve_data` returns it)."""
    return [ROOT / "notebooks" / name for name in COMPARE_NOTEBOOKS.get(dataset, COMPARE_DEFAULT)]


@dataclass
class Result:
    """How one notebook went."""

    notebook: str
    ok: bool
    seconds: float
    cells: int
    failed_cell: int | None = None  # 1-based position among all cells, as JupyterLab shows it
    error: str = ""


def _failure(nb) -> tuple[int | None, str]:
    for index, cell in enumerate(nb.cells, start=1):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return index, f"{output.get('ename')}: {output.get('evalue')}"
    return None, ""


def run_notebook(
    path: Path, out_dir: Path, timeout: int = 1800, show_progress: bool = True, params: dict | None = None
) -> Result:
    """Execute one notebook in a fresh kernel and write the executed copy into ``out_dir``."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    from tqdm.auto import tqdm

    nb = nbformat.read(path, as_version=4)
    inject_parameters(nb, params or {})
    code_cells = sum(c.cell_type == "code" for c in nb.cells)
    bar = tqdm(total=code_cells, desc=f"{path.name:<22}", unit="cell", disable=not show_progress, leave=True)
    current = {"cell": None}  # 1-based index of the cell running now

    def _started(cell_index, **_):
        current["cell"] = cell_index + 1

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        on_cell_start=_started,
        on_cell_executed=lambda **_: bar.update(1),
    )
    start = time.perf_counter()
    failed_cell, error = None, ""
    out_dir.mkdir(parents=True, exist_ok=True)
    # The kernel's own stderr (TensorFlow's C++ start-up lines) goes to a log, not the console.
    with open(out_dir / f"{path.stem}.kernel.log", "w") as kernel_log:
        try:
            try:
                client.execute(stderr=kernel_log)
            except BaseException as err:
                # On Ctrl-C nbclient's own SIGINT handler shuts the kernel down (it keeps the future of that), then
                # reports a dead kernel and fails its clean-up (AssertionError): all of it is the interruption.
                if isinstance(err, KeyboardInterrupt) or getattr(client, "_async_cleanup_kernel_future", None):
                    raise KeyboardInterrupt from None
                raise
        except CellTimeoutError:
            failed_cell, error = current["cell"], f"the cell ran longer than {timeout} s (raise --timeout)"
        except DeadKernelError:
            failed_cell = current["cell"]
            error = f"the kernel died (out of memory?); its stderr is in {kernel_log.name}"
        except CellExecutionError as err:
            failed_cell, error = _failure(nb)
            error = error or str(err).strip().splitlines()[-1]
        finally:
            bar.close()
            nbformat.write(nb, out_dir / path.name)
    ok = not error
    return Result(path.name, ok, round(time.perf_counter() - start, 1), len(nb.cells), failed_cell, error)


def write_summary(results: list[Result], out_dir: Path, profile: str) -> None:
    """Write ``summary.json`` and a readable ``summary.md`` into ``out_dir``."""
    data = {"profile": profile, "results": [asdict(r) for r in results]}
    (out_dir / "summary.json").write_text(json.dumps(data, indent=2) + "\n")
    lines = [f"# Course run ({profile} profile)", "", "| notebook | result | seconds |", "|---|---|---|"]
    for r in results:
        status = "ok" if r.ok else f"FAILED at cell {r.failed_cell}: {r.error}"
        lines.append(f"| {r.notebook} | {status} | {r.seconds} |")
    (out_dir / "summary.md").write_text("\n".join(lines) + "\n")


def report_dir(out_dir: Path, notebook) -> Path:
    """Where ``notebook`` writes its comparison report in a course run: a folder of its own, named after it."""
    return out_dir / Path(notebook).stem


def print_report_table(report: Path) -> bool:
    """Print the comparison table of ``report`` (the first Markdown table in it); False when there is none."""
    if not report.exists():
        return False
    lines = report.read_text().splitlines()
    table = [
        line
        for line in lines[next((i for i, x in enumerate(lines) if x.startswith("|")), len(lines)) :]
        if line.startswith("|") or not line.strip()
    ]
    table = table[: next((i for i, x in enumerate(table) if not x.strip()), len(table))]
    print(f"Comparison report: {report}")
    print("\n".join(table))
    return bool(table)


def main(argv: list[str] | None = None) -> int:
    """Run the notebooks; return 0 when all pass, 1 naming the first failing notebook and cell."""
    parser = argparse.ArgumentParser(prog="python -m segutils.course.runner", description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to run (default: all, in order)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs", help="parent folder of the run (default: runs/)")
    parser.add_argument("--timeout", type=whole(what="whole seconds"), default=1800,
                        help="seconds a single cell may take (>= 1; nbclient reads 0 and -1 as no limit)")
    parser.add_argument(
        "--param",
        "-p",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="inject a parameter after each notebook's parameters cell (repeatable)",
    )
    parser.add_argument(
        "--data",
        metavar="NAME_OR_FOLDER",
        help="DATASET for every notebook: a registered name, or a folder (~ and relative paths work)",
    )
    parser.add_argument(
        "--compare",
        metavar="NAME_OR_FOLDER",
        help="compare the two models on this data: notebooks 05 and 06, or 08 for camvid (make compare DATA=...)",
    )
    args = parser.parse_args(argv)

    from segutils import config

    try:
        profile = config.active().name
    except config.UnknownProfileError as err:
        print(err, file=sys.stderr)
        return 2
    os.environ[config.ENV_VAR] = profile  # the kernels inherit it, so every notebook agrees
    try:
        compared = None if args.compare is None else resolve_data(args.compare)
    except ValueError as err:
        print(err, file=sys.stderr)
        return 2
    if compared is not None and (args.notebooks or args.data is not None):
        print("--compare picks the notebooks and DATASET: give it alone (or with --param, --out)", file=sys.stderr)
        return 2
    paths = compare_notebooks(compared) if compared is not None else args.notebooks or course.notebooks()
    if not paths:
        print("No notebooks found in notebooks/.", file=sys.stderr)
        return 2
    try:
        params = dict(parse_param(p) for p in args.param)
        if args.data is not None or compared is not None:
            params["DATASET"] = compared if compared is not None else resolve_data(args.data)
        for path in paths:
            if not Path(path).is_file() or Path(path).suffix != ".ipynb":
                what = "no notebook" if not Path(path).is_file() else "not a notebook (.ipynb):"
                raise ValueError(f"{what} {path}: give the path of an .ipynb file (default: all of notebooks/)")
        shares = notebook_parameters(paths, params)
    except ValueError as err:
        print(err, file=sys.stderr)
        return 2
    from segutils.course.readiness import dataset_for_run
    from segutils.course.session import FETCH_ENV_VAR

    if "DATASET" in params:
        params["DATASET"] = dataset_param(params["DATASET"])
    for name in datasets_read(paths, params, config.active()):
        missing = dataset_for_run(name, profile)
        if missing:  # offline without the dataset: stop now, not in the first notebook that loads it
            print(missing, file=sys.stderr)
            return 2
    try:  # a second run started in the same second gets its own folder (mkdir claims it)
        root, stamp = writable(args.out, "the course run"), datetime.now().strftime("%Y%m%d-%H%M%S")
        for n in itertools.count(1):
            out_dir = root / (stamp if n == 1 else f"{stamp}-{n}")
            with contextlib.suppress(FileExistsError):
                out_dir.mkdir()
                break
    except OSError as err:
        print(err, file=sys.stderr)
        return 2
    os.environ[FETCH_ENV_VAR] = "0"  # fetched above: what the notebooks read, and only that (DATA=folder: no membrane)
    print(f"Running {_notebooks(len(paths))} in the {profile} profile; output in {out_dir}")
    results = []
    for path, share in zip(paths, shares, strict=True):
        os.environ["SEGUTILS_REPORT_DIR"] = str(report_dir(out_dir, path))  # where 06 and 08 write report.md
        try:
            result = run_notebook(Path(path), out_dir, args.timeout, params=share)
        except KeyboardInterrupt:
            print(
                f"\nInterrupted during {Path(path).name}. Kept: the notebooks run so far and this one up to the "
                f"interrupted cell in {out_dir}; finished training runs in their run folders (an unfinished one "
                "resumes from its last backup when you start the same command again).",
                file=sys.stderr,
            )
            return 130
        results.append(result)
        write_summary(results, out_dir, profile)
        if not result.ok:
            print(
                f"FAILED: {path} at cell {result.failed_cell} (as numbered in JupyterLab): {result.error}\n"
                f"The executed notebook with the traceback is {out_dir / Path(path).name}",
                file=sys.stderr,
            )
            return 1
    total = sum(r.seconds for r in results)
    print(f"{'All ' if len(results) > 1 else ''}{_notebooks(len(results))} passed in {total:.0f} s. "
          f"Summary: {out_dir / 'summary.md'}")
    printed = [print_report_table(report_dir(out_dir, path) / "report.md") for path in paths]
    if not any(printed):
        print("No comparison report was written (notebook 06 or 08 did not run).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
