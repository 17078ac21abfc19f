"""Each quality measure on a case with a known answer, on the bundled frames (tiny model)."""

import dataclasses
import json
import shutil

import numpy as np
import pytest

from swapface import cli, evaluate, faces, files, geometry, media, metrics, model, provenance, report, saving, swap, warp


@pytest.fixture(scope="module")
def refs(data_dir):
    """Descriptors of Obama and Trump from frames other than those scored below."""
    return (metrics.reference_set([data_dir / "obama" / "c103_f00020.jpg", data_dir / "obama" / "c110_f00040.jpg"]),
            metrics.reference_set([data_dir / "trump" / "c006_f00088.jpg", data_dir / "trump" / "c006_f00092.jpg"]))


@pytest.fixture(scope="module")
def tiny():
    return dataclasses.replace(model.build("tiny"), names=("obama", "trump"))


def test_model_inputs_from_aligned_crops_match_those_from_frames(frame, face):
    crop = geometry.align(frame, face.matrix, 256)  # what `swapface extract` writes
    from_crop = warp.model_inputs([crop])[0]
    from_frame = swap.model_input(frame, swap.face_job(0, face.landmarks, model.get_preset("tiny")).matrix)
    assert from_crop.shape == (64, 64, 3) and from_crop.dtype == np.float32
    assert metrics.mae(from_crop, from_frame) < 0.01


def test_identity_check_gives_a_share_per_direction(tiny, data_dir, refs):
    obama, trump = refs
    result = evaluate.identity_check(tiny, [data_dir / "obama" / "c001_f00024.jpg"],
                                     [data_dir / "trump" / "c006_f00066.jpg"], obama, trump)
    for key in ("a2b", "b2a"):
        assert result[key]["outputs"] == 1 and 0 <= result[key]["recognised"] <= result[key]["share_target"] <= 1
        assert result[key]["detail_ratio"] > 0


def test_cli_writes_metrics_and_report(tiny, data_dir, tmp_path, capsys):
    saving.save(tiny, tmp_path / "model")
    rc = cli.main(["evaluate", "-m", str(tmp_path / "model"),
                   "--a", str(data_dir / "obama" / "c000_f00040.jpg"),
                   "--b", str(data_dir / "trump" / "c006_f00074.jpg"),
                   "--ref-a", str(data_dir / "obama" / "c103_f00060.jpg"),
                   "--ref-b", str(data_dir / "trump" / "c006_f00084.jpg"),
                   "--video", str(data_dir / "video" / "obama_silent_b.mp4"), "--video-frames", "3",
                   "-o", str(tmp_path / "eval")])
    assert rc == 0
    results = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert results["a2b"]["from"] == "obama" and results["b2a"]["to"] == "obama"
    assert results["references"]["a"] == {"faces": 1, "split": "given", "radius": faces.SAME_PERSON}
    for key in ("a2b", "b2a"):
        assert {"recognised", "share_target", "median_to_target", "detail_ratio", "ceiling"} <= set(results[key])
    for side in "ab":
        rec = results["reconstruction"][side]
        assert rec["faces"] == 1 and -1 <= rec["ssim"] <= 1 and 0 <= rec["mae"] <= 1
    assert results["video"]["frames"] == 3 and results["video"]["flicker_ratio"] > 0
    assert media.read_image(tmp_path / "eval" / "report.png").shape[2] == 3
    assert "obama -> trump" in capsys.readouterr().out


def test_cli_uses_saved_references_and_names_a_person_they_lack(tiny, data_dir, tmp_path, capsys):
    saving.save(tiny, tmp_path / "model")
    saved = metrics.load_references(data_dir / "references.npz")  # the demo's training footage
    args = ["evaluate", "-m", str(tmp_path / "model"), "--a", str(data_dir / "obama" / "c000_f00040.jpg"),
            "--b", str(data_dir / "trump" / "c006_f00074.jpg"), "--references", str(data_dir / "references.npz")]
    assert cli.main([*args, "-o", str(tmp_path / "eval")]) == 0
    results = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    for side, name in (("a", "obama"), ("b", "trump")):
        assert results["references"][side]["faces"] == len(saved[name])
        assert results["references"][side]["radius"] == pytest.approx(metrics.recognition_radius(saved[name]))
    assert results["a2b"]["frames"] == 1  # every frame given is evaluated: none is spent on references
    capsys.readouterr()
    saving.save(tiny, tmp_path / "other", names=("alice", "trump"))
    args[2] = str(tmp_path / "other")
    assert cli.main([*args, "-o", str(tmp_path / "eval2")]) == 2
    assert f"{data_dir / 'references.npz'}: holds references of obama, trump, not of alice" in capsys.readouterr().err


