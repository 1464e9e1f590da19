"""The runner's parameters: ``--param NAME=VALUE`` parsed, checked against the ``parameters`` cells that declare
them, and injected after them (the papermill way); ``--data``/``DATA=`` resolved to a dataset name or a folder.
Also the argument checks the course's commands share (:func:`whole`, :func:`models_error`)."""

from __future__ import annotations

import argparse
import ast
import difflib
from pathlib import Path


def whole(minimum: int = 1, what: str = "a whole number"):
    """An argparse ``type``: a whole number >= ``minimum`` (``--size 0``, ``--steps -1``, ``--timeout abc`` are usage
    errors saying "takes ``what`` >= ``minimum``")."""

    def parse(text: str) -> int:
        if not text.strip().isdecimal() or int(text) < minimum:
            raise argparse.ArgumentTypeError(f"takes {what} >= {minimum}, got {text!r}")
        return int(text)

    return parse


def models_error(parser: argparse.ArgumentParser, models: str, flag: str = "--models") -> None:
    """A usage error (exit 2) unless ``models`` is comma-separated names ``build_model`` knows."""
    from segutils.models import MODEL_NAMES

    unknown = [m for m in models.split(",") if m not in MODEL_NAMES]
    if unknown:
        parser.error(f"{flag} {models!r}: {', '.join(map(repr, unknown))} unknown; give comma-separated names "
                     f"from {', '.join(MODEL_NAMES)}")


def parse_param(text: str) -> tuple[str, object]:
    """``"NAME=VALUE"`` -> ``(NAME, value)``: a Python literal when it parses as one, else the string."""
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier() or not name.isupper():
        raise ValueError(f"--param takes NAME=VALUE with an UPPER_CASE name, got {text!r}")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return name, value


