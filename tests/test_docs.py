"""Docs that are true: every "Taught in" names a notebook that uses the module, every named file exists."""

import ast
import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TAUGHT = re.compile(r"Taught in ``notebooks/(\w+\.ipynb)``(?: and ``notebooks/(\w+\.ipynb)``)?")
#: Paths inside the repository as the docs name them: a package, notebook or test file, or a top-level Markdown file.
REPO_PATH = re.compile(r"(?<![\w/.-])((?:segutils|notebooks|tests|data)/[\w./-]*\w|[A-Z][A-Z_]+\.md)\b")


def _notebook_code(name: str) -> str:
    cells = json.loads((ROOT / "notebooks" / name).read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def _uses(code: str, module: str, public: set[str]) -> bool:
    """Whether notebook code imports ``module`` (``segutils.x.y`` or ``from segutils.x import y``) or names one of its
    public functions or classes."""
    parent, _, leaf = module.rpartition(".")
    return bool(re.search(rf"\b{re.escape(module)}\b", code)
                or re.search(rf"from {re.escape(parent)} import [^\n]*\b{leaf}\b", code)
                or any(re.search(rf"\b{name}\b", code) for name in public))


def _taught_in():
    for path in sorted((ROOT / "segutils").rglob("*.py")):
        if "course" in path.relative_to(ROOT / "segutils").parts:
            continue
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        defined = (n for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef))
        public = {n.name for n in defined if not n.name.startswith("_")}
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for pair in TAUGHT.findall(re.sub(r"\s+", " ", text)):
            for notebook in filter(None, pair):
                yield module, public, notebook


def test_every_taught_in_names_a_notebook_that_imports_or_calls_the_module():
    pairs = sorted({(module, notebook) for module, _, notebook in _taught_in()})
    assert len(pairs) > 30  # the check reads the docstrings: most learner modules say where they are taught
    public = {module: names for module, names, _ in _taught_in()}
    wrong = [f"{module} -> {notebook}" for module, notebook in pairs if not (ROOT / "notebooks" / notebook).exists()
             or not _uses(_notebook_code(notebook), module, public[module])]
    assert wrong == []


@pytest.mark.parametrize(("code", "used"), [("from segutils.tiling import predict_tiled", True),
                                            ("from segutils import tiling", True),
                                            ("import segutils.tiling as t", True),
                                            ("x = tile_grid(1, 2)", True),
                                            ("from segutils.evaluation import compare", False)])
def test_the_taught_in_check_sees_imports_and_calls(code, used):
    assert _uses(code, "segutils.tiling", {"tile_grid"}) is used


def test_no_doc_names_a_repository_file_that_does_not_exist():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    tracked_dirs = {str(Path(f).parent) for f in tracked} | {str(p) for f in tracked for p in Path(f).parents}
    missing = []
    for name in tracked:
        if not name.endswith((".py", ".md", ".ipynb", ".toml", ".yml")) and name != "Makefile":
            continue
        for number, line in enumerate((ROOT / name).read_text(encoding="utf-8").splitlines(), 1):
            for ref in REPO_PATH.findall(line):
                ref = ref.rstrip("./")
                template = re.escape(ref).replace("NN", r"\d\d").replace("0N", r"0\d").replace("_x", r"_\w+")
                pattern = re.compile(template + "$")
                if ref.startswith("data/") or any(pattern.match(f) for f in tracked) or ref in tracked_dirs:
                    continue
                if not ref.startswith(("segutils", "notebooks", "tests")) and not ref.endswith(".md"):
                    continue
                missing.append(f"{name}:{number}: {ref}")
    assert missing == []
