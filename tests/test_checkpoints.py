"""Checkpoint folders as users really handle them: copied, hand-edited, damaged, resumed wrongly.

Every run is the `tiny` preset for two steps on the bundled faces (seconds each).
"""

import json
import shutil
import subprocess

import numpy as np
import pytest

from swapface import checkpoints, cli
from swapface import model as sm

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
TINY = ["--preset", "tiny", "--batch-size", "4", "--iterations", "2", "--save-every", "2", "--workers", "0",
        "--precision", "float32"]


@pytest.fixture(scope="module")
def aligned(tmp_path_factory, data_dir):
    from swapface.extract import extract

    root = tmp_path_factory.mktemp("aligned")
    for name in ("obama", "trump"):
        extract([data_dir / name], root / name, progress=False)
    return root / "obama", root / "trump"


@pytest.fixture(scope="module")
def trained(aligned, tmp_path_factory):
    """A model folder after 2 steps of `swapface train`, as the CLI leaves it."""
    folder = tmp_path_factory.mktemp("trained") / "model"
    assert cli.main(["train", str(aligned[0]), str(aligned[1]), "-m", str(folder), *TINY]) == 0
    return folder


def _copy(trained, tmp_path):
    target = tmp_path / "model"
    shutil.copytree(trained, target, symlinks=True)
    return target


def _train(aligned, folder, *extra, order=(0, 1)):
    return cli.main(["train", str(aligned[order[0]]), str(aligned[order[1]]), "-m", str(folder), *TINY, *extra])


def test_resuming_with_the_face_folders_swapped_is_refused(aligned, trained, tmp_path, capsys):
    folder = _copy(trained, tmp_path)
    before = checkpoints.load_state(folder)
    assert _train(aligned, folder, "--iterations", "4", order=(1, 0)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "face folders are swapped" in err[0] and "'obama'" in err[0]
    assert checkpoints.load_state(folder)["iteration"] == before["iteration"]  # nothing trained
    assert _train(aligned, folder, "--iterations", "4") == 0  # the right order resumes


def test_swapped_folders_with_the_same_name_are_caught_by_the_recorded_sources(aligned, tmp_path, capsys):
    runs = [tmp_path / "one" / "faces", tmp_path / "two" / "faces"]  # both named "faces"
    for source, target in zip(aligned, runs):
        shutil.copytree(source, target)
    folder = tmp_path / "model"
    assert _train(runs, folder, "--names", "obama", "trump") == 0
    assert json.loads((folder / checkpoints.SOURCES_FILE).read_text()) == \
        {"a": str(runs[0].resolve()), "b": str(runs[1].resolve())}
    assert _train(runs, folder, "--iterations", "4", order=(1, 0)) == 2
    assert "face folders are swapped" in capsys.readouterr().err


def test_a_copy_made_with_symlinks_followed_resumes(aligned, trained, tmp_path):
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-rL", str(trained), str(copy)], check=True)
    assert (copy / "latest").is_dir() and not (copy / "latest").is_symlink()
    assert checkpoints.load_state(copy)["iteration"] == 2
    assert _train(aligned, copy, "--iterations", "4") == 0
    assert (copy / "latest").is_symlink() and checkpoints.load_state(copy)["iteration"] == 4
    assert (copy / "config.json").is_symlink()  # the stale copies became links to the new checkpoint
    assert sorted(p.name for p in (copy / "checkpoints").iterdir()) == ["00000004"]
    assert sm.load(copy).settings.name == "tiny"


def test_missing_latest_falls_back_to_the_newest_complete_snapshot(trained, tmp_path):
    folder = _copy(trained, tmp_path)
    (folder / "latest").unlink()  # killed between moving a copied `latest` away and linking the new one
    assert checkpoints.load_state(folder)["iteration"] == 2
    assert checkpoints.latest_checkpoint(folder) == (folder / "checkpoints" / "00000002").resolve()


@pytest.mark.parametrize("edit, problem", [
    (lambda s: {k: v for k, v in s.items() if k != "iteration"}, "missing 'iteration'"),
    (lambda s: {k: v for k, v in s.items() if k != "names"}, "missing 'names'"),
    (lambda s: {**s, "seed": "zero"}, "'seed' is a str, not a int"),
    (lambda s: [s], "not a training state (a JSON list"),
    (lambda s: {**s, "losses": {"a": []}}, "malformed 'losses'"),
])
def test_malformed_state_json_is_one_line_naming_it(aligned, trained, tmp_path, capsys, edit, problem):
    folder = _copy(trained, tmp_path)
    path = folder / "latest" / "state.json"
    state = json.loads(path.read_text())
    path.write_text(json.dumps(edit(state)))
    assert _train(aligned, folder, "--iterations", "4") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path.resolve()) in err[0] and problem in err[0]


@pytest.mark.parametrize("damage", ["empty", "truncated"])
def test_damaged_adam_state_is_one_line_naming_it(aligned, trained, tmp_path, capsys, damage):
    folder = _copy(trained, tmp_path)
    path = (folder / "latest" / "adam_b.npz").resolve()
    data = path.read_bytes()
    path.write_bytes(b"" if damage == "empty" else data[: len(data) // 2])
    assert _train(aligned, folder, "--iterations", "4") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{path}: corrupt or truncated optimiser state" in err[0]


def test_state_as_written_by_training_passes_the_check(trained):
    state = checkpoints.load_state(trained)
    assert state["iteration"] == 2 and state["names"] == ["obama", "trump"] and len(state["losses"]["a"]) == 2
    assert np.isfinite(state["losses"]["b"]).all()