def declared_parameters(nb) -> dict[str, tuple[object, bool]]:
    """``{NAME: (default, None allowed)}`` of the notebook's ``parameters`` cell ({} without one).

    The defaults are the cell's values in the active profile (the cell is run with ``config`` imported; when
    it cannot run, the names alone are known, with ``...`` as default). ``None`` is allowed where the default is
    ``None`` or the line's comment mentions it (``SUBSET = PROFILE.subset  # ... (None: all)``).
    """
    cell = next((c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if cell is None:
        return {}
    source = cell.source
    names = {}
    for node in ast.parse(source).body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        line = source.splitlines()[node.lineno - 1] if targets else ""
        for target in targets:
            if isinstance(target, ast.Name) and target.id.isupper() and target.id != "PROFILE":
                names[target.id] = "None" in line.partition("#")[2]
    from segutils import config

    space: dict = {"config": config}
    try:
        exec(compile(source, "<parameters>", "exec"), space)  # noqa: S102 - the course's own notebook cell
    except Exception:  # noqa: BLE001 - then only the names are checked
        space = {}
    return {name: (space.get(name, ...), none_ok or space.get(name, ...) is None) for name, none_ok in names.items()}


_EXAMPLES = {
    bool: "True or False",
    int: "a whole number",
    float: "a number",
    str: "a quoted string",
    list: "a list",
    tuple: "a tuple",
    dict: "a dict",
}


def check_parameter(name: str, value, default, none_ok: bool) -> None:
    """ValueError when ``value`` does not fit the type of the notebook's ``default`` (what the notebook reads)."""
    from segutils.checks import whole

    kind = type(default)
    if default is ... or default is None or (value is None and none_ok) or kind not in _EXAMPLES:
        return
    if kind is int and not isinstance(value, bool) and isinstance(value, int):
        whole(value, f"--param {name}", minimum=min(default, 1))
        return
    fits = {float: (int, float), list: (list, tuple), tuple: (list, tuple)}.get(kind, (kind,))
    if isinstance(value, fits) and (kind is bool or not isinstance(value, bool)):
        if kind is float and not value > 0 and default > 0:
            raise ValueError(f"--param {name} must be > 0, got {value!r}")
        return
    hint = ""
    if kind in (list, tuple) and isinstance(value, str):
        hint = f': write --param "{name}=[{value!r}]" for a list of one'
    elif kind is str:
        hint = f": quote it to pass it as text, --param \"{name}='{value}'\""
    raise ValueError(
        f"--param {name} takes {_EXAMPLES[kind]} like its default {default!r}; got {value!r} "
        f"({type(value).__name__}){hint}"
    )


def notebook_parameters(paths, params: dict) -> list[dict]:
    """Each notebook's share of ``params`` (the names its ``parameters`` cell declares), checked for type.

    ValueError naming a parameter that no notebook declares, with the names they do, or one of the wrong type.
    """
    import nbformat

    declared = []
    for path in paths:
        try:
            declared.append(declared_parameters(nbformat.read(path, as_version=4)))
        except (ValueError, SyntaxError, nbformat.ValidationError) as err:  # a half-written or hand-edited file
            raise ValueError(
                f"cannot read the notebook {path}: {str(err).splitlines()[0]} (half written? restore it "
                f"with `git checkout -- {path}`)"
            ) from None
    known = sorted({name for d in declared for name in d})
    for name, value in params.items():
        if not any(name in d for d in declared):
            close = difflib.get_close_matches(name, known, n=1)
            raise ValueError(
                f"--param {name}: no notebook run here has that parameter"
                + (f" (did you mean {close[0]}?)" if close else "")
                + f". Their parameters cells set: {', '.join(known) or 'nothing'}."
            )
        default, none_ok = next(d[name] for d in declared if name in d)
        check_parameter(name, value, default, none_ok)
    return [{k: v for k, v in params.items() if k in d} for d in declared]


def resolve_data(text: str) -> str:
    """``make compare DATA=...``: a registered dataset name stays a name; a path (``~``, relative, spaces, any
    letters) becomes the absolute path of an existing folder; ValueError otherwise."""
    from segutils.data.registry import DATASETS, registered

    if not text.strip():
        raise ValueError(
            "DATA is empty: give a folder holding images/ and masks/ (make compare DATA=~/my_data) or a "
            f"dataset's name ({', '.join(n for n in DATASETS if n != 'folder')})"
        )
    folder, key = Path(text).expanduser(), registered(text)
    if key is not None and not folder.is_dir():
        return key
    if not folder.is_dir():
        raise ValueError(
            f"DATA={text!r}: there is no folder {folder.absolute()} (and it is not one of the "
            f"datasets {', '.join(n for n in DATASETS if n != 'folder')}): give a folder holding "
            "images/ and masks/, e.g. make compare DATA=~/my_data"
        )
    return str(folder.resolve())


def dataset_param(value) -> str:
    """``DATASET`` as the kernels need it: a registered name unchanged (``camvid``), else the folder's absolute path.

    The kernels run in ``notebooks/``, so a folder given relative to where the command ran is resolved here.
    """
    from segutils.data.registry import registered

    text = str(value)
    return text if registered(text) is not None else str(Path(text).expanduser().resolve())


def datasets_read(paths, params: dict, profile) -> list[str]:
    """The datasets the notebooks at ``paths`` read: ``DATASET`` when injected, else what each one's setup cell
    asks ``course.setup`` for (:data:`.catalog.SETUP_DATA`)."""
    from .catalog import SETUP_DATA, profile_dataset

    if "DATASET" in params:
        return [str(params["DATASET"])]
    return sorted({profile_dataset(profile, SETUP_DATA.get(Path(p).name, "dataset")) for p in paths})


def inject_parameters(nb, params: dict) -> None:
    """Insert a cell tagged ``injected-parameters`` assigning ``params`` right after the ``parameters`` cell."""
    import nbformat

    if not params:
        return
    index = next((i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if index is None:
        raise ValueError("the notebook has no cell tagged 'parameters' to inject after")
    source = "# Parameters injected by segutils.course.runner\n" + "".join(f"{k} = {v!r}\n" for k, v in params.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(index + 1, cell)
