"""Training (swapface.train): batches, checkpoints that survive kills, resume, transfer, tf.distribute.

Everything runs the `tiny` preset on the faces `swapface extract` finds in data/obama and
data/trump (8 each), with batches of 4, so each training run takes seconds.
"""

import dataclasses
import logging
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from swapface import batches, checkpoints, cli, devices, media, train
from swapface import model as sm

ROOT = Path(__file__).resolve().parents[1]
# Keras' save_weights trips NumPy 2's __array__(copy=) deprecation once per weight: noise here.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
TINY = train.TrainSettings(preset="tiny", batch_size=4, iterations=3, save_every=2, workers=0, preview_faces=2,
                           precision="float32")


@pytest.fixture(scope="module")
def aligned(tmp_path_factory, data_dir):
    """Folders of real aligned faces of Obama and Trump, as `swapface extract` writes them."""
    from swapface.extract import extract

    root = tmp_path_factory.mktemp("aligned")
    for name in ("obama", "trump"):
        assert extract([data_dir / name], root / name, progress=False).faces_kept >= 4
    return root / "obama", root / "trump"


@pytest.fixture(scope="module")
def faces(aligned):
    return tuple(batches.load_faces(folder) for folder in aligned)


def _weights(part: keras.Model) -> list[np.ndarray]:
    return [np.array(w) for w in part.get_weights()]


def _same(first: list[np.ndarray], second: list[np.ndarray]) -> bool:
    return all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


# --- Faces and batches ------------------------------------------------------------------------------

def test_load_faces_decodes_each_face_once(faces, aligned):
    count = len(batches.face_files(aligned[0]))
    assert faces[0].shape == (count, 256, 256, 3) and faces[0].dtype == np.uint8


def test_corrupt_face_is_skipped_and_named(aligned, tmp_path, caplog):
    folder = tmp_path / "faces"
    folder.mkdir()
    good = batches.face_files(aligned[0])[:3]
    for path in good:
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / "broken.jpg").write_bytes(b"not a jpeg at all")
    (folder / "cut.jpg").write_bytes(good[0].read_bytes()[:3000])
    with caplog.at_level(logging.WARNING, logger="swapface.train"):
        loaded = batches.load_faces(folder)
    assert len(loaded) == 3
    assert "broken.jpg" in caplog.text and "cut.jpg" in caplog.text


def test_folder_without_faces_is_a_clear_error(tmp_path):
    (tmp_path / "none").mkdir()
    with pytest.raises(media.MediaError, match="none: no usable face"):
        batches.load_faces(tmp_path / "none")
    with pytest.raises(media.MediaError, match="no such folder"):
        batches.load_faces(tmp_path / "missing")


def test_worker_batches_are_right_and_reproducible(faces):
    settings = train.batch_settings(dataclasses.replace(TINY, workers=2, seed=3))
    with batches.BatchStream(*faces, settings, start=5) as stream:
        made = [next(stream) for _ in range(3)]
    for batch in made:
        assert len(batch) == 4
        for array in batch:
            assert array.shape == (4, 64, 64, 3) and array.dtype == np.float32
            assert 0 <= array.min() and array.max() <= 1
    # Batch k depends on (seed, k) only: not on the worker count, not on where the stream began.
    with batches.BatchStream(*faces, dataclasses.replace(settings, workers=0), start=6) as inline:
        assert all(np.array_equal(a, b) for a, b in zip(next(inline), made[1]))
    again = batches.make_batch(*faces, 7, seed=3, batch_size=4)
    assert all(np.array_equal(a, b) for a, b in zip(again, made[2]))
    other = batches.make_batch(*faces, 7, seed=4, batch_size=4)
    assert not np.array_equal(other[0], again[0])


def test_colour_trick_shifts_a_towards_b(faces):
    shift = batches.colour_shift(*faces)
    assert shift.shape == (3,) and shift.dtype == np.float32
    plain = batches.make_batch(*faces, 0, seed=0, batch_size=4)
    shifted = batches.make_batch(*faces, 0, seed=0, batch_size=4, shift=shift)
    np.testing.assert_allclose(shifted[1], plain[1] + shift, atol=1e-6)
    np.testing.assert_array_equal(shifted[3], plain[3])


