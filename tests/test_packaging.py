"""The requirement lists agree, and the console script is declared."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _names(lines):
    return {re.split(r"[<>=\[; ]", line.strip(), maxsplit=1)[0].lower() for line in lines
            if line.strip() and not line.startswith("#")}


def _hosted_extras(project) -> list[str]:
    """The lines floyd_requirements.txt adds for a bare GPU image: the `gpu` backend, swapface itself."""
    return [*project["optional-dependencies"]["gpu"], "."]


def test_floyd_requirements_match_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = (ROOT / "floyd_requirements.txt").read_text().splitlines()
    assert [line for line in lines if line in _hosted_extras(project)] == _hosted_extras(project)
    floyd = [line for line in lines if line not in _hosted_extras(project)]
    assert _names(floyd) == _names(project["dependencies"])
    assert sorted(l for l in floyd if l and not l.startswith("#")) == sorted(project["dependencies"])
    assert project["scripts"]["swapface"] == "swapface.cli:main"


def test_floyd_requirements_resolve():
    """Every line of floyd_requirements.txt parses and is satisfied by this project's own install:
    the runtime packages at versions its specifiers allow, the backend's (here TensorFlow's CPU
    build stands in for tensorflow[and-cuda]), and swapface itself at pyproject's version."""
    from importlib import metadata

    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for line in (ROOT / "floyd_requirements.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if line == ".":  # the project itself, from the job's working directory (the project root)
            assert metadata.version(project["name"]) == project["version"]
            continue
        requirement = Requirement(line)
        installed = [name for name in (requirement.name, f"{requirement.name}-cpu") if _installed(name)]
        assert installed, f"{line}: not installed here"
        version = metadata.version(installed[0])
        assert requirement.specifier.contains(version, prereleases=True), f"{line}: {installed[0]} {version} installed"


def _installed(name: str) -> bool:
    from importlib import metadata

    try:
        metadata.version(name)
        return True
    except metadata.PackageNotFoundError:
        return False
