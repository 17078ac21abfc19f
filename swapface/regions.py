"""Which pixels of a face are which: hulls of landmarks, the face's outline, eyes and mouth.

Landmarks are float64 (68, 2) (x, y) pixels of the image (or aligned crop) whose `shape`
(H, W, ...) is given; masks come back as uint8 (H, W). A swap masks with these regions
(`swapface.swap`), the masked loss weighs with them (`swapface.losses`) and the metrics
measure inside them (`swapface.metrics`).

Example:
    >>> from swapface import geometry
    >>> points = np.vstack([np.zeros((17, 2)), geometry.mean_face_points(64)])
    >>> weights = region_weights((64, 64), points)
    >>> sorted(np.unique(weights).tolist())  # off the face, on it, eyes and mouth
    [0, 128, 255]
"""

from __future__ import annotations

import cv2
import numpy as np

from swapface import geometry

FACE_WEIGHT = 128  # region_weights on the face: half of the eyes' and mouth's
FEATURE_WEIGHT = 255  # region_weights on the eyes and mouth: where a viewer looks first


def face_outline(landmarks: np.ndarray, forehead: float = 0.25) -> np.ndarray:
    """The face's outline, float64 (K, 2): the 68 landmarks plus the brows raised over the forehead.

    dlib's points stop at the brows, so a hull of them leaves the forehead, and with it
    much of the face's shape, to the original person. The brows are copied upwards, along
    the face's own vertical axis, by `forehead` times the brow-to-chin height.
    """
    landmarks = np.asarray(landmarks, dtype=np.float64)
    brows = landmarks[geometry.BROWS]
    chin = landmarks[8]
    up = brows.mean(axis=0) - chin  # from chin to brows: "up" for this face, whatever its roll
    return np.concatenate([landmarks, brows + forehead * up])


def hull_mask(shape: tuple[int, ...], points: np.ndarray | list[np.ndarray]) -> np.ndarray:
    """uint8 (H, W) of 0 and 1: the union of the convex hulls of the point sets given.

    `points` is one (K, 2) array or a list of them, in the pixels of an image of `shape`.
    """
    mask = np.zeros(shape[:2], np.uint8)
    for group in ([points] if isinstance(points, np.ndarray) else points):
        cv2.fillConvexPoly(mask, cv2.convexHull(np.round(group).astype(np.int32)), 1)
    return mask


def features_mask(shape: tuple[int, ...], landmarks: np.ndarray) -> np.ndarray:
    """uint8 (H, W) of 0 and 1: eyes and mouth, their hulls grown by a tenth of the eye distance.

    Grown so that lids and lips, which the landmarks only outline, are in.
    """
    grow = max(1, int(round(0.1 * geometry.eye_distance(landmarks))))
    features = hull_mask(shape, [landmarks[geometry.RIGHT_EYE], landmarks[geometry.LEFT_EYE],
                                 landmarks[geometry.MOUTH]])
    return cv2.dilate(features, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1,) * 2))


def region_weights(shape: tuple[int, ...], landmarks: np.ndarray, forehead: float = 0.25) -> np.ndarray:
    """uint8 (H, W): 0 off the face, 128 on it (forehead included), 255 on the eyes and mouth.

    The weight map of the masked loss (`swapface.losses`), as uint8 so that it travels
    as a fourth channel of the uint8 BGR faces and warps with them.
    """
    weights = hull_mask(shape, face_outline(landmarks, forehead)) * np.uint8(FACE_WEIGHT)
    weights[features_mask(shape, landmarks) > 0] = FEATURE_WEIGHT
    return weights
