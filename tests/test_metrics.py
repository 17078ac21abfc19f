"""The swap metrics (swapface.metrics) on real frames: identity, detail, geometry, SSIM, flicker."""

import cv2
import numpy as np
import pytest

from swapface import faces, geometry, media, metrics, regions, videoio


@pytest.fixture(scope="module")
def refs(data_dir):
    """Descriptors of Obama and Trump from frames other than those scored below."""
    return (metrics.reference_set([data_dir / "obama" / "c103_f00020.jpg", data_dir / "obama" / "c110_f00040.jpg"]),
            metrics.reference_set([data_dir / "trump" / "c006_f00088.jpg", data_dir / "trump" / "c006_f00092.jpg"]))


def shifted(image, k):
    """uint8 BGR `image` moved k px to the right, the left edge repeated."""
    return cv2.warpAffine(image, np.float64([[1, 0, k], [0, 1, 0]]), image.shape[1::-1],
                          borderMode=cv2.BORDER_REPLICATE)


def test_identical_images_score_perfectly(frame, face):
    crop = geometry.align(frame, face.matrix, 256)
    assert metrics.ssim(crop, crop) == pytest.approx(1, abs=1e-6)
    assert metrics.ssim(crop.astype(np.float32) / 255, crop) == pytest.approx(1, abs=1e-6)  # uint8 and float agree
    assert metrics.mae(crop, crop) == 0
    same = metrics.geometry_scores([frame], [frame.copy()], [face.landmarks])
    assert same["landmark_error"] == pytest.approx(0, abs=1e-9)
    assert same["yaw_difference"] == pytest.approx(0, abs=1e-6)
    assert same["pitch_difference"] == pytest.approx(0, abs=1e-6)


def test_a_shift_of_k_pixels_gives_k_interocular_units_and_lower_ssim(frame, face):
    k = 8
    interocular = geometry.eye_distance(face.landmarks)
    assert metrics.landmark_error(face.landmarks, face.landmarks + [k, 0]) == pytest.approx(k / interocular)
    moved = shifted(frame, k)
    error = metrics.landmark_error(face.landmarks, faces.largest_face(moved).landmarks)
    assert error == pytest.approx(k / interocular, abs=0.02)  # detection noise is ~0.01 IOD
    before, after = geometry.align(frame, face.matrix, 256), geometry.align(moved, face.matrix, 256)
    assert metrics.ssim(before, after) < 0.8 and metrics.mae(before, after) > 0.02
    assert metrics.ssim(before, shifted(before, 1)) > metrics.ssim(before, shifted(before, 4))


def test_another_person_is_farther_than_the_same_person(data_dir, refs):
    obama, trump = refs
    frames = [media.read_image(data_dir / "obama" / "c000_f00000.jpg"),
              media.read_image(data_dir / "trump" / "c006_f00070.jpg")]
    scores = metrics.identity_scores(frames, obama, trump)  # as if both were swaps to Obama
    assert scores["found"] == 2
    assert scores["to_target"][0] < 0.6 < scores["to_target"][1]
    assert scores["to_target"][0] < scores["to_source"][0] and scores["to_target"][1] > scores["to_source"][1]
    assert scores["mean_to_target"][1] > scores["mean_to_source"][1]
    assert scores["share_target"] == scores["share_target_mean"] == 0.5


def test_flicker_ratio_is_one_for_an_unchanged_video_and_grows_with_noise(data_dir):
    frames = [frame for index, frame in videoio.iter_frames(data_dir / "video" / "obama_silent_b.mp4") if index < 4]
    masks = [regions.hull_mask(f.shape, [faces.largest_face(f).landmarks]).astype(bool) for f in frames]
    assert all(m.sum() > 10_000 for m in masks)
    assert metrics.flicker_ratio(frames, [f.copy() for f in frames], masks)["flicker_ratio"] == 1
    rng = np.random.default_rng(0)
    noisy = [np.clip(f + rng.normal(0, 8, f.shape), 0, 255).astype(np.uint8) for f in frames]
    assert metrics.flicker_ratio(frames, noisy, masks)["flicker_ratio"] > 1.5


def test_references_are_never_the_evaluated_frames(data_dir, tmp_path):
    evaluated, references = metrics.split_references([data_dir / "trump"])
    assert len(evaluated) == len(references) == 4 and not set(evaluated) & set(references)
    media.write_image(tmp_path / "blank.png", np.full((120, 160, 3), 128, np.uint8))
    with pytest.raises(ValueError, match="no face"):
        metrics.reference_set([tmp_path])


