"""Checkpoint folders as users really handle them: copied, hand-edited, damaged, resumed wrongly.

Every run is the `tiny` preset for two steps on the bundled faces (seconds each).
"""

import dataclasses
import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
from keras import ops
import pytest

from swapface import checkpoints, cli, train
from swapface import model as sm, saving

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = train.TrainSettings(preset="tiny", batch_size=4, iterations=3, save_every=2, workers=0, preview_faces=2,
                               precision="float32")
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
TINY = ["--preset", "tiny", "--batch-size", "4", "--iterations", "2", "--save-every", "2", "--workers", "0",
        "--precision", "float32"]


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
    assert saving.load(copy).settings.name == "tiny"


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


def test_training_preview_is_labelled_synthetic_and_the_loss_plot_is_not(trained):
    from swapface import provenance

    preview = trained / "preview.png"
    assert provenance.read_label(preview) == provenance.LABEL
    assert provenance.digital_source_type(preview) == provenance.DIGITAL_SOURCE_TYPE
    assert provenance.read_c2pa(preview) is not None
    assert provenance.digital_source_type(trained / "loss.png") is None


def test_failed_checkpoint_keeps_the_previous_one(aligned, tmp_path, monkeypatch):
    train.train(*aligned, tmp_path / "m", dataclasses.replace(SETTINGS, iterations=2), progress=False)

    def die(*args, **kwargs):
        raise OSError("disk died half-way through a checkpoint")
    monkeypatch.setattr(checkpoints, "save_optimizer", die)
    with pytest.raises(OSError, match="half-way"):
        train.train(*aligned, tmp_path / "m", dataclasses.replace(SETTINGS, iterations=4), progress=False)
    assert checkpoints.load_state(tmp_path / "m")["iteration"] == 2
    assert saving.load(tmp_path / "m").settings.name == "tiny"
    monkeypatch.undo()
    history = train.train(*aligned, tmp_path / "m", dataclasses.replace(SETTINGS, iterations=4), progress=False)
    assert len(history["a"]) == 4
    assert [p.name for p in (tmp_path / "m" / checkpoints.CHECKPOINTS).iterdir()] == ["00000004"]


def test_saving_the_same_iteration_twice_never_touches_the_live_snapshot(tmp_path):
    tiny = sm.build("tiny")
    state = {"iteration": 1, "seed": 0, "losses": {"a": [0.5], "b": [0.5]}}
    first = checkpoints.save_checkpoint(tiny, tmp_path / "m", state)
    second = checkpoints.save_checkpoint(tiny, tmp_path / "m", state)
    assert first.name == "00000001" and second.name == "00000001-1"
    assert checkpoints.latest_checkpoint(tmp_path / "m") == second.resolve() and not first.exists()
    assert saving.load(tmp_path / "m").settings.name == "tiny"


def test_a_second_trainer_on_the_same_folder_is_refused(aligned, tmp_path):
    with checkpoints.exclusive(tmp_path / "m"):
        with pytest.raises(ValueError, match="another `swapface train`"):
            train.train(*aligned, tmp_path / "m", SETTINGS, progress=False)


# Runs `swapface train` and SIGKILLs it at a chosen point: in the second save, after the first
# Adam state of the snapshot is written and before the second one and state.json. No timing:
# the kill lands there on any machine, however loaded. Before dying it lists its augmentation
# workers, which must not outlive it.
KILLED_IN_A_SAVE = """
import json, os, signal, sys
import psutil
from swapface import checkpoints, cli

real, calls = checkpoints.save_optimizer, []

def save_then_die(optimizer, path):
    real(optimizer, path)
    calls.append(path)
    if len(calls) == 3:  # the first snapshot wrote two Adam states; this is the second snapshot's first
        workers = [child.pid for child in psutil.Process().children(recursive=True)]
        open(sys.argv[1], "w").write(json.dumps(workers))
        os.kill(os.getpid(), signal.SIGKILL)

checkpoints.save_optimizer = save_then_die
cli.main(sys.argv[2:])
"""


