"""pytest at the project root: the docstring examples in swapface/ run as doctests.

Each example runs in a fresh temporary folder holding links to the project's data/ and
weights/, so an example reads the bundled frames by their documented paths and anything
it writes is thrown away.
"""

import numpy as np
import pytest
from _pytest.doctest import DoctestItem

ROOT = __import__("pathlib").Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def _doctest_folder(request, doctest_namespace, tmp_path, monkeypatch):
    if not isinstance(request.node, DoctestItem):
        yield
        return
    for name in ("data", "weights"):
        (tmp_path / name).symlink_to(ROOT / name)
    monkeypatch.chdir(tmp_path)
    doctest_namespace["np"] = np
    yield
