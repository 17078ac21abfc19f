"""Each quality measure on a case with a known answer, on the bundled frames (tiny model)."""

import dataclasses
import json
import shutil

import cv2
import numpy as np
import pytest

from swapface import cli, evaluate, faces, media, model, provenance, saving, swap, videoio, warp


@pytest.fixture(scope="module")
def frame(obama_frame):
    return media.read_image(obama_frame)


@pytest.fixture(scope="module")
def face(frame):
    return evaluate.largest_face(frame)


@pytest.fixture(scope="module")
def refs(data_dir):
    """Descriptors of Obama and Trump from frames other than those scored below."""
    return (evaluate.reference_set([data_dir / "obama" / "c103_f00020.jpg", data_dir / "obama" / "c110_f00040.jpg"]),
            evaluate.reference_set([data_dir / "trump" / "c006_f00088.jpg", data_dir / "trump" / "c006_f00092.jpg"]))


@pytest.fixture(scope="module")
def tiny():
    return dataclasses.replace(model.build("tiny"), names=("obama", "trump"))


def shifted(image, k):
    """uint8 BGR `image` moved k px to the right, the left edge repeated."""
    return cv2.warpAffine(image, np.float64([[1, 0, k], [0, 1, 0]]), image.shape[1::-1],
                          borderMode=cv2.BORDER_REPLICATE)


def test_identical_images_score_perfectly(frame, face):
    crop = faces.align(frame, face.matrix, 256)
    assert evaluate.ssim(crop, crop) == pytest.approx(1, abs=1e-6)
    assert evaluate.ssim(crop.astype(np.float32) / 255, crop) == pytest.approx(1, abs=1e-6)  # uint8 and float agree
    assert evaluate.mae(crop, crop) == 0
    same = evaluate.geometry_scores([frame], [frame.copy()], [face.landmarks])
    assert same["landmark_error"] == pytest.approx(0, abs=1e-9)
    assert same["yaw_difference"] == pytest.approx(0, abs=1e-6)
    assert same["pitch_difference"] == pytest.approx(0, abs=1e-6)


def test_a_shift_of_k_pixels_gives_k_interocular_units_and_lower_ssim(frame, face):
    k = 8
    interocular = np.linalg.norm(np.subtract(*faces.eye_centres(face.landmarks)))
    assert evaluate.landmark_error(face.landmarks, face.landmarks + [k, 0]) == pytest.approx(k / interocular)
    moved = shifted(frame, k)
    error = evaluate.landmark_error(face.landmarks, evaluate.largest_face(moved).landmarks)
    assert error == pytest.approx(k / interocular, abs=0.02)  # detection noise is ~0.01 IOD
    before, after = faces.align(frame, face.matrix, 256), faces.align(moved, face.matrix, 256)
    assert evaluate.ssim(before, after) < 0.8 and evaluate.mae(before, after) > 0.02
    assert evaluate.ssim(before, shifted(before, 1)) > evaluate.ssim(before, shifted(before, 4))


def test_model_inputs_from_aligned_crops_match_those_from_frames(frame, face):
    crop = faces.align(frame, face.matrix, 256)  # what `swapface extract` writes
    from_crop = warp.model_inputs([crop])[0]
    from_frame = swap.model_input(frame, swap.input_matrix(face.landmarks))
    assert from_crop.shape == (64, 64, 3) and from_crop.dtype == np.float32
    assert evaluate.mae(from_crop, from_frame) < 0.01


def test_another_person_is_farther_than_the_same_person(data_dir, refs):
    obama, trump = refs
    frames = [media.read_image(data_dir / "obama" / "c000_f00000.jpg"),
              media.read_image(data_dir / "trump" / "c006_f00070.jpg")]
    scores = evaluate.identity_scores(frames, obama, trump)  # as if both were swaps to Obama
    assert scores["found"] == 2
    assert scores["to_target"][0] < 0.6 < scores["to_target"][1]
    assert scores["to_target"][0] < scores["to_source"][0] and scores["to_target"][1] > scores["to_source"][1]
    assert scores["mean_to_target"][1] > scores["mean_to_source"][1]
    assert scores["share_target"] == scores["share_target_mean"] == 0.5


def test_mirrored_face_has_opposite_yaw(data_dir):
    image = media.read_image(data_dir / "trump" / "c006_f00070.jpg")  # turned well to one side
    mirror = np.ascontiguousarray(image[:, ::-1])
    yaw, pitch, _ = faces.head_pose(evaluate.largest_face(image).landmarks)
    yaw_m, pitch_m, _ = faces.head_pose(evaluate.largest_face(mirror).landmarks)
    assert abs(yaw) > 15 and np.sign(yaw) == -np.sign(yaw_m)
    assert abs(yaw + yaw_m) < 6 and abs(pitch - pitch_m) < 6


