"""Face geometry (swapface.geometry): Umeyama's fit, the alignment, head pose, on real landmarks."""

import cv2
import numpy as np
import pytest

from swapface import faces, geometry, media


def similarity(angle_degrees, scale, shift):
    """A 2x3 similarity matrix: rotation by `angle_degrees`, uniform `scale`, then `shift`."""
    angle = np.deg2rad(angle_degrees)
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return np.hstack([rotation, np.reshape(shift, (2, 1))])


def test_umeyama_recovers_a_known_similarity():
    src = np.random.default_rng(0).uniform(0, 100, size=(51, 2))
    known = similarity(17, 1.7, [12.0, -30.0])
    dst = geometry.transform_points(src, known)
    matrix = geometry.umeyama(src, dst)
    np.testing.assert_allclose(matrix[:2], known, atol=1e-9)
    np.testing.assert_allclose(matrix[2], [0, 0, 1])
    # Weights change nothing when the points fit exactly.
    np.testing.assert_allclose(geometry.umeyama(src, dst, weights=geometry.fit_weights()), matrix, atol=1e-9)


def test_umeyama_never_mirrors():
    src = np.array([[0, 0], [1, 0], [0, 1], [1, 1.5]], dtype=float)
    mirrored = src * [-1, 1]
    assert np.linalg.det(geometry.umeyama(src, mirrored)[:2, :2]) > 0


def test_umeyama_weights_pull_the_fit_onto_the_heavy_points():
    """Four points moved by one similarity, sixteen by another: weight decides which wins."""
    src = np.random.default_rng(1).uniform(0, 100, size=(20, 2))
    dst = geometry.transform_points(src, similarity(10, 1.2, [5, 5]))
    dst[4:] += [15, 0]
    weights = np.r_[np.full(4, 1000.0), np.ones(16)]
    error = lambda m: np.linalg.norm(geometry.transform_points(src[:4], m[:2]) - dst[:4], axis=1).max()  # noqa: E731
    assert error(geometry.umeyama(src, dst, weights=weights)) < 0.5 < 5 < error(geometry.umeyama(src, dst))


@pytest.fixture(scope="module")
def landmarks(obama_frame):
    """(68, 2) dlib landmarks of the bundled Obama frame: real points, not made-up ones."""
    return faces.largest_face(media.read_image(obama_frame)).landmarks


def test_align_puts_the_eyes_of_a_real_face_on_the_mean_face(landmarks):
    matrix = geometry.align_matrix(landmarks, 256)
    aligned = geometry.transform_points(landmarks, matrix)
    target = geometry.eye_centres(np.vstack([np.zeros((17, 2)), geometry.mean_face_points(256)]))
    assert np.linalg.norm(geometry.eye_centres(aligned) - target, axis=1).max() < 2
    # The whole face lies about the mean face, which spans the crop's central 160 px.
    centre = aligned[geometry.ALIGN_POINTS].mean(axis=0)
    np.testing.assert_allclose(centre, geometry.mean_face_points(256).mean(axis=0), atol=3)
    assert 0.9 < np.ptp(aligned[geometry.ALIGN_POINTS], axis=0).max() / (256 * geometry.CROP_COVERAGE) < 1.1


def test_eye_weight_pins_the_eyes_closer_than_the_2017_fit(landmarks):
    target = geometry.mean_face_points(256)[geometry.MEAN_FACE_EYES]
    error = lambda weight: np.linalg.norm(  # noqa: E731
        geometry.transform_points(landmarks, geometry.align_matrix(landmarks, 256, eye_weight=weight))[geometry.EYES]
        - target, axis=1).mean()
    assert error(geometry.DEFAULT_EYE_WEIGHT) < error(1.0) / 2


def test_alignment_undoes_a_similarity_of_the_frame(landmarks):
    """Move, turn and scale the face: the aligned points do not change."""
    moved = geometry.transform_points(landmarks, similarity(25, 0.6, [40, -10]))
    np.testing.assert_allclose(geometry.transform_points(moved, geometry.align_matrix(moved, 128)),
                               geometry.transform_points(landmarks, geometry.align_matrix(landmarks, 128)), atol=1e-6)


def test_align_cuts_the_crop_that_transform_points_maps_into(frame, landmarks):
    matrix = geometry.align_matrix(landmarks, 128, coverage=0.8)
    crop = geometry.align(frame, matrix, 128)
    assert crop.shape == (128, 128, 3) and crop.dtype == np.uint8
    x, y = np.round(geometry.transform_points(landmarks[30:31], matrix)[0]).astype(int)  # the nose tip
    back = geometry.transform_points([[x, y]], cv2.invertAffineTransform(matrix))[0]
    np.testing.assert_allclose(crop[y, x], frame[int(round(back[1])), int(round(back[0]))], atol=30)


def test_view_coverage_is_the_crop_share_a_model_sees():
    assert geometry.view_coverage(geometry.CROP_COVERAGE, 1.0) == geometry.CROP_COVERAGE  # 2017: the mean-face square
    assert geometry.view_coverage(geometry.CROP_COVERAGE, 0.8) == pytest.approx(0.78125)
    assert geometry.view_coverage(0.8, 0.5) == 1.0  # never more than the whole crop


def test_mirrored_face_has_opposite_yaw(data_dir):
    image = media.read_image(data_dir / "trump" / "c006_f00070.jpg")  # turned well to one side
    mirror = np.ascontiguousarray(image[:, ::-1])
    yaw, pitch, _ = geometry.head_pose(faces.largest_face(image).landmarks)
    yaw_m, pitch_m, _ = geometry.head_pose(faces.largest_face(mirror).landmarks)
    assert abs(yaw) > 15 and np.sign(yaw) == -np.sign(yaw_m)
    assert abs(yaw + yaw_m) < 6 and abs(pitch - pitch_m) < 6