# --- Checkpoints and resume -------------------------------------------------------------------------

def test_checkpoint_round_trip_and_exact_resume(aligned, tmp_path):
    first = train.train(*aligned, tmp_path / "m", TINY, progress=False)
    assert len(first["a"]) == len(first["b"]) == 3
    state = checkpoints.load_state(tmp_path / "m")
    assert state["iteration"] == 3 and state["losses"] == first and state["names"] == ["obama", "trump"]
    assert [p.name for p in (tmp_path / "m" / checkpoints.CHECKPOINTS).iterdir()] == ["00000003"]
    loaded = sm.load(tmp_path / "m")  # MODEL_DIR itself loads: its files link to the latest checkpoint
    assert loaded.names == ("obama", "trump") and loaded.settings.name == "tiny"
    for figure in (train.PREVIEW_FILE, train.LOSS_FILE):
        assert media.read_image(tmp_path / "m" / figure).shape[2] == 3

    resumed = train.train(*aligned, tmp_path / "m", dataclasses.replace(TINY, iterations=5), progress=False)
    assert len(resumed["a"]) == 5 and resumed["a"][:3] == first["a"] and resumed["b"][:3] == first["b"]
    with np.load(tmp_path / "m" / "latest" / "adam_a.npz") as adam:
        assert int(adam["0000"]) == 5  # Adam's step count went on from 3 too

    with pytest.raises(ValueError, match="holds a 'tiny' model"):
        train.train(*aligned, tmp_path / "m", dataclasses.replace(TINY, preset="lite"), progress=False)

    # Same batches, same weights, same Adam state: resuming changes nothing.
    straight = train.train(*aligned, tmp_path / "straight", dataclasses.replace(TINY, iterations=5),
                           progress=False)
    np.testing.assert_allclose(resumed["a"], straight["a"], rtol=1e-4)
    np.testing.assert_allclose(resumed["b"], straight["b"], rtol=1e-4)


def test_failed_checkpoint_keeps_the_previous_one(aligned, tmp_path, monkeypatch):
    train.train(*aligned, tmp_path / "m", dataclasses.replace(TINY, iterations=2), progress=False)

    def die(*args, **kwargs):
        raise OSError("disk died half-way through a checkpoint")
    monkeypatch.setattr(sm, "save_optimizer", die)
    with pytest.raises(OSError, match="half-way"):
        train.train(*aligned, tmp_path / "m", dataclasses.replace(TINY, iterations=4), progress=False)
    assert checkpoints.load_state(tmp_path / "m")["iteration"] == 2
    assert sm.load(tmp_path / "m").settings.name == "tiny"
    monkeypatch.undo()
    history = train.train(*aligned, tmp_path / "m", dataclasses.replace(TINY, iterations=4), progress=False)
    assert len(history["a"]) == 4
    assert [p.name for p in (tmp_path / "m" / checkpoints.CHECKPOINTS).iterdir()] == ["00000004"]


def test_saving_the_same_iteration_twice_never_touches_the_live_snapshot(tmp_path):
    tiny = sm.build("tiny")
    state = {"iteration": 1, "seed": 0, "losses": {"a": [0.5], "b": [0.5]}}
    first = checkpoints.save_checkpoint(tiny, tmp_path / "m", state)
    second = checkpoints.save_checkpoint(tiny, tmp_path / "m", state)
    assert first.name == "00000001" and second.name == "00000001-1"
    assert checkpoints.latest_checkpoint(tmp_path / "m") == second.resolve() and not first.exists()
    assert sm.load(tmp_path / "m").settings.name == "tiny"


def test_a_second_trainer_on_the_same_folder_is_refused(aligned, tmp_path):
    with checkpoints.exclusive(tmp_path / "m"):
        with pytest.raises(ValueError, match="another `swapface train`"):
            train.train(*aligned, tmp_path / "m", TINY, progress=False)