def test_flicker_ratio_is_one_for_an_unchanged_video_and_grows_with_noise(data_dir):
    frames = [frame for index, frame in videoio.iter_frames(data_dir / "video" / "obama_silent_b.mp4") if index < 4]
    masks = [faces.hull_mask(f.shape, [evaluate.largest_face(f).landmarks]).astype(bool) for f in frames]
    assert all(m.sum() > 10_000 for m in masks)
    assert evaluate.flicker_ratio(frames, [f.copy() for f in frames], masks)["flicker_ratio"] == 1
    rng = np.random.default_rng(0)
    noisy = [np.clip(f + rng.normal(0, 8, f.shape), 0, 255).astype(np.uint8) for f in frames]
    assert evaluate.flicker_ratio(frames, noisy, masks)["flicker_ratio"] > 1.5


def test_references_are_never_the_evaluated_frames(data_dir, tmp_path):
    evaluated, references = evaluate.split_references([data_dir / "trump"])
    assert len(evaluated) == len(references) == 4 and not set(evaluated) & set(references)
    media.write_image(tmp_path / "blank.png", np.full((120, 160, 3), 128, np.uint8))
    with pytest.raises(ValueError, match="no face"):
        evaluate.reference_set([tmp_path])


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


def test_report_is_strict_json(tmp_path):
    path = evaluate.write_report({"error": float("nan"), "share": np.float32(0.5), "distances": np.arange(2.0)},
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
    report = tmp_path / "eval" / "report.png"
    assert provenance.read_label(report) == provenance.LABEL
    assert provenance.digital_source_type(report) == provenance.DIGITAL_SOURCE_TYPE


def test_genuine_frames_are_recognised_as_their_person_and_the_other_person_is_not(data_dir):
    """The strict metric on real held-out frames: radius calibrated from references of other
    frames, genuine faces inside it, faces of the other person outside."""
    evaluated = {p: evaluate.split_references([data_dir / p]) for p in ("obama", "trump")}
    refs = {p: evaluate.reference_set(evaluated[p][1]) for p in evaluated}
    radius = evaluate.recognition_radius(refs["obama"])
    assert 0.2 < radius < 0.6
    obama = [media.read_image(p) for p in evaluated["obama"][0]]
    trump = [media.read_image(p) for p in evaluated["trump"][0]]
    genuine = evaluate.identity_scores(obama, refs["obama"], refs["trump"])
    assert genuine["recognised"] >= 0.75 and genuine["median_to_target"] < radius
    impostor = evaluate.identity_scores(trump, refs["obama"], refs["trump"])
    assert impostor["recognised"] == 0 and impostor["median_to_target"] > radius


def test_recognition_radius_is_a_percentile_of_leave_one_out_distances():
    refs = np.array([[0.0, 0.0], [0.3, 0.0], [0.0, 0.4]])  # pairwise distances 0.3, 0.4, 0.5
    assert evaluate.recognition_radius(refs, percentile=100) == pytest.approx(0.5)
    assert evaluate.recognition_radius(refs, percentile=0) == pytest.approx(0.3)


def test_detail_ratio_is_one_for_the_same_frame_and_falls_with_blur(frame, face):
    assert evaluate.detail_ratios([frame], [frame.copy()], [face.landmarks]) == [pytest.approx(1)]
    blurred = cv2.GaussianBlur(frame, (0, 0), 3)
    assert evaluate.detail_ratios([frame], [blurred], [face.landmarks])[0] < 0.2


def test_a_perfect_decoder_with_the_default_mask_is_recognised_as_the_target(data_dir):
    """The ceiling check: real Trump faces pasted into Obama frames read as Trump."""
    obama, _ = evaluate.split_references([data_dir / "obama"])
    trump_eval, trump_refs = evaluate.split_references([data_dir / "trump"])
    inputs = [media.read_image(p) for p in obama]
    landmarks = [evaluate.largest_face(image).landmarks for image in inputs]
    settings = dataclasses.replace(model.get_preset("lite"), coverage=0.8)
    scores = evaluate.ceiling_scores(inputs, landmarks, trump_eval, evaluate.reference_set(trump_refs),
                                     evaluate.reference_set([data_dir / "obama"]), settings)
    assert scores["found"] == len(inputs) and scores["recognised"] >= 0.75
    assert all(image.shape == frame.shape for image, frame in zip(scores["images"], inputs))
