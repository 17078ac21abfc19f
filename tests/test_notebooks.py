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
    # FACES_* do not exist yet, so the notebook extracts them; PRETRAINED is the bundled model (a `lite`
    # one), continued and transferred for a few steps; MODEL_DIR already holds an earlier run (SETUPS).
    "2_train.ipynb": {"FACES_A": "{tmp}/faces/obama", "FACES_B": "{tmp}/faces/trump", "DATA": "../data",
                      "PRETRAINED": "../weights", "TRANSFER_FROM": "../weights/base", "PRESET": "lite",
                      "ITERATIONS": 4, "SNAPSHOTS": 2, "CONTINUE": 2, "BATCH_SIZE": 4, "HAND_STEPS": 2,
                      "MODEL_DIR": "{tmp}/models"},
    "3_prediction.ipynb": {"MODEL_DIR": "{tmp}/model", "OUTPUT": "{tmp}/out"},
    "4_evaluate.ipynb": {"MODEL_DIR": "{tmp}/model", "DATA": "../data", "FRAMES": 4, "OUTPUT": "{tmp}/evaluate",
                         "REFERENCES": "../data/references.npz"},
    # The bundled model's real swaps (a tiny model's would be trivially spotted); fewer detector steps.
    "5_spotting_a_swap.ipynb": {"MODEL_DIR": "../weights", "DATA": "../data", "EPOCHS": 100, "OUTPUT": "{tmp}/spotting"},
    # Two short clips of ../shared/data/people (never committed), a few frames each, from the pretrained base.
    "6_your_own_pair.ipynb": {"CLIP_A": "../../shared/data/people/lp_d0/lp_d0.mp4",
                              "CLIP_B": "../../shared/data/people/vr_5/vr_5.mp4", "NAMES": ["lp_d0", "vr_5"],
                              "PRETRAINED": "../weights/base", "MINUTES": 0.05, "EVERY": 6, "OUTPUT": "{tmp}/own"},
}
PEOPLE = ROOT.parent / "shared" / "data" / "people"


def _aligned_faces(folder: Path, size: int = 256) -> list[dict]:
    """Assert that `folder` holds aligned crops and their alignments.json; return its records."""
    from swapface import alignments, media

    document = alignments.read(folder)
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

    from swapface import model, saving

    keras.utils.set_random_seed(0)
    saving.save(model.build("tiny"), tmp / "model", names=("obama", "trump"))


def make_earlier_run(tmp: Path) -> None:
    """MODEL_DIR with an earlier run of notebook 2 in it (a `tiny` model): the notebook must leave it alone."""
    make_tiny_model(tmp / "models" / "earlier")


GREY_STD = 2.0  # per-face pixel std (0-255) of a flat square is 0; a drawn face is tens


def check_training(tmp: Path) -> None:
    import numpy as np

    from swapface import batches, checkpoints, model, saving, train, trainset

    params = NOTEBOOKS["2_train.ipynb"]
    for person in ("obama", "trump"):  # extracted by the notebook itself
        assert len(_aligned_faces(tmp / "faces" / person)) == len(list((ROOT / "data" / person).glob("*.jpg")))
    earlier = tmp / "models" / "earlier"
    assert saving.read_config(earlier / "model")["preset"] == "tiny" and sorted(earlier.iterdir()) == [earlier / "model"]
    runs = [folder for folder in (tmp / "models").iterdir() if folder != earlier]
    assert len(runs) == 1, runs  # one fresh folder for this run, nothing resumed or overwritten
    run = runs[0]

    # 1. the bundled model continued: its first preview is made of faces, not grey squares
    continued = checkpoints.load_state(run / "continued")
    assert continued["iteration"] == params["CONTINUE"] and continued["pretrained"] == params["PRETRAINED"]
    assert (run / "continued" / train.PREVIEW_FILE).stat().st_size > 1000
    net = saving.load(run / "continued")
    for side, person in zip("ab", ("obama", "trump")):
        inputs = trainset.model_view(net, batches.load_faces(tmp / "faces" / person)[:4], tmp / "faces" / person)
        drawn = model.encode_decode(net, inputs, side)
        spread = drawn.std(axis=(1, 2, 3)) * 255
        assert (spread > 5 * GREY_STD).all(), spread  # each reconstruction has structure
        assert np.abs(drawn - inputs).mean() < 0.2  # and it is the face it was given, roughly

    # 2. from scratch, in the preset asked for, whatever MODEL_DIR held before
    scratch = checkpoints.load_state(run / "scratch")
    assert scratch["iteration"] == params["ITERATIONS"] and len(scratch["losses"]["a"]) == params["ITERATIONS"]
    assert (scratch["preset"], scratch["batch_size"], scratch["names"]) == ("lite", 4, ["obama", "trump"])
    assert scratch["pretrained"] is None
    for name in (train.PREVIEW_FILE, train.LOSS_FILE):
        assert (run / "scratch" / name).stat().st_size > 1000, name

    # 3. transfer: from the pretrained base (13 people in two groups), encoder frozen a while
    transfer = checkpoints.load_state(run / "transfer")
    donor = saving.read_config(NOTEBOOK_DIR / params["TRANSFER_FROM"])["names"]
    assert transfer["pretrained"] == params["TRANSFER_FROM"] and transfer["iteration"] == params["ITERATIONS"]
    assert transfer["names"] == ["obama", "trump"] and donor == {"a": "group_a", "b": "group_b"}
    assert transfer["frozen_until"] == params["ITERATIONS"] // 4