@pytest.mark.slow
def test_sigkilled_training_resumes_where_its_checkpoint_was(aligned, tmp_path):
    psutil = pytest.importorskip("psutil")  # comes with ipykernel, in the dev extras
    model_dir = tmp_path / "m"
    command = ["train", *map(str, aligned), "-m", str(model_dir), "--preset", "tiny", "--batch-size", "4",
               "--save-every", "2", "--workers", "1"]
    with open(tmp_path / "log.txt", "wb") as log_file:  # a file, not a pipe: tqdm must never block
        killed = subprocess.run([sys.executable, "-c", KILLED_IN_A_SAVE, str(tmp_path / "workers.json"), *command,
                                 "--iterations", "100000"], cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT,
                                timeout=300)
    assert killed.returncode == -signal.SIGKILL, (tmp_path / "log.txt").read_text()
    workers = [psutil.Process(pid) for pid in json.loads((tmp_path / "workers.json").read_text())
               if psutil.pid_exists(pid)]
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive, "augmentation workers outlived the killed trainer"

    half = [p for p in (model_dir / checkpoints.CHECKPOINTS).iterdir() if p.name.endswith(".tmp")]
    assert half, "the kill was meant to land during a save"
    assert not (half[0] / checkpoints.STATE_FILE).exists()  # the snapshot is half written
    saved = checkpoints.load_state(model_dir)
    done = saved["iteration"]
    assert done >= 2 and len(saved["losses"]["a"]) == done  # a save before, complete
    assert f"{done:08d}" in str((model_dir / "latest").resolve())  # the last complete snapshot
    assert saving.load(model_dir).settings.name == "tiny"  # whatever the kill interrupted
    rerun = subprocess.run([sys.executable, "-m", "swapface.cli", *command, "--iterations", str(done + 2)], cwd=ROOT,
                           capture_output=True, text=True, timeout=180)
    assert rerun.returncode == 0, rerun.stderr
    assert f"from iteration {done}" in rerun.stdout
    final = checkpoints.load_state(model_dir)
    assert final["iteration"] == done + 2
    assert final["losses"]["a"][:done] == saved["losses"]["a"]
    assert final["losses"]["b"][:done] == saved["losses"]["b"]


def test_optimizer_state_round_trip(tmp_path):
    faces = np.random.default_rng(0).random((4, 64, 64, 3), dtype=np.float32)
    net = sm.build("tiny")
    net.autoencoder_a.train_on_batch(faces, faces)
    path = checkpoints.save_optimizer(net.autoencoder_a.optimizer, tmp_path / "adam_a.npz")
    fresh = sm.build("tiny")
    optimizer = fresh.autoencoder_a.optimizer
    checkpoints.load_optimizer(optimizer, fresh.autoencoder_a.trainable_variables, path)
    for old, new in zip(net.autoencoder_a.optimizer.variables, optimizer.variables):
        np.testing.assert_array_equal(ops.convert_to_numpy(old), ops.convert_to_numpy(new))
    with pytest.raises(ValueError, match="does not fit"):
        lite = sm.build("lite")
        checkpoints.load_optimizer(lite.autoencoder_a.optimizer, lite.autoencoder_a.trainable_variables, path)


def test_damaged_optimiser_files_are_clear_errors(tmp_path):
    autoencoder = sm.build("tiny").autoencoder_a
    autoencoder.optimizer.build(autoencoder.trainable_variables)
    path = checkpoints.save_optimizer(autoencoder.optimizer, tmp_path / "adam_a.npz")
    data = path.read_bytes()
    for damaged in (b"", data[: len(data) // 2], b"PK\x03\x04 not really a zip"):
        path.write_bytes(damaged)
        with pytest.raises(ValueError, match=f"{path}: corrupt or truncated optimiser state"):
            checkpoints.load_optimizer(autoencoder.optimizer, autoencoder.trainable_variables, path)
