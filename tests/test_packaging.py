"""The requirement lists agree, and the console script is declared."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _names(lines):
    return {re.split(r"[<>=\[; ]", line.strip(), maxsplit=1)[0].lower() for line in lines
            if line.strip() and not line.startswith("#")}


def test_floyd_requirements_match_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    floyd = (ROOT / "floyd_requirements.txt").read_text().splitlines()
    assert _names(floyd) == _names(project["dependencies"])
    assert sorted(l for l in floyd if l and not l.startswith("#")) == sorted(project["dependencies"])
    assert project["scripts"]["swapface"] == "swapface.cli:main"