def test_report_is_strict_json(tmp_path):
    path = report.write_metrics({"error": float("nan"), "share": np.float32(0.5), "distances": np.arange(2.0)},
                                tmp_path / "metrics.json")
    assert json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"{c} in JSON")) == \
        {"error": None, "share": 0.5, "distances": [0.0, 1.0]}


def test_report_folder_may_not_be_an_input_folder(tiny, data_dir, tmp_path, capsys):
    saving.save(tiny, tmp_path / "model")
    held_out = tmp_path / "held_out"
    shutil.copytree(data_dir / "obama", held_out)
    shutil.copy(data_dir / "obama" / "c000_f00000.jpg", held_out / "report.png")  # a frame named like the report
    before = {p.name: p.read_bytes() for p in held_out.iterdir()}
    rc = cli.main(["evaluate", "-m", str(tmp_path / "model"), "--a", str(held_out),
                   "--b", str(data_dir / "trump"), "-o", str(held_out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "holds evaluated frames" in err[0] and str(held_out) in err[0]
    assert {p.name: p.read_bytes() for p in held_out.iterdir()} == before


def test_an_unreadable_held_out_frame_is_skipped_and_reported(tiny, data_dir, tmp_path, capsys):
    saving.save(tiny, tmp_path / "model")
    frames = tmp_path / "frames"
    shutil.copytree(data_dir / "obama", frames)
    (frames / "c000_f00010.jpg").write_bytes(b"")  # evaluated (even position)
    (frames / "c001_f00050.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut")  # a reference (odd position)
    rc = cli.main(["evaluate", "-m", str(tmp_path / "model"), "--a", str(frames), "--b", str(data_dir / "trump"),
                   "-o", str(tmp_path / "eval")])
    out = capsys.readouterr().out
    assert rc == 0
    results = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert sorted(name.split("/")[-1] for name, _ in results["skipped"]) == ["c000_f00010.jpg", "c001_f00050.jpg"]
    assert results["a2b"]["frames"] == 4 and results["references"]["a"]["faces"] == 4  # 5 each side, 1 bad
    assert "skipped " + str(frames / "c000_f00010.jpg") + ": empty file" in out


def test_report_png_is_labelled_synthetic(tiny, data_dir, tmp_path):
    saving.save(tiny, tmp_path / "model")
    assert cli.main(["evaluate", "-m", str(tmp_path / "model"), "--a", str(data_dir / "obama"),
                     "--b", str(data_dir / "trump"), "-o", str(tmp_path / "eval")]) == 0
    figure = tmp_path / "eval" / "report.png"
    assert provenance.read_label(figure) == provenance.LABEL
    assert provenance.digital_source_type(figure) == provenance.DIGITAL_SOURCE_TYPE


def test_a_perfect_decoder_with_the_default_mask_is_recognised_as_the_target(data_dir):
    """The ceiling check: real Trump faces pasted into Obama frames read as Trump."""
    obama, _ = metrics.split_references([data_dir / "obama"])
    trump_eval, trump_refs = metrics.split_references([data_dir / "trump"])
    inputs = [media.read_image(p) for p in obama]
    landmarks = [faces.largest_face(image).landmarks for image in inputs]
    settings = dataclasses.replace(model.get_preset("lite"), coverage=0.8)
    scores = evaluate.ceiling_scores(inputs, landmarks, trump_eval, metrics.reference_set(trump_refs),
                                     metrics.reference_set([data_dir / "obama"]), settings)
    assert scores["found"] == len(inputs) and scores["recognised"] >= 0.75
    assert all(image.shape == frame.shape for image, frame in zip(scores["images"], inputs))


@pytest.mark.parametrize("case", ["output is a file", "output in use"])
def test_evaluate_output_problems_fail_before_the_work(data_dir, tmp_path, capsys, monkeypatch, case):
    saving.save(model.build("tiny"), tmp_path / "m", names=("obama", "trump"))
    monkeypatch.setattr(evaluate, "evaluate", lambda *a, **k: (_ for _ in ()).throw(AssertionError("evaluated")))
    argv = ["evaluate", "-m", str(tmp_path / "m"), "--a", str(data_dir / "obama"), "--b", str(data_dir / "trump")]
    if case == "output is a file":
        (tmp_path / "report.txt").write_text("someone's notes")
        assert cli.main([*argv, "-o", str(tmp_path / "report.txt")]) == 2
        assert f"{tmp_path / 'report.txt'}: is a file, not a folder" in capsys.readouterr().err
        assert (tmp_path / "report.txt").read_text() == "someone's notes"
    else:
        with files.lock_folder(tmp_path / "out", "swapface evaluate"):  # as a running evaluation holds it
            assert cli.main([*argv, "-o", str(tmp_path / "out")]) == 2
        assert "another `swapface evaluate` is using this folder" in capsys.readouterr().err
