"""Face geometry: the mean face, dlib's landmark regions, Umeyama's fit and what it aligns.

Landmarks are float64 (68, 2) arrays of (x, y) pixels in dlib's 68-point scheme; images
are uint8 or float (H, W, C). The alignment is the one the original deepfakes code used:
a similarity transform (rotation, uniform scale, translation) fitted with Umeyama's
method from landmarks 17-67 (brows, eyes, nose, mouth; the jaw line is left out because
it moves with pose) to a 51-point mean face. The same 2x3 matrix later pastes the swapped
face back. This module needs no detector: give it landmarks from anywhere.

Coverage is the share of a square's side that the mean face spans, and each name means
one square: an aligned crop on disk has `CROP_COVERAGE` (recorded in alignments.json); a
model's input square has the model's own (`COVERAGE_2017` for the 2017 model,
`swapface.train.MODEL_COVERAGE` for new ones). `view_coverage` is the ratio of the two:
how much of a crop a model sees.

Example:
    >>> points = np.vstack([np.zeros((17, 2)), mean_face_points(256)])  # a face already in place
    >>> np.allclose(align_matrix(points, 256), [[1, 0, 0], [0, 1, 0]])  # nothing to move
    True
"""

from __future__ import annotations

import cv2
import numpy as np

# Regions of dlib's 68-point scheme (iBUG 300-W). "Right" is the person's right, which
# is on the image's left.
JAW = slice(0, 17)
BROWS = slice(17, 27)  # right brow 17-21, left brow 22-26
NOSE = slice(27, 36)
RIGHT_EYE = slice(36, 42)
LEFT_EYE = slice(42, 48)
EYES = slice(36, 48)
MOUTH = slice(48, 68)
ALIGN_POINTS = slice(17, 68)  # brows, eyes, nose, mouth: the points MEAN_FACE describes
INNER = ALIGN_POINTS  # also what a swap redraws (the jaw line is the frame's)
MEAN_FACE_EYES = slice(EYES.start - ALIGN_POINTS.start, EYES.stop - ALIGN_POINTS.start)  # the eyes of MEAN_FACE

# The 51-point mean face of the 2017 deepfakes code (landmarks 17-67), in a unit square.
# Aligned squares map this square onto their central `coverage`.
MEAN_FACE_X = np.array([
    0.000213256, 0.0752622, 0.18113, 0.29077, 0.393397, 0.586856, 0.689483, 0.799124,
    0.904991, 0.98004, 0.490127, 0.490127, 0.490127, 0.490127, 0.36688, 0.426036,
    0.490127, 0.554217, 0.613373, 0.121737, 0.187122, 0.265825, 0.334606, 0.260918,
    0.182743, 0.645647, 0.714428, 0.793132, 0.858516, 0.79751, 0.719335, 0.254149,
    0.340985, 0.428858, 0.490127, 0.551395, 0.639268, 0.726104, 0.642159, 0.556721,
    0.490127, 0.423532, 0.338094, 0.290379, 0.428096, 0.490127, 0.552157, 0.689874,
    0.553364, 0.490127, 0.42689])
MEAN_FACE_Y = np.array([
    0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891,
    0.0187482, 0.038915, 0.106454, 0.203352, 0.307009, 0.409805, 0.515625, 0.587326,
    0.609345, 0.628106, 0.609345, 0.587326, 0.216423, 0.178758, 0.179852, 0.231733,
    0.245099, 0.244077, 0.231733, 0.179852, 0.178758, 0.216423, 0.244077, 0.245099,
    0.780233, 0.745405, 0.727388, 0.742578, 0.727388, 0.745405, 0.780233, 0.864805,
    0.902192, 0.909281, 0.902192, 0.864805, 0.784792, 0.778746, 0.785343, 0.778746,
    0.784792, 0.824182, 0.831803, 0.824182])
MEAN_FACE = np.stack([MEAN_FACE_X, MEAN_FACE_Y], axis=1)  # (51, 2) float64

# The 2017 code cropped 256 px faces with 48 px of padding: the mean face spans 160 px.
# Extraction still stores its crops so, recording the value in alignments.json.
CROP_COVERAGE = 160 / 256
COVERAGE_2017 = 1.0  # the 2017 model's square: the mean-face square itself, nothing around it
DEFAULT_EYE_WEIGHT = 32.0  # see fit_weights

# A generic head (mm, after the widely used model of learnopencv.com's head-pose tutorial),
# in camera-like axes: x to the image's right, y down, z away from the camera. A frontal
# face then has an identity rotation, so the Euler angles read directly as pitch and yaw.
POSE_POINTS = [30, 8, 36, 45, 48, 54]  # nose tip, chin, outer eye corners, mouth corners
POSE_MODEL = np.array([
    (0.0, 0.0, 0.0),  # nose tip
    (0.0, 330.0, 65.0),  # chin
    (-225.0, -170.0, 135.0),  # outer corner of the image-left eye
    (225.0, -170.0, 135.0),  # outer corner of the image-right eye
    (-150.0, 150.0, 125.0),  # image-left mouth corner
    (150.0, 150.0, 125.0),  # image-right mouth corner
])