def test_genuine_frames_are_recognised_as_their_person_and_the_other_person_is_not(data_dir):
    """The strict metric on real held-out frames: radius calibrated from references of other
    frames, genuine faces inside it, faces of the other person outside."""
    evaluated = {p: metrics.split_references([data_dir / p]) for p in ("obama", "trump")}
    refs = {p: metrics.reference_set(evaluated[p][1]) for p in evaluated}
    radius = metrics.recognition_radius(refs["obama"])
    assert 0.2 < radius < 0.6
    obama = [media.read_image(p) for p in evaluated["obama"][0]]
    trump = [media.read_image(p) for p in evaluated["trump"][0]]
    genuine = metrics.identity_scores(obama, refs["obama"], refs["trump"])
    assert genuine["recognised"] >= 0.75 and genuine["median_to_target"] < radius
    impostor = metrics.identity_scores(trump, refs["obama"], refs["trump"])
    assert impostor["recognised"] == 0 and impostor["median_to_target"] > radius


def test_recognition_radius_is_a_percentile_of_leave_one_out_distances():
    refs = np.array([[0.0, 0.0], [0.3, 0.0], [0.0, 0.4]])  # pairwise distances 0.3, 0.4, 0.5
    assert metrics.recognition_radius(refs, percentile=100) == pytest.approx(0.5)
    assert metrics.recognition_radius(refs, percentile=0) == pytest.approx(0.3)


def test_detail_ratio_is_one_for_the_same_frame_and_falls_with_blur(frame, face):
    assert metrics.detail_ratios([frame], [frame.copy()], [face.landmarks]) == [pytest.approx(1)]
    blurred = cv2.GaussianBlur(frame, (0, 0), 3)
    assert metrics.detail_ratios([frame], [blurred], [face.landmarks])[0] < 0.2


def test_swap_evidence_flags_a_soft_inner_face_and_a_recoloured_one(frame, face):
    real = metrics.swap_evidence(frame, face.landmarks)
    assert list(real) == list(metrics.EVIDENCE) and all(np.isfinite(list(real.values())))
    inner = metrics.inner_face_mask(frame.shape, face.landmarks, erode=0)
    soft = frame.copy()
    soft[inner] = cv2.GaussianBlur(frame, (0, 0), 3)[inner]  # a redrawn, blurry centre, the frame's jaw around it
    blurred = metrics.swap_evidence(soft, face.landmarks)
    assert blurred["detail"] < real["detail"] - 1 and blurred["seam"] > real["seam"] + 1
    tinted = frame.copy()
    tinted[inner] = np.clip(frame[inner].astype(int) + [0, 0, 40], 0, 255)  # redder centre
    assert metrics.swap_evidence(tinted, face.landmarks)["colour"] > real["colour"] + 5
    whole = cv2.GaussianBlur(frame, (0, 0), 3)  # the whole frame soft: the inner face no softer than the rest
    assert abs(metrics.swap_evidence(whole, face.landmarks)["detail"] - real["detail"]) < 1


def test_saved_references_round_trip_and_bad_files_are_named(refs, tmp_path):
    obama, trump = refs
    path = metrics.save_references(tmp_path / "refs.npz", {"obama": obama, "trump": trump})
    loaded = metrics.load_references(path)
    assert sorted(loaded) == ["obama", "trump"] and loaded["obama"].shape == obama.shape
    np.testing.assert_allclose(loaded["trump"], trump, atol=1e-6)  # stored as float32
    (tmp_path / "one.npz").write_bytes(b"")
    np.save(tmp_path / "array.npy", obama)
    metrics.save_references(tmp_path / "short.npz", {"obama": obama[:1]})
    for name, why in (("one.npz", "empty|not a references file"), ("array.npy", "one array"),
                      ("short.npz", "not two or more 128-number descriptors")):
        with pytest.raises(media.MediaError, match=f"{tmp_path / name}: .*({why})"):
            metrics.load_references(tmp_path / name)


def test_references_of_random_bytes_or_nan_are_refused_for_what_they_are(refs, tmp_path):
    obama, trump = refs
    (tmp_path / "noise.npz").write_bytes(np.random.default_rng(3).bytes(5000))
    with pytest.raises(media.MediaError, match=r"noise.npz: not a references file \(not an .npz archive") as info:
        metrics.load_references(tmp_path / "noise.npz")
    assert "pickle" not in str(info.value)
    poisoned = obama.copy()
    poisoned[1, 7] = np.nan  # would make every distance NaN: "0% recognised" with nothing measured
    metrics.save_references(tmp_path / "nan.npz", {"obama": poisoned, "trump": trump})
    with pytest.raises(media.MediaError, match="nan.npz: obama: 1 descriptors hold NaN"):
        metrics.load_references(tmp_path / "nan.npz")
