"""Stage 3 geometry, masks, colour and video on real frames (a tiny model is enough)."""

import dataclasses

import cv2
import numpy as np
import pytest

from swapface import faces, geometry, media, model, provenance, swap, video, videoio


@pytest.fixture(scope="module")
def tiny():
    net = model.build("tiny")
    return model.FaceSwapModel(net.settings, net.encoder, net.decoder_a, net.decoder_b,
                               net.autoencoder_a, net.autoencoder_b, names=("obama", "trump"))



def square(points, coverage=1.0):
    """Frame -> 64 px model square of a face, as a model with this coverage cuts it."""
    return swap.face_job(0, points, dataclasses.replace(model.get_preset("tiny"), coverage=coverage)).matrix

def test_pasting_the_unchanged_crop_back_reproduces_the_face(frame):
    face = faces.find_faces(frame)[0]
    crop = geometry.align(frame, face.matrix, 256).astype(np.float32) / 255
    settings = swap.SwapSettings(colour="none", mask="hull+rect")
    out = swap.blend(frame, crop, face.landmarks, face.matrix, settings)
    mask = swap.make_mask(frame.shape, face.landmarks, face.matrix, "hull+rect", 0.05, 0.08, 256)
    inside = mask > 0.5
    assert inside.sum() > 20_000
    error = np.abs(out.astype(float) - frame)[inside].mean() / 255
    assert error < 3 / 255
    assert np.array_equal(out[~(mask > 0)], frame[~(mask > 0)])  # nothing outside the mask moves


def test_model_input_is_the_mean_face_square(frame):
    face = faces.find_faces(frame)[0]
    matrix = square(face.landmarks)
    eyes = geometry.eye_centres(geometry.transform_points(face.landmarks, matrix))
    mean_eyes = geometry.eye_centres(np.vstack([np.zeros((17, 2)), geometry.mean_face_points(64, 1.0)]))
    assert np.abs(eyes - mean_eyes).max() < 1.5
    crop = swap.model_input(frame, matrix)
    assert crop.shape == (64, 64, 3) and crop.dtype == np.float32 and 0 <= crop.min() and crop.max() <= 1


def test_a_learned_mask_of_ones_is_the_square(frame):
    face = faces.find_faces(frame)[0]
    matrix = square(face.landmarks)
    rect = swap.make_mask(frame.shape, face.landmarks, matrix, "rect")
    learned = swap.make_mask(frame.shape, face.landmarks, matrix, "learned", learned=np.ones((64, 64), np.float32))
    assert np.abs(rect - learned).max() < 1e-5
    with pytest.raises(ValueError, match="--learned-mask"):
        swap.make_mask(frame.shape, face.landmarks, matrix, "learned")


@pytest.mark.parametrize("kind", [kind for kind in swap.MASKS if kind != "learned"])
def test_masks_stay_in_the_frame_and_cover_the_face(frame, kind):
    face = faces.find_faces(frame)[0]
    matrix = square(face.landmarks)
    mask = swap.make_mask(frame.shape, face.landmarks, matrix, kind, erode=0, feather=0)
    assert mask.shape == frame.shape[:2] and mask.dtype == np.float32
    assert mask.min() >= 0 and mask.max() <= 1
    inner = np.zeros(frame.shape[:2], np.uint8)  # brows, eyes, nose, mouth: what the model redraws
    cv2.fillConvexPoly(inner, cv2.convexHull(np.round(face.landmarks[17:]).astype(np.int32)), 1)
    assert (mask[inner > 0] > 0.5).mean() > 0.97
    if "hull" in kind:
        assert (mask > 0.5).sum() < 1.3 * cv2.contourArea(cv2.convexHull(face.landmarks.astype(np.float32)))


def test_face_mask_reaches_over_the_forehead_and_scales_with_the_face(frame):
    face = faces.find_faces(frame)[0]
    matrix = square(face.landmarks, coverage=0.8)
    hull = swap.make_mask(frame.shape, face.landmarks, matrix, "hull+rect", erode=0, feather=0, coverage=0.8)
    full = swap.make_mask(frame.shape, face.landmarks, matrix, "face", erode=0, feather=0, coverage=0.8)
    brow_top = int(face.landmarks[17:27, 1].min())
    column = int(face.landmarks[27, 0])
    assert hull[brow_top - 8, column] < 0.5 < full[brow_top - 8, column]  # forehead: only the face mask
    assert (full >= hull - 1e-6).all()
    # Twice the frame, twice the face: the mask's area grows 4x (erosion and feather scale with it).
    big = cv2.resize(frame, None, fx=2, fy=2)
    matrix2 = square(face.landmarks * 2, coverage=0.8)
    area = (swap.make_mask(frame.shape, face.landmarks, matrix, coverage=0.8) > 0.5).sum()
    area2 = (swap.make_mask(big.shape, face.landmarks * 2, matrix2, coverage=0.8) > 0.5).sum()
    assert area2 / area == pytest.approx(4, rel=0.05)


def test_a_128_px_model_swaps_at_its_own_size(data_dir):
    net = model.build("lite128")
    image = media.read_image(data_dir / "trump" / "c006_f00070.jpg")
    out = swap.swap_frames([image], net, "a")[0]
    assert out.shape == image.shape and not np.array_equal(out, image)


