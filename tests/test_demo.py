"""The bundled demo: weights in weights/, `swapface demo`, and the pretrained base for new pairs."""

import json
from pathlib import Path

import numpy as np
import pytest

from swapface import checkpoints, cli, extract, media, model, provenance, saving, train, videoio

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "weights"
BASE = WEIGHTS / "base"  # the start for a new pair (and notebook 2's transfer example): 13 people


def test_bundled_weights_are_small_and_name_the_people():
    config = json.loads((WEIGHTS / "config.json").read_text())
    assert config["names"] == {"a": "obama", "b": "trump"}
    assert config["storage"] == "float16"
    size = sum(p.stat().st_size for p in WEIGHTS.rglob("*") if p.is_file())  # both bundles together
    assert size <= 40 * 2**20
    net = saving.load(WEIGHTS)
    assert net.names == ("obama", "trump")


@pytest.mark.slow
def test_demo_swaps_both_ways_and_the_clip(tmp_path, capsys):
    assert cli.main(["demo", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for folder in ("obama_to_trump", "trump_to_obama"):
        written = sorted((tmp_path / folder).glob("*.jpg"))
        assert len(written) == 8 and str(tmp_path / folder) in out
        before_after = media.read_image(written[0])
        assert before_after.shape == (480, 2 * 854, 3)  # before | after
        assert provenance.read_label(written[0]) == provenance.LABEL
    clip = tmp_path / "video" / "obama_silent_b.mp4"
    assert videoio.video_info(clip).frames == videoio.video_info(ROOT / "data/video/obama_silent_b.mp4").frames
    assert videoio.read_tag(clip) == provenance.LABEL and str(clip) in out


def test_the_base_is_a_lite_model_of_many_people_at_half_size():
    config = json.loads((BASE / "config.json").read_text())
    assert config["names"] == {"a": "group_a", "b": "group_b"} and config["storage"] == "float16"
    assert config["extra"]["trained_by"] == "weights/train_base.sh" and config["extra"]["pretrained"]
    assert sum(p.stat().st_size for p in BASE.iterdir()) <= 15 * 2**20
    net = saving.load(BASE)
    assert net.settings.name == "lite" and net.settings.coverage == 0.8
    assert all(w.dtype == "float32" for w in net.encoder.weights)


@pytest.mark.parametrize("start", [WEIGHTS, BASE], ids=["demo", "base"])
def test_training_a_new_pair_from_pretrained_weights_starts_ahead(tmp_path, data_dir, start):
    """Transfer learning: trained weights, even of another pair, redraw faces far better than a fresh model."""
    for person in ("obama", "trump"):
        extract.extract([data_dir / person], tmp_path / person, progress=False)
    settings = train.TrainSettings(preset=saving.load(start).settings.name, batch_size=4, iterations=2,
                                   save_every=2, workers=0, preview_faces=2, freeze_encoder_for=2)
    pretrained = train.train(tmp_path / "obama", tmp_path / "trump", tmp_path / "from_demo", settings,
                             pretrained=start, progress=False)
    scratch = train.train(tmp_path / "obama", tmp_path / "trump", tmp_path / "scratch", settings, progress=False)
    assert np.mean(pretrained["a"]) < 0.7 * np.mean(scratch["a"])
    assert checkpoints.load_state(tmp_path / "from_demo")["pretrained"] == str(start)


@pytest.mark.slow
def test_a_new_pair_starts_from_the_base_on_the_command_line(tmp_path, aligned):
    """The documented quick start: `swapface train A B -m DIR --pretrained weights/base --minutes M`."""
    a, b = aligned
    assert cli.main(["train", str(a), str(b), "-m", str(tmp_path / "ab"), "--preset", "lite", "--batch-size", "4",
                     "--pretrained", str(BASE), "--minutes", "0.2", "--workers", "0", "--names", "alice", "bob"]) == 0
    state = checkpoints.load_state(tmp_path / "ab")
    assert state["pretrained"] == str(BASE) and state["names"] == ["alice", "bob"] and state["iteration"] >= 1
    trained, base, fresh = saving.load(tmp_path / "ab"), saving.load(BASE), model.build("lite")
    distance = {name: np.mean([np.abs(np.asarray(w) - np.asarray(v)).mean()
                               for w, v in zip(trained.encoder.weights, other.encoder.weights)])
                for name, other in (("base", base), ("fresh", fresh))}
    assert distance["base"] < 0.1 * distance["fresh"], distance  # it started from the base's weights
