"""Training (swapface.train): the loop, resume, transfer, SIGTERM, the recipe's learned mask and 128 px.

Everything runs the `tiny` preset on the faces `swapface extract` finds in data/obama and
data/trump (8 each), with batches of 4, so each training run takes seconds.
"""

import dataclasses
import itertools
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import keras
import numpy as np
import pytest

from swapface import batches, checkpoints, media, train
from swapface import model as sm, saving

ROOT = Path(__file__).resolve().parents[1]
# Keras' save_weights trips NumPy 2's __array__(copy=) deprecation once per weight: noise here.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
TINY = train.TrainSettings(preset="tiny", batch_size=4, iterations=3, save_every=2, workers=0, preview_faces=2,
                           precision="float32")


@pytest.fixture(scope="module")
def faces(aligned):
    return tuple(batches.load_faces(folder) for folder in aligned)


def _weights(part: keras.Model) -> list[np.ndarray]:
    return [np.array(w) for w in part.get_weights()]


def _same(first: list[np.ndarray], second: list[np.ndarray]) -> bool:
    return all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


# --- Checkpoints and resume (the checkpoint files themselves: test_checkpoints.py) -------------------

def test_checkpoint_round_trip_and_exact_resume(aligned, tmp_path):
    first = train.train(*aligned, tmp_path / "m", TINY, progress=False)
    assert len(first["a"]) == len(first["b"]) == 3
    state = checkpoints.load_state(tmp_path / "m")
    assert state["iteration"] == 3 and state["losses"] == first and state["names"] == ["obama", "trump"]
    assert [p.name for p in (tmp_path / "m" / checkpoints.CHECKPOINTS).iterdir()] == ["00000003"]
    loaded = saving.load(tmp_path / "m")  # MODEL_DIR itself loads: its files link to the latest checkpoint
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


# --- Transfer, signals, recipe (devices and precision: test_devices.py) --------------------------

def test_pretrained_encoder_stays_frozen_then_learns(aligned, tmp_path):
    pretrained = sm.build("tiny")
    saving.save(pretrained, tmp_path / "pre", names=("x", "y"))
    encoder, decoder = _weights(pretrained.encoder), _weights(pretrained.decoder_a)
    settings = dataclasses.replace(TINY, freeze_encoder_for=3, save_every=3)
    train.train(*aligned, tmp_path / "m", settings, pretrained=tmp_path / "pre", progress=False)
    frozen = saving.load(tmp_path / "m")
    assert frozen.names == ("obama", "trump")
    assert _same(_weights(frozen.encoder), encoder)
    assert not _same(_weights(frozen.decoder_a), decoder)
    assert checkpoints.load_state(tmp_path / "m")["frozen_until"] == 3

    train.train(*aligned, tmp_path / "m", dataclasses.replace(settings, iterations=5), progress=False)
    assert not _same(_weights(saving.load(tmp_path / "m").encoder), encoder)


@pytest.mark.slow
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
    net = saving.load(tmp_path / "m")
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
    net = saving.load(tmp_path / "m")
    assert net.settings.image_size == 128 and net.settings.coverage == train.MODEL_COVERAGE
    assert media.read_image(tmp_path / "m" / train.PREVIEW_FILE).shape[0] > 100


def test_a_time_budget_stops_the_sitting_saves_and_resumes(aligned, tmp_path, caplog, monkeypatch):
    """--minutes: "train for a few seconds" stops long before the step count, with a checkpoint.

    The budget's clock is a fake one that moves 0.1 s a step, so the test bets on no timing:
    3 seconds buy exactly 30 steps, whatever else the machine is doing."""
    ticks = itertools.count()
    monkeypatch.setattr(train.Budget, "clock", staticmethod(lambda: next(ticks) / 10))
    settings = dataclasses.replace(TINY, iterations=1_000_000, save_every=1_000_000, minutes=0.05)
    with caplog.at_level("INFO", logger="swapface.train"):
        history = train.train(*aligned, tmp_path / "m", settings, progress=False)
    done = len(history["a"])
    assert done == 30  # 0.05 minutes at 0.1 s a step
    assert checkpoints.load_state(tmp_path / "m")["iteration"] == done  # saved where it stopped
    rate = [message for message in caplog.messages if "steps/s" in message and "buy about" in message]
    assert rate == ["measured 10.00 steps/s: 0.05 minutes buy about 30 steps, to iteration 30"]
    again = train.train(*aligned, tmp_path / "m", settings, progress=False)  # the same command goes on
    assert len(again["a"]) > done and again["a"][:done] == history["a"]


def test_a_lite_model_grows_into_lite2x_and_trains(aligned, tmp_path):
    """--pretrained lite weights with --preset lite2x: the 64 px model grown to 128 px faces."""
    small = sm.build("lite")
    saving.save(small, tmp_path / "lite", names=("x", "y"))
    settings = dataclasses.replace(TINY, preset="lite2x", iterations=1, batch_size=2)
    train.train(*aligned, tmp_path / "m", settings, pretrained=tmp_path / "lite", progress=False)
    net = saving.load(tmp_path / "m")
    assert net.settings.name == "lite2x" and net.decoder_a.output_shape == (None, 128, 128, 3)
    with pytest.raises(ValueError, match="'lite' model, but the 'lite128' preset"):
        train.start_from(tmp_path / "lite", "lite128")  # another architecture cannot grow from it


@pytest.fixture
def no_training(monkeypatch):
    """Make reaching the model a test failure: these inputs must be refused before it is built."""
    def refuse(*args, **kwargs):
        raise AssertionError("got as far as building the model")

    monkeypatch.setattr(train, "open_model", refuse)


def test_a_folder_without_faces_is_refused_before_training(aligned, tmp_path, no_training):
    noise = tmp_path / "noise"
    noise.mkdir()
    rng = np.random.default_rng(0)
    for index in range(10):  # what a wrong folder holds: pictures, none of a face
        cv2.imwrite(str(noise / f"{index}.jpg"), rng.integers(0, 256, (256, 256, 3), np.uint8))
    with pytest.raises(ValueError, match=f"{noise}: no face found in any of 8 images checked"):
        train.train(aligned[0], noise, tmp_path / "model", train.TrainSettings(preset="tiny", iterations=1, workers=0),
                    progress=False)


@pytest.mark.parametrize("case, message", [
    ("same folder", "the same folder as person A and person B"),
    ("same names", "both people are named 'sam'"),
    ("model in faces", "is a folder of aligned faces"),
])
def test_nonsense_pairs_are_refused_before_training(aligned, tmp_path, no_training, case, message):
    faces_a, faces_b = aligned
    settings = train.TrainSettings(preset="tiny", iterations=1, workers=0,
                                   names=("sam", "sam") if case == "same names" else None)
    model_dir = {"model in faces": faces_b}.get(case, tmp_path / "model")
    with pytest.raises(ValueError, match=message):
        train.train(faces_a, faces_a if case == "same folder" else faces_b, model_dir, settings, progress=False)
    assert not (faces_b / ".lock").exists() and not (faces_b / "checkpoints").exists()
