"""The training losses on real faces: what each one rewards and ignores."""

import numpy as np
import pytest
from keras import ops

from swapface import faces, geometry, losses, media, metrics, regions


@pytest.fixture(scope="module")
def crop(obama_frame):
    """A 64 px aligned face of Obama, float32 BGR in [0, 1], and its region weights (64, 64)."""
    image = media.read_image(obama_frame)
    face = faces.largest_face(image)
    matrix = geometry.align_matrix(face.landmarks, 64, coverage=0.8)
    aligned = geometry.align(image, matrix, 64).astype(np.float32) / 255
    weights = regions.region_weights((64, 64), geometry.transform_points(face.landmarks, matrix))
    return aligned, weights


def _loss(settings, target, output):
    return float(losses.make_loss(settings)(target[None], output[None]))


def test_ssim_map_agrees_with_the_reference_implementation(crop):
    aligned, _ = crop
    noisy = np.clip(aligned + np.random.default_rng(0).normal(0, 0.05, aligned.shape), 0, 1).astype(np.float32)
    ours = float(ops.mean(losses.ssim_map(aligned[None], noisy[None])))
    assert ours == pytest.approx(metrics.ssim(aligned, noisy), abs=2e-3)
    assert float(ops.mean(losses.ssim_map(aligned[None], aligned[None]))) == pytest.approx(1, abs=1e-5)


def test_dssim_punishes_blur_more_than_l1_does(crop):
    aligned, _ = crop
    import cv2

    blurred = cv2.GaussianBlur(aligned, (0, 0), 1.5)
    l1 = _loss(losses.LossSettings(), aligned, blurred)
    both = _loss(losses.LossSettings(kind="l1+dssim"), aligned, blurred)
    assert both > 3 * l1  # blur is cheap for L1 (~0.02), costly for structure


def test_masked_loss_ignores_the_background_and_weights_eyes_and_mouth(crop):
    aligned, weights = crop
    target = np.concatenate([aligned, weights[..., None].astype(np.float32) / 255], axis=-1)
    settings = losses.LossSettings(masked=True, eye_mouth=3.0)
    background = aligned.copy()
    background[weights == 0] = 1 - background[weights == 0]
    assert (weights == 0).sum() > 500 and _loss(settings, target, background) == pytest.approx(0, abs=1e-6)
    eyes, cheek = aligned.copy(), aligned.copy()
    eye_pixels, face_pixels = weights == 255, weights == 128
    eyes[eye_pixels] += 0.1
    cheek[np.flatnonzero(face_pixels.ravel())[:eye_pixels.sum()] // 64,
          np.flatnonzero(face_pixels.ravel())[:eye_pixels.sum()] % 64] += 0.1
    assert _loss(settings, target, eyes) == pytest.approx(3 * _loss(settings, target, cheek), rel=0.05)


def test_the_edge_term_charges_blur_and_not_a_shift_of_colour(crop):
    """Two faces equally far off by L1: a blurred one and a brightened one. Only the blur
    loses edges, so only it pays the edge term (what makes it reward detail)."""
    import cv2

    aligned, _ = crop
    blurred = cv2.GaussianBlur(aligned, (0, 0), 1.0)
    shifted = np.clip(aligned + np.abs(aligned - blurred).mean(), 0, 1).astype(np.float32)
    plain, edged = losses.LossSettings(), losses.LossSettings(edges=1.0)
    assert _loss(plain, aligned, blurred) == pytest.approx(_loss(plain, aligned, shifted), rel=0.1)
    extra = {name: _loss(edged, aligned, out) - _loss(plain, aligned, out)
             for name, out in (("blurred", blurred), ("shifted", shifted))}
    assert extra["blurred"] > 5 * extra["shifted"] and extra["blurred"] > 0.01, extra
