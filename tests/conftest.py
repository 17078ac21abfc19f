"""Shared fixtures: the bundled public-domain frames and, where present, ../shared/data."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
SHARED = ROOT.parent / "shared" / "data" / "whitehouse"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} not present (the full White House frames live beside the project)")
    return SHARED


@pytest.fixture(scope="session")
def obama_frame() -> Path:
    return DATA / "obama" / "c000_f00000.jpg"


@pytest.fixture(scope="session")
def trump_frame() -> Path:
    return DATA / "trump" / "c006_f00070.jpg"