def umeyama(src: np.ndarray, dst: np.ndarray, estimate_scale: bool = True,
            weights: np.ndarray | None = None) -> np.ndarray:
    """Least-squares similarity transform taking points `src` (N, 2) onto `dst` (N, 2).

    Returns the 3x3 float64 homogeneous matrix. Umeyama (1991), "Least-squares estimation of
    transformation parameters between two point patterns", with optional per-point `weights`
    (N,); the reflection case is excluded, so a face is never mirrored. Written here because
    no library takes per-point weights (`skimage.transform.SimilarityTransform` and
    `cv2.estimateAffinePartial2D` do not), and the eyes' weight is what makes the alignment
    put every face's eyes in the same place (`fit_weights`).

    Example:
        >>> umeyama([[0, 0], [1, 0]], [[1, 1], [1, 3]]).round(6)[:2]
        array([[ 0., -2.,  1.],
               [ 2.,  0.,  1.]])
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    dim = src.shape[1]
    w = np.ones(len(src)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = (w / w.sum())[:, None]
    src_mean, dst_mean = (w * src).sum(axis=0), (w * dst).sum(axis=0)
    src_demean, dst_demean = src - src_mean, dst - dst_mean
    cov = (w * dst_demean).T @ src_demean
    sign = np.ones(dim)
    if np.linalg.det(cov) < 0:
        sign[-1] = -1
    u, s, vt = np.linalg.svd(cov)
    rotation = u @ np.diag(sign) @ vt
    scale = (s @ sign) / (w * src_demean ** 2).sum() if estimate_scale else 1.0
    transform = np.eye(dim + 1)
    transform[:dim, :dim] = scale * rotation
    transform[:dim, dim] = dst_mean - scale * rotation @ src_mean
    return transform


def fit_weights(eye_weight: float = DEFAULT_EYE_WEIGHT) -> np.ndarray:
    """Weights (51,) of the mean-face points in the alignment fit: eyes count `eye_weight` times.

    With equal weights (the 2017 fit) a face's eyes land 3 px or more from the mean face's in
    half the 256 px crops, because mouth and brows pull the fit. Weighting the twelve eye
    points pins the eyes, so the network always finds them at the same place.
    """
    weights = np.ones(51)
    weights[MEAN_FACE_EYES] = eye_weight
    return weights


def mean_face_points(size: int = 256, coverage: float = CROP_COVERAGE) -> np.ndarray:
    """The 51 mean-face points (float64, (51, 2)) in the pixels of an aligned square of side `size`."""
    padding = size * (1 - coverage) / 2
    return MEAN_FACE * size * coverage + padding


def align_matrix(landmarks: np.ndarray, size: int = 256, coverage: float = CROP_COVERAGE,
                 eye_weight: float = DEFAULT_EYE_WEIGHT) -> np.ndarray:
    """2x3 float64 matrix taking image pixels to aligned-square pixels, from (68, 2) landmarks."""
    return umeyama(landmarks[ALIGN_POINTS], mean_face_points(size, coverage), weights=fit_weights(eye_weight))[:2]


def align(image: np.ndarray, matrix: np.ndarray, size: int = 256) -> np.ndarray:
    """Cut the aligned face (size, size, C) out of `image` with the 2x3 `matrix`; same dtype.

    Pixels outside the image repeat the border, so faces near the edge have no black wedges
    for the network to learn.
    """
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_AREA,
                          borderMode=cv2.BORDER_REPLICATE)


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine `matrix` to (N, 2) points; returns float64 (N, 2)."""
    points = np.asarray(points, dtype=np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def view_coverage(crop_coverage: float, model_coverage: float) -> float:
    """The share of an aligned crop's side that a model's square spans (at most the whole crop).

    The crop's mean face spans `crop_coverage` of it; the model wants it to span
    `model_coverage` of its square, so its square is crop_coverage / model_coverage of the
    crop. 2017: 0.625 / 1.0, the mean-face square itself.

    Example:
        >>> view_coverage(CROP_COVERAGE, 0.8)
        0.78125
    """
    return min(1.0, crop_coverage / model_coverage)


def eye_centres(landmarks: np.ndarray) -> np.ndarray:
    """Centres of the (image-left, image-right) eyes, float64 (2, 2), from (68, 2) landmarks."""
    return np.stack([landmarks[RIGHT_EYE].mean(axis=0), landmarks[LEFT_EYE].mean(axis=0)])


def eye_distance(landmarks: np.ndarray) -> float:
    """Distance between the eye centres, in the landmarks' pixels: the face's own length unit."""
    return float(np.linalg.norm(np.subtract(*eye_centres(landmarks))))


def head_pose(landmarks: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of the face with (68, 2) `landmarks` (any image pixels).

    Fits `POSE_MODEL` to six landmarks with `cv2.solvePnP`. The landmarks are first moved
    into an aligned 256 px crop (without the eye weighting), so the face sits at the centre
    of a virtual camera (focal length 2x the crop): a face at the edge of a wide frame that
    looks into the lens then reads as frontal. Roll comes out near 0 (the alignment removed
    it). Yaw is negative when the face turns towards the image's right; a mirrored face
    gives about the opposite yaw. A six-point generic head is crude: trust differences
    of a few degrees between faces more than absolute angles.
    """
    size = 256
    points = transform_points(landmarks, align_matrix(landmarks, size, eye_weight=1.0))
    camera = np.array([[2 * size, 0, size / 2], [0, 2 * size, size / 2], [0, 0, 1]], dtype=np.float64)
    ok, rotation, _ = cv2.solvePnP(POSE_MODEL, np.ascontiguousarray(points[POSE_POINTS]), camera, None,
                                   flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        raise ValueError("solvePnP found no head pose for these landmarks")
    angles = cv2.RQDecomp3x3(cv2.Rodrigues(rotation)[0])[0]  # degrees about x, y, z
    return float(angles[1]), float(angles[0]), float(angles[2])