def check_prediction(tmp: Path) -> None:
    from swapface import media, provenance, videoio

    clip, swapped = ROOT / "data" / "video" / "obama_silent_b.mp4", tmp / "out" / "obama_silent_b.mp4"
    counts = [sum(1 for _ in videoio.iter_frames(path)) for path in (clip, swapped)]
    assert counts[0] == counts[1] > 1, counts  # every frame converted, none dropped or doubled
    before, after = videoio.video_info(clip), videoio.video_info(swapped)
    assert (after.width, after.height) == (before.width, before.height)
    assert videoio.read_tag(swapped) == provenance.LABEL
    frame, image = ROOT / "data" / "trump" / "c006_f00070.jpg", tmp / "out" / "c006_f00070.jpg"
    assert provenance.read_label(image) == provenance.LABEL
    assert media.read_image(image).shape == media.read_image(frame).shape
    assert not (media.read_image(image) == media.read_image(frame)).all()


def check_evaluation(tmp: Path) -> None:
    import numpy as np

    from swapface import report, videoio

    metrics = json.loads((tmp / "evaluate" / "metrics.json").read_text())  # strict JSON: no NaN
    count = NOTEBOOKS["4_evaluate.ipynb"]["FRAMES"]  # FRAMES reached the notebook: all swapped, saved references
    with np.load(ROOT / "data" / "references.npz") as file:  # the notebook's default REFERENCES
        saved = {name: len(file[name]) for name in file.files}
    for side, name in zip("ab", ("obama", "trump")):
        assert metrics["references"][side]["faces"] == saved[name] and metrics["references"][side]["split"] == "given"
    for key, (source, target) in (("a2b", ("obama", "trump")), ("b2a", ("trump", "obama"))):
        r = metrics[key]
        assert (r["from"], r["to"], r["frames"], r["outputs"]) == (source, target, count, count)
        assert 0 <= r["recognised"] <= r["share_target"] <= 1
        assert len(r["to_target"]) == len(r["to_source"]) == r["found"] <= count
        assert 0 <= r["ceiling"]["recognised"] <= 1
    for side in "ab":
        assert metrics["reconstruction"][side]["faces"] == count and -1 <= metrics["reconstruction"][side]["ssim"] <= 1
    frames = videoio.video_info(ROOT / "data" / "video" / "obama_silent_b.mp4").frames
    for key in ("video", "video_unsmoothed"):  # smoothing on and off, every frame of the clip
        assert metrics[key]["frames"] == frames and metrics[key]["flicker_ratio"] > 0
    ablation = metrics["colour_ablation"]
    assert set(ablation) == {"none", "avg", "lab"}
    assert all(0 <= row["recognised as target"] <= row["share nearer target"] <= 1 for row in ablation.values())
    # colour transfer matches the face's mean colour to the frame's: far closer than no correction
    assert ablation["lab"]["colour difference (delta E)"] < ablation["none"]["colour difference (delta E)"]
    assert report.summary(metrics)  # a reloaded metrics.json (None for NaN) still summarises
    assert (tmp / "evaluate" / "report.png").stat().st_size > 10_000


def check_spotting(tmp: Path) -> None:
    from swapface import provenance

    cells = json.loads((tmp / "5_spotting_a_swap.ipynb").read_text())["cells"]
    texts = [_output_text(o) for c in cells for o in c.get("outputs", [])]
    accuracy = [re.search(r"'held-out accuracy': '(\d+)% of (\d+) faces", text) for text in texts]
    accuracy = [match for match in accuracy if match]
    assert len(accuracy) == 1 and int(accuracy[0][2]) >= 8, accuracy  # held-out frames of both people
    assert int(accuracy[0][1]) > 75  # well above chance (50%) on frames of other clips
    assert any("'1/4 size': 'accuracy" in text for text in texts)  # where it fails: laundered copies judged
    swapped, stripped = tmp / "spotting" / "c006_f00066.jpg", tmp / "spotting" / "stripped.jpg"
    assert provenance.digital_source_type(swapped).endswith("trainedAlgorithmicMedia")
    assert provenance.read_label(stripped) is None and provenance.read_c2pa(stripped) is None  # a re-save drops labels
    assert any("assertion.dataHash.mismatch" in text for text in texts)  # a changed byte breaks the C2PA hash


