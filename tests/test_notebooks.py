"""The notebooks run top to bottom and keep to the house rules.

Each notebook runs with papermill in the venv's `python3` kernel, with notebooks/ as the
working directory (as a learner opens it), its parameters overridden so that everything it
writes lands in pytest's tmp_path and never in the repository. To add a notebook, add its
parameters to NOTEBOOKS ("{tmp}" becomes the test's tmp_path), if it writes files, a
check to CHECKS, and if it needs files made first (a saved model), a function to SETUPS.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"

NOTEBOOKS = {
    "1_training_data.ipynb": {"DATA": "../data", "OUTPUT": "{tmp}/faces", "EVERY": 10},
    # FACES_* do not exist yet, so the notebook extracts them; PRETRAINED is SETUPS' tiny model.
    "2_train.ipynb": {"FACES_A": "{tmp}/faces/obama", "FACES_B": "{tmp}/faces/trump", "DATA": "../data",
                      "PRESET": "tiny", "ITERATIONS": 12, "BATCH_SIZE": 4, "MODEL_DIR": "{tmp}/models",
                      "PRETRAINED": "{tmp}/model"},
    "3_prediction.ipynb": {"MODEL_DIR": "{tmp}/model", "OUTPUT": "{tmp}/out"},
    "4_evaluate.ipynb": {"MODEL_DIR": "{tmp}/model", "DATA": "../data", "FRAMES": 4, "OUTPUT": "{tmp}/evaluate"},
}


def _aligned_faces(folder: Path, size: int = 256) -> list[dict]:
    """Assert that `folder` holds aligned crops and their alignments.json; return its records."""
    from swapface import extract, media

    document = extract.read_alignments(folder)
    records = document["faces"]
    crops = sorted(p.name for p in folder.glob("*.jpg"))
    assert crops and crops == sorted(r["file"] for r in records), folder
    assert document["size"] == size
    for name in crops:
        assert media.read_image(folder / name).shape == (size, size, 3), name
    return records


def check_training_data(tmp: Path) -> None:
    faces_dir = tmp / "faces"
    for person in ("obama", "trump"):
        records = _aligned_faces(faces_dir / person)
        assert len(records) == len(list((ROOT / "data" / person).glob("*.jpg")))  # one face per bundled frame
    video = _aligned_faces(faces_dir / "video")
    assert all(r["frame"] % 10 == 0 for r in video)  # EVERY=10 reached the notebook
    only = _aligned_faces(faces_dir / "obama_only")
    assert not [r for r in only if "trump" in Path(r["source"]).parts]  # the identity filter worked


def make_tiny_model(tmp: Path) -> None:
    """An untrained tiny model of "obama" and "trump" in tmp/model, for notebooks that load one."""
    import keras

    from swapface import model

    keras.utils.set_random_seed(0)
    model.save(model.build("tiny"), tmp / "model", names=("obama", "trump"))


def check_training(tmp: Path) -> None:
    from swapface import checkpoints, model, train

    iterations = NOTEBOOKS["2_train.ipynb"]["ITERATIONS"]
    for person in ("obama", "trump"):  # extracted by the notebook itself
        assert len(_aligned_faces(tmp / "faces" / person)) == len(list((ROOT / "data" / person).glob("*.jpg")))
    scratch = checkpoints.load_state(tmp / "models" / "scratch")
    assert scratch["iteration"] == iterations and len(scratch["losses"]["a"]) == iterations
    assert (scratch["preset"], scratch["batch_size"], scratch["names"]) == ("tiny", 4, ["obama", "trump"])
    assert model.read_config(tmp / "models" / "scratch")["extra"] == {"iteration": iterations}
    for name in (train.PREVIEW_FILE, train.LOSS_FILE):
        assert (tmp / "models" / "scratch" / name).stat().st_size > 1000, name
    transfer = checkpoints.load_state(tmp / "models" / "transfer")  # started from PRETRAINED, encoder frozen a while
    assert transfer["iteration"] == iterations and transfer["pretrained"] == str(tmp / "model")
    assert transfer["frozen_until"] == iterations // 3


def check_prediction(tmp: Path) -> None:
    from swapface import media, provenance, video

    clip, swapped = ROOT / "data" / "video" / "obama_silent_b.mp4", tmp / "out" / "obama_silent_b.mp4"
    counts = [sum(1 for _ in media.iter_frames(path)) for path in (clip, swapped)]
    assert counts[0] == counts[1] > 1, counts  # every frame converted, none dropped or doubled
    before, after = media.video_info(clip), media.video_info(swapped)
    assert (after.width, after.height) == (before.width, before.height)
    assert video.read_tag(swapped) == provenance.LABEL
    frame, image = ROOT / "data" / "trump" / "c006_f00070.jpg", tmp / "out" / "c006_f00070.jpg"
    assert provenance.read_label(image) == provenance.LABEL
    assert media.read_image(image).shape == media.read_image(frame).shape
    assert not (media.read_image(image) == media.read_image(frame)).all()


def check_evaluation(tmp: Path) -> None:
    from swapface import evaluate, media

    metrics = json.loads((tmp / "evaluate" / "metrics.json").read_text())  # strict JSON: no NaN
    half = NOTEBOOKS["4_evaluate.ipynb"]["FRAMES"] // 2  # FRAMES reached the notebook: half swapped, half refs
    assert metrics["references"] == {side: {"faces": half, "split": "even/odd"} for side in "ab"}
    for key, (source, target) in (("a2b", ("obama", "trump")), ("b2a", ("trump", "obama"))):
        r = metrics[key]
        assert (r["from"], r["to"], r["frames"], r["outputs"]) == (source, target, half, half)
        assert 0 <= r["share_target"] <= 1 and 0 <= r["share_target_mean"] <= 1
        assert len(r["to_target"]) == len(r["mean_to_source"]) == r["found"] <= half
    for side in "ab":
        assert metrics["reconstruction"][side]["faces"] == half and -1 <= metrics["reconstruction"][side]["ssim"] <= 1
    frames = media.video_info(ROOT / "data" / "video" / "obama_silent_b.mp4").frames
    for key in ("video", "video_unsmoothed"):  # smoothing on and off, every frame of the clip
        assert metrics[key]["frames"] == frames and metrics[key]["flicker_ratio"] > 0
    ablation = metrics["color_ablation"]
    assert set(ablation) == {"none", "avg", "lab"}
    assert all(0 <= row["share nearer target"] <= 1 for row in ablation.values())
    # colour transfer matches the face's mean colour to the frame's: far closer than no correction
    assert ablation["lab"]["colour difference (delta E)"] < ablation["none"]["colour difference (delta E)"]
    assert evaluate.summary(metrics)  # a reloaded metrics.json (None for NaN) still summarises
    assert (tmp / "evaluate" / "report.png").stat().st_size > 10_000


CHECKS = {"1_training_data.ipynb": check_training_data, "2_train.ipynb": check_training,
          "3_prediction.ipynb": check_prediction, "4_evaluate.ipynb": check_evaluation}
SETUPS = {"2_train.ipynb": make_tiny_model, "3_prediction.ipynb": make_tiny_model,
          "4_evaluate.ipynb": make_tiny_model}  # run before the notebook


def _cells(name: str) -> list[dict]:
    return json.loads((NOTEBOOK_DIR / name).read_text())["cells"]


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_notebook_follows_the_rules(name):
    """Parameters cell first, no definitions (the package computes), no absolute paths, outputs saved."""
    cells = _cells(name)
    code = [c for c in cells if c["cell_type"] == "code"]
    assert "parameters" in code[0].get("metadata", {}).get("tags", []), "first code cell must be tagged parameters"
    for cell in code:
        source = "".join(cell["source"])
        assert not re.search(r"^\s*(async\s+)?(def|class)\s", source, re.M), f"definition in a cell:\n{source}"
        assert "lambda" not in source, f"lambda in a cell:\n{source}"
        assert not re.search(r"""["'](/|[A-Za-z]:\\)""", source), f"absolute path in a cell:\n{source}"
        assert not any(o.get("output_type") == "error" for o in cell.get("outputs", [])), "saved with an error"
    assert any(o.get("data", {}).get("image/png") for c in code for o in c.get("outputs", [])), \
        "save the executed notebook so that GitHub shows its pictures"
    assert (NOTEBOOK_DIR / name).stat().st_size < 2_500_000, "keep the saved notebook small"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_notebook_runs(name, tmp_path):
    papermill = pytest.importorskip("papermill")
    parameters = {key: value.replace("{tmp}", str(tmp_path)) if isinstance(value, str) else value
                  for key, value in NOTEBOOKS[name].items()}
    executed = tmp_path / name
    if name in SETUPS:
        SETUPS[name](tmp_path)
    papermill.execute_notebook(str(NOTEBOOK_DIR / name), str(executed), parameters=parameters,
                               cwd=str(NOTEBOOK_DIR), kernel_name="python3", progress_bar=False)
    outputs = [o for c in json.loads(executed.read_text())["cells"] for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)
    if name in CHECKS:
        CHECKS[name](tmp_path)
