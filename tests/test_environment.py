"""environment.yml, pyproject.toml and constraints.txt agree."""

import re
import tomllib

from .conftest import ROOT


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    return {_name(r): r.replace(" ", "") for r in requirements}


def _environment_yml() -> dict[str, str]:
    found = {}
    for line in (ROOT / "environment.yml").read_text().splitlines():
        match = re.match(r"^\s*-\s+([A-Za-z0-9_.\-]+\S*)\s*$", line)
        if match and not match.group(1).startswith(("--", "conda-forge")):
            found[_name(match.group(1))] = match.group(1)
    return {k: v for k, v in found.items() if k not in {"python", "pip", "pip:"}}


def test_environment_yml_names_the_same_packages_as_pyproject():
    assert _environment_yml() == _pyproject()


def test_environment_yml_installs_segutils_itself():
    assert "- --editable ." in (ROOT / "environment.yml").read_text()


def test_constraints_pin_every_dependency_and_the_tested_stack():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line:
            name, version = line.split("==")
            pins[_name(name)] = version.strip()
    assert set(_pyproject()) <= set(pins), set(_pyproject()) - set(pins)
    assert pins["tensorflow"].startswith("2.21.")
    assert pins["keras"].startswith("3.")
    assert pins["segmentation-models"] == "1.0.1"


def test_ci_runs_exactly_the_readme_test_command():
    ci = [line for line in (ROOT / ".ci/run").read_text().splitlines() if line and not line.startswith("#")]
    assert ci[-1] == "make test"
    assert "make test" in (ROOT / "README.md").read_text()