def need_people(tmp: Path) -> None:
    if not PEOPLE.is_dir():
        pytest.skip(f"{PEOPLE} not present (the people clips live beside the project)")


def check_own_pair(tmp: Path) -> None:
    from swapface import checkpoints, provenance, saving, videoio
    params = NOTEBOOKS["6_your_own_pair.ipynb"]
    for name, clip in zip(params["NAMES"], (params["CLIP_A"], params["CLIP_B"])):
        frames = videoio.video_info(NOTEBOOK_DIR / clip).frames
        train, held = (sorted((tmp / "own" / name / part).glob("*.jpg")) for part in ("train", "held"))
        assert len(train) + len(held) == -(-frames // params["EVERY"])  # every EVERY-th frame, each once
        assert int(train[-1].stem.rsplit("_f", 1)[1]) < int(held[0].stem.rsplit("_f", 1)[1])  # split by time
        assert len(_aligned_faces(tmp / "own" / name / "faces")) == len(train)  # one face per frame
    state = checkpoints.load_state(tmp / "own" / "model")
    assert state["pretrained"] == params["PRETRAINED"] and state["names"] == params["NAMES"]
    assert saving.read_config(tmp / "own" / "model")["preset"] == "lite"
    clip, swapped = NOTEBOOK_DIR / params["CLIP_A"], tmp / "own" / "lp_d0_as_vr_5.mp4"
    assert sum(1 for _ in videoio.iter_frames(swapped)) == videoio.video_info(clip).frames
    assert videoio.read_tag(swapped) == provenance.LABEL
    texts = [_output_text(o) for c in json.loads((tmp / "6_your_own_pair.ipynb").read_text())["cells"]
             for o in c.get("outputs", [])]
    assert any(re.search(r"'lp_d0 -> vr_5': '\d+% recognised", text) for text in texts)  # the score was printed


CHECKS = {"1_training_data.ipynb": check_training_data, "2_train.ipynb": check_training,
          "3_prediction.ipynb": check_prediction, "4_evaluate.ipynb": check_evaluation,
          "5_spotting_a_swap.ipynb": check_spotting, "6_your_own_pair.ipynb": check_own_pair}
SETUPS = {"2_train.ipynb": make_earlier_run, "3_prediction.ipynb": make_tiny_model,
          "4_evaluate.ipynb": make_tiny_model, "6_your_own_pair.ipynb": need_people}  # run before the notebook

# What a saved or executed notebook must never show: TensorFlow's C++ start-up lines, widget
# progress bars (saved without their state they read "0%"), a bar whose last state is 0%, and
# the stale warning of a run that resumed an earlier one.
NOISE = ("I0000", "E0000", "absl::InitializeLog", "oneDNN custom operations", "cpu_feature_guard",
         "is ignored", "Traceback")
IMAGES = ("image/png", "image/jpeg")


def _output_text(output: dict) -> str:
    if output.get("output_type") == "stream":
        return "".join(output["text"])
    return "".join("".join(value) if isinstance(value, list) else str(value)
                   for key, value in output.get("data", {}).items() if key.startswith("text/"))


def _noise(cells: list[dict]) -> list[str]:
    """Every offending piece of output in `cells`, described."""
    found = []
    for index, cell in enumerate(cells):
        for output in cell.get("outputs", []):
            text = _output_text(output)
            found += [f"cell {index}: {marker!r}" for marker in NOISE if marker in text]
            if "application/vnd.jupyter.widget-view+json" in output.get("data", {}) and "%|" in text:
                found.append(f"cell {index}: a progress-bar widget")
            lines = [line.rsplit("\r", 1)[-1] for line in text.split("\n")]  # what a terminal shows of each line
            found += [f"cell {index}: a bar stuck at 0%: {line!r}" for line in lines if re.search(r"(^|\s)0%\|", line)]
    return found


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
    assert any(o.get("data", {}).get(kind) for c in code for o in c.get("outputs", []) for kind in IMAGES), \
        "save the executed notebook so that GitHub shows its pictures"
    assert (NOTEBOOK_DIR / name).stat().st_size < 2_500_000, "keep the saved notebook small"
    assert not _noise(cells), _noise(cells)
    setup = "".join(code[1]["source"])  # on a fresh hosted runtime the first cell after the parameters installs swapface
    assert 'find_spec("swapface")' in setup and "notebook.setup(" in setup and "REPOSITORY" in "".join(code[0]["source"])


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_notebook_runs(name, tmp_path):
    papermill = pytest.importorskip("papermill")
    parameters = {key: value.replace("{tmp}", str(tmp_path)) if isinstance(value, str) else value
                  for key, value in NOTEBOOKS[name].items()}
    executed = tmp_path / name
    if name in SETUPS:
        SETUPS[name](tmp_path)
    # coalesce_streams: a text progress bar is saved as its last state, as `make notebooks` saves it
    papermill.execute_notebook(str(NOTEBOOK_DIR / name), str(executed), parameters=parameters,
                               cwd=str(NOTEBOOK_DIR), kernel_name="python3", progress_bar=False,
                               coalesce_streams=True)
    cells = json.loads(executed.read_text())["cells"]
    outputs = [o for c in cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any(kind in o.get("data", {}) for o in outputs for kind in IMAGES)
    assert not _noise(cells), _noise(cells)
    if name in CHECKS:
        CHECKS[name](tmp_path)


def test_explore_is_live_in_jupyter_and_a_figure_headless(monkeypatch):
    """The notebooks' controls: widgets starting at the defaults live, the default figure headless."""
    ipywidgets = pytest.importorskip("ipywidgets")
    import functools
    import inspect

    import numpy as np
    from matplotlib.figure import Figure

    from swapface import figures, notebook, swap

    defaults = swap.SwapSettings()  # the controls of notebook 3 start at the swap's own defaults
    signature = inspect.signature(figures.swap_settings_figure).parameters
    assert {name: signature[name].default for name in ("mask", "erode", "feather", "colour", "seamless")} == \
        {name: getattr(defaults, name) for name in ("mask", "erode", "feather", "colour", "seamless")}
    crop = np.full((256, 256, 3), 128, np.uint8)
    crop[96:160, 96:160] = 30
    function = functools.partial(figures.warp_strength_figure, crop)
    monkeypatch.setenv(notebook.HEADLESS_ENV, "1")
    assert not notebook.live() and isinstance(notebook.explore(function, jitter=(0.0, 20.0, 1.0)), Figure)
    monkeypatch.setenv(notebook.HEADLESS_ENV, "0")
    widget = notebook.explore(function, jitter=(0.0, 20.0, 1.0))
    assert isinstance(widget, ipywidgets.interactive)
    slider = next(child for child in widget.children if getattr(child, "description", "") == "jitter")
    assert slider.value == 5.0 and isinstance(widget.result, Figure)  # drawn once at the default
    slider.value = 12.0  # what a person dragging the slider does
    assert widget.result.texts[0].get_text() == "jitter 12 px"  # the figure was drawn again
    assert [c.description for c in widget.children if hasattr(c, "value")] == ["jitter"]  # seed, width stay fixed


def test_quiet_import_silences_tensorflow():
    """`swapface.quiet` keeps TensorFlow's C++ start-up and graph-optimiser lines off stderr, oneDNN on."""
    import subprocess
    import sys

    script = ("from swapface import quiet; quiet.import_keras()\n"
              "import numpy as np; from swapface import losses, model, saving, train\n"
              "net = model.build('tiny'); losses.compile_model([net.autoencoder_a, net.autoencoder_b], train.RECIPE_LOSS)\n"
              "x = np.random.rand(2, 64, 64, 3).astype('float32'); w = np.random.rand(2, 64, 64, 4).astype('float32')\n"
              "net.autoencoder_a.train_on_batch(x, w); import os; print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'))")
    env = {key: value for key, value in __import__("os").environ.items() if not key.startswith("TF_")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "None"  # oneDNN left at TensorFlow's default (on)
    assert not [marker for marker in NOISE[:5] if marker in done.stderr], done.stderr


def test_cli_output_has_no_tensorflow_lines(tmp_path):
    """The command line's normal output: the summary, no TensorFlow start-up lines (--debug shows them)."""
    import os
    import subprocess
    import sys

    env = {key: value for key, value in os.environ.items() if not key.startswith("TF_")}
    done = subprocess.run([sys.executable, "-m", "swapface.cli", "convert", str(ROOT / "data" / "trump" / "c006_f00070.jpg"),
                           "-m", str(ROOT / "weights"), "-o", str(tmp_path), "--to", "obama"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "converted 1 images" in done.stdout + done.stderr
    assert not [marker for marker in NOISE[:5] if marker in done.stderr], done.stderr