def test_sigkilled_training_resumes_where_its_checkpoint_was(aligned, tmp_path):
    psutil = pytest.importorskip("psutil")  # comes with ipykernel, in the dev extras
    model_dir = tmp_path / "m"
    command = [sys.executable, "-m", "swapface.cli", "train", *map(str, aligned), "-m", str(model_dir),
               "--preset", "tiny", "--batch-size", "4", "--save-every", "2", "--workers", "1"]
    with open(tmp_path / "log.txt", "wb") as log_file:  # a file, not a pipe: tqdm must never block
        process = subprocess.Popen([*command, "--iterations", "100000"], cwd=ROOT, stdout=log_file,
                                   stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while not (model_dir / "latest" / checkpoints.STATE_FILE).is_file():
                assert process.poll() is None, (tmp_path / "log.txt").read_text()
                assert time.monotonic() < deadline, "no checkpoint after 120 s"
                time.sleep(0.05)
            workers = psutil.Process(process.pid).children(recursive=True)
            # Now kill it in the middle of a later save: while a snapshot is half written.
            while not any(p.name.endswith(".tmp") for p in (model_dir / checkpoints.CHECKPOINTS).iterdir()):
                assert process.poll() is None, (tmp_path / "log.txt").read_text()
                assert time.monotonic() < deadline, "never caught a save in progress"
                time.sleep(0.002)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive, "augmentation workers outlived the killed trainer"

    half = [p for p in (model_dir / checkpoints.CHECKPOINTS).iterdir() if p.name.endswith(".tmp")]
    assert half, "the kill was meant to land during a save"
    saved = checkpoints.load_state(model_dir)
    done = saved["iteration"]
    assert done >= 2 and len(saved["losses"]["a"]) == done
    assert f"{done:08d}" in str((model_dir / "latest").resolve())  # the last complete snapshot
    assert sm.load(model_dir).settings.name == "tiny"  # whatever the kill interrupted
    rerun = subprocess.run([*command, "--iterations", str(done + 2)], cwd=ROOT, capture_output=True,
                           text=True, timeout=180)
    assert rerun.returncode == 0, rerun.stderr
    assert f"from iteration {done}" in rerun.stdout
    final = checkpoints.load_state(model_dir)
    assert final["iteration"] == done + 2
    assert final["losses"]["a"][:done] == saved["losses"]["a"]
    assert final["losses"]["b"][:done] == saved["losses"]["b"]


# --- Transfer, distribution, precision -----------------------------------------------------------

def test_pretrained_encoder_stays_frozen_then_learns(aligned, tmp_path):
    pretrained = sm.build("tiny")
    sm.save(pretrained, tmp_path / "pre", names=("x", "y"))
    encoder, decoder = _weights(pretrained.encoder), _weights(pretrained.decoder_a)
    settings = dataclasses.replace(TINY, freeze_encoder_for=3, save_every=3)
    train.train(*aligned, tmp_path / "m", settings, pretrained=tmp_path / "pre", progress=False)
    frozen = sm.load(tmp_path / "m")
    assert frozen.names == ("obama", "trump")
    assert _same(_weights(frozen.encoder), encoder)
    assert not _same(_weights(frozen.decoder_a), decoder)
    assert checkpoints.load_state(tmp_path / "m")["frozen_until"] == 3

    train.train(*aligned, tmp_path / "m", dataclasses.replace(settings, iterations=5), progress=False)
    assert not _same(_weights(sm.load(tmp_path / "m").encoder), encoder)


DISTRIBUTED = """
import sys
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]  # before TF initialises: two logical CPUs
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from swapface import devices, train

print("replicas", devices.distribution_strategy().num_replicas_in_sync)
settings = train.TrainSettings(preset="tiny", batch_size=4, iterations=3, save_every=2, workers=0,
                               distribute=True, preview_faces=2)
history = train.train(sys.argv[1], sys.argv[2], sys.argv[3], settings, progress=False)
print("steps", len(history["a"]), min(history["a"] + history["b"]) > 0)
"""


def test_mirrored_strategy_on_two_logical_cpus(aligned, tmp_path):
    result = subprocess.run([sys.executable, "-c", DISTRIBUTED, *map(str, aligned), str(tmp_path / "m")],
                            cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "replicas 2" in result.stdout and "steps 3 True" in result.stdout
    assert checkpoints.load_state(tmp_path / "m")["iteration"] == 3
    assert sm.load(tmp_path / "m").settings.name == "tiny"


def test_mixed_precision_picks_the_fastest_policy_and_restores_it(aligned, tmp_path, caplog):
    """float16 on a GPU, bfloat16 on a CPU with native bf16, else float32 (with a warning)."""
    assert devices.choose_policy("mixed", gpu=True, bf16=False) == "mixed_float16"
    assert devices.choose_policy("mixed", gpu=False, bf16=True) == "mixed_bfloat16"
    assert devices.choose_policy("float32", gpu=True, bf16=True) == "float32"
    with caplog.at_level(logging.WARNING, logger="swapface.devices"):
        assert devices.choose_policy("mixed", gpu=False, bf16=False) == "float32"
    assert "no GPU" in caplog.text
    with pytest.raises(ValueError, match="unknown precision"):
        devices.choose_policy("half")
    chosen = devices.choose_policy("mixed")
    with caplog.at_level(logging.INFO, logger="swapface.train"):
        history = train.train(*aligned, tmp_path / "m", dataclasses.replace(TINY, iterations=1, precision="mixed"),
                              progress=False)
    assert f"training in {chosen}" in caplog.text
    assert keras.mixed_precision.global_policy().name == "float32"
    assert np.isfinite(history["a"][0])
    assert sm.load(tmp_path / "m").encoder.weights[0].dtype == "float32"  # weights stay float32


def test_cli_train_arguments():
    args = cli.build_parser().parse_args(["train", "a", "b", "-m", "m", "--preset", "tiny", "--names", "x", "y",
                                          "--freeze-encoder", "5", "--pretrained", "p", "--distribute"])
    assert (args.preset, args.names, args.freeze_encoder, args.pretrained, args.distribute) == \
        ("tiny", ["x", "y"], 5, "p", True)
    choices = next(a.choices for a in cli.build_parser()._subparsers._group_actions[0].choices["train"]._actions
                   if a.dest == "preset")
    assert sorted(choices) == sorted(sm.PRESETS)


def test_sigterm_saves_a_checkpoint_before_stopping(aligned, tmp_path):
    """A scheduler's SIGTERM (or `kill`) saves the steps done so far, like Ctrl-C."""
    model_dir = tmp_path / "m"
    command = [sys.executable, "-m", "swapface.cli", "train", *map(str, aligned), "-m", str(model_dir),
               "--preset", "tiny", "--batch-size", "4", "--save-every", "100000", "--iterations", "100000",
               "--workers", "0"]
    log_path = tmp_path / "log.txt"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while "3/100000" not in log_path.read_text(errors="replace"):  # a few steps done, none saved
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "training made no progress in 120 s"
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=120) == 130
    state = checkpoints.load_state(model_dir)
    assert state is not None and state["iteration"] >= 3
    assert len(state["losses"]["a"]) == state["iteration"]


def test_learned_mask_trains_and_blends(aligned, tmp_path, data_dir):
    """--learned-mask: the decoders draw a fourth channel that convert can blend through."""
    from swapface import swap

    settings = dataclasses.replace(TINY, learned_mask=True, iterations=2)
    history = train.train(*aligned, tmp_path / "m", settings, progress=False)
    assert all(np.isfinite(history[side]).all() for side in "ab")
    net = sm.load(tmp_path / "m")
    assert net.settings.learned_mask and net.decoder_a.output_shape == (None, 64, 64, 4)
    frame = media.read_image(data_dir / "trump" / "c006_f00070.jpg")
    out = swap.swap_frames([frame], net, "a", swap.SwapSettings(mask="learned"))[0]
    assert out.shape == frame.shape and not np.array_equal(out, frame)
    plain = sm.build("tiny")
    with pytest.raises(ValueError, match="--learned-mask"):
        swap.swap_frames([frame], plain, "a", swap.SwapSettings(mask="learned"))


def test_a_128_px_preset_trains_at_its_own_size(aligned, tmp_path):
    settings = dataclasses.replace(TINY, preset="lite128", iterations=1, batch_size=2)
    train.train(*aligned, tmp_path / "m", settings, progress=False)
    net = sm.load(tmp_path / "m")
    assert net.settings.image_size == 128 and net.settings.coverage == train.DEFAULT_COVERAGE
    assert media.read_image(tmp_path / "m" / train.PREVIEW_FILE).shape[0] > 100