def test_mask_of_a_face_cut_by_the_frame_edge(frame):
    face = faces.find_faces(frame)[0]
    left = face.box[0] + face.width // 2
    cut = np.ascontiguousarray(frame[:, left:])  # half the face is outside
    points = face.landmarks - [left, 0]
    matrix = square(points)
    mask = swap.make_mask(cut.shape, points, matrix)
    assert mask.shape == cut.shape[:2] and 0 < mask.max() <= 1
    decoded = swap.model_input(cut, matrix)
    out = swap.blend(cut, decoded, points, matrix, swap.SwapSettings(seamless=True))
    assert out.shape == cut.shape and out.dtype == np.uint8


def test_lab_transfer_moves_the_lab_means_to_the_target(data_dir):
    a = media.read_image(data_dir / "obama" / "c000_f00000.jpg")
    b = media.read_image(data_dir / "trump" / "c006_f00070.jpg")
    crop_a = geometry.align(a, faces.find_faces(a)[0].matrix, 128).astype(np.float32)
    crop_b = geometry.align(b, faces.find_faces(b)[0].matrix, 128).astype(np.float32)
    mask = np.zeros((128, 128), np.float32)
    mask[32:96, 32:96] = 1
    lab = lambda im: cv2.cvtColor(np.clip(im, 0, 255).astype(np.uint8), cv2.COLOR_BGR2Lab)[32:96, 32:96]
    before = np.abs(lab(crop_b).reshape(-1, 3).mean(0) - lab(crop_a).reshape(-1, 3).mean(0))
    moved = swap.colour_transfer(crop_b, crop_a, mask, "lab")
    after = np.abs(lab(moved).reshape(-1, 3).mean(0) - lab(crop_a).reshape(-1, 3).mean(0))
    assert before.max() > 5 and after.max() < 2  # 8-bit Lab units: 2 is under 1 L* unit
    for mode in ("avg", "hist"):
        shifted = swap.colour_transfer(crop_b, crop_a, mask, mode)
        assert np.abs(shifted[32:96, 32:96].mean((0, 1)) - crop_a[32:96, 32:96].mean((0, 1))).max() < 2


def test_all_faces_of_all_frames_go_through_the_model_in_one_call(tiny, data_dir, monkeypatch):
    a = media.read_image(data_dir / "obama" / "c000_f00000.jpg")
    b = media.read_image(data_dir / "trump" / "c006_f00070.jpg")
    two = np.hstack([a, b])
    calls = []
    original = tiny.autoencoder_b.predict_on_batch
    monkeypatch.setattr(tiny.autoencoder_b, "predict_on_batch", lambda x: calls.append(len(x)) or original(x))
    out = swap.swap_frames([two, a, b], tiny, "trump")
    assert len(calls) == 1 and calls[0] >= 4
    assert all(o.shape == f.shape and not np.array_equal(o, f) for o, f in zip(out, [two, a, b]))


def test_reference_photo_limits_the_swap_to_one_person(tiny, data_dir):
    a = media.read_image(data_dir / "obama" / "c000_f00000.jpg")
    b = media.read_image(data_dir / "trump" / "c006_f00070.jpg")
    two = np.hstack([a, b])
    ref = media.read_image(data_dir / "trump" / "c006_f00088.jpg")
    identity = faces.IdentityFilter(faces.reference_descriptors([ref], ["trump ref"]))
    out = swap.swap_frames([two], tiny, "obama", identity=identity)[0]
    assert np.array_equal(out[:, : a.shape[1] - 1], two[:, : a.shape[1] - 1])  # Obama's half untouched
    assert not np.array_equal(out[:, a.shape[1]:], two[:, a.shape[1]:])


def test_images_are_labelled_synthetic(tmp_path, frame):
    marked = provenance.add_mark(frame)
    assert not np.array_equal(marked[-40:, -140:], frame[-40:, -140:])
    assert np.array_equal(marked[:200], frame[:200])
    for name in ("out.png", "out.jpg"):
        provenance.write_image(tmp_path / name, marked)
        assert provenance.read_label(tmp_path / name) == provenance.LABEL
        assert media.read_image(tmp_path / name).shape == frame.shape


def test_bundled_clip_keeps_frames_rate_and_sound(tiny, data_dir, tmp_path):
    clip = data_dir / "video" / "obama_silent_b.mp4"
    report = video.convert_video(clip, tmp_path / "out.mp4", tiny, "trump", progress=False)
    src, out = videoio.video_info(clip), videoio.video_info(tmp_path / "out.mp4")
    assert report.frames == src.frames == out.frames
    assert abs(out.fps - src.fps) < 0.01 and (out.width, out.height) == (src.width, src.height)
    assert report.faces >= 0.9 * report.frames
    assert abs(videoio.audio_seconds(tmp_path / "out.mp4") - videoio.audio_seconds(clip)) <= 0.1
    assert videoio.read_tag(tmp_path / "out.mp4") == provenance.LABEL
    assert not list(tmp_path.glob(".*partial*"))
