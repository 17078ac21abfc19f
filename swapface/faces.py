"""Stage 1: find faces, put 68 landmarks on them and align them to the mean face.

Images are uint8 BGR arrays of shape (H, W, 3), as OpenCV reads them. dlib wants RGB (for
identity descriptors) or grayscale (for detection and landmarks), so we convert at the call.

The alignment is the one the original deepfakes code used: a similarity transform
(rotation, uniform scale, translation) fitted with Umeyama's method from landmarks 17-67
(brows, eyes, nose, mouth; the jaw line is left out because it moves with pose) to a
51-point mean face. The same 2x3 matrix later pastes the swapped face back.

Example:
    >>> from swapface import faces, media
    >>> image = media.read_image("data/obama/c000_f00000.jpg")
    >>> found = faces.find_faces(image)
    >>> crop = faces.align(image, found[0].matrix, size=256)
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import logging
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import dlib
import numpy as np

from swapface.warp import DEFAULT_COVERAGE, umeyama  # noqa: F401 - geometry lives in warp; re-exported

log = logging.getLogger(__name__)

# The 51-point mean face of the 2017 deepfakes code (landmarks 17-67 of dlib's 68-point
# scheme), in a unit square. Aligned crops map this square onto their central `coverage`.
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

# Index ranges in dlib's 68-point scheme (the person's right eye is on the image's left).
RIGHT_EYE = slice(36, 42)
LEFT_EYE = slice(42, 48)
ALIGN_POINTS = slice(17, 68)  # the points that MEAN_FACE describes
INNER = ALIGN_POINTS  # brows, eyes, nose, mouth: also what a swap redraws (the jaw is the frame's)

DETECTORS = ("hog", "cnn")  # dlib's HOG + linear SVM, and its CNN (mmod)
SAME_PERSON = 0.6  # dlib's customary descriptor distance under which two faces are one person
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


MAX_UPSAMPLE = 3  # dlib upsampling levels allowed: each one makes the detection copy 4x larger
MAX_DETECT_PIXELS = 64_000_000  # pixels of the upsampled detection copy (~1 GB in dlib's pyramid)

_MODEL_FILES = {
    "landmarks": "shape_predictor_68_face_landmarks.dat",
    "descriptor": "dlib_face_recognition_resnet_model_v1.dat",
    "cnn": "mmod_human_face_detector.dat",
}


@dataclass(frozen=True)
class FaceSettings:
    """How faces are detected and aligned."""

    detector: str = "hog"  # "hog" (fast, CPU) or "cnn" (dlib's mmod: slower, finds harder poses)
    detect_width: int = 640  # detect on a copy this wide (0 = full size); landmarks use full size
    upsample: int = 0  # times dlib upsamples the detection copy; finds faces under ~80 px
    size: int = 256  # side of the aligned crop in pixels
    coverage: float = DEFAULT_COVERAGE  # share of the crop's side that the mean face spans
    eye_weight: float = DEFAULT_EYE_WEIGHT  # weight of the eye points in the fit (1 = the 2017 fit)

    def __post_init__(self):
        if not 0 <= self.upsample <= MAX_UPSAMPLE:
            raise ValueError(f"upsample {self.upsample}: use 0 to {MAX_UPSAMPLE} (each level needs 4x the memory)")
        if self.detector not in DETECTORS:
            raise ValueError(f"unknown detector {self.detector!r}: use one of {', '.join(DETECTORS)}")
        if self.detect_width < 0 or self.size < 1:
            raise ValueError(f"detect_width {self.detect_width} and size {self.size} must be positive (0: full width)")


@dataclass(frozen=True)
class Face:
    """One face in one image: where it is and how to align it.

    `box` is (left, top, right, bottom) in image pixels, `landmarks` is (68, 2) float64 (x, y)
    in image pixels, and `matrix` is the 2x3 float64 affine that maps image pixels to the
    pixels of the aligned crop of side `size`.
    """

    box: tuple[int, int, int, int]
    landmarks: np.ndarray
    matrix: np.ndarray
    size: int

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]


def model_path(name: str) -> Path:
    """Path of one of dlib's model files shipped by the `face-recognition-models` package.

    We find the package with `importlib` rather than importing it: its `__init__` needs
    `pkg_resources`, which current setuptools no longer ships.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the face-recognition-models package is not installed: pip install face-recognition-models")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / _MODEL_FILES[name]
    if not path.is_file():
        raise FileNotFoundError(f"{path}: dlib model file missing (reinstall face-recognition-models>=0.3)")
    return path


@functools.lru_cache(maxsize=None)
def _detector(kind: str):
    if kind == "hog":
        return dlib.get_frontal_face_detector()
    if kind == "cnn":
        return dlib.cnn_face_detection_model_v1(str(model_path("cnn")))
    raise ValueError(f"unknown detector {kind!r}: use 'hog' or 'cnn'")


@functools.lru_cache(maxsize=None)
def _predictor():
    return dlib.shape_predictor(str(model_path("landmarks")))


@functools.lru_cache(maxsize=None)
def _encoder():
    return dlib.face_recognition_model_v1(str(model_path("descriptor")))


def fit_weights(eye_weight: float = DEFAULT_EYE_WEIGHT) -> np.ndarray:
    """Weights (51,) of the mean-face points in the alignment fit: eyes count `eye_weight` times.

    With equal weights (the 2017 fit) a face's eyes land 3 px or more from the mean face's in
    half the 256 px crops, because mouth and brows pull the fit. Weighting the twelve eye
    points pins the eyes, so the network always finds them at the same place.
    """
    weights = np.ones(51)
    weights[RIGHT_EYE.start - 17: LEFT_EYE.stop - 17] = eye_weight
    return weights


def mean_face_points(size: int = 256, coverage: float = DEFAULT_COVERAGE) -> np.ndarray:
    """The 51 mean-face points (float64, (51, 2)) in the pixels of an aligned crop of side `size`."""
    padding = size * (1 - coverage) / 2
    return MEAN_FACE * size * coverage + padding


def align_matrix(landmarks: np.ndarray, size: int = 256, coverage: float = DEFAULT_COVERAGE,
                 eye_weight: float = DEFAULT_EYE_WEIGHT) -> np.ndarray:
    """2x3 float64 matrix taking image pixels to aligned-crop pixels, from (68, 2) landmarks."""
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


MOUTH = slice(48, 68)


def face_outline(landmarks: np.ndarray, forehead: float = 0.25) -> np.ndarray:
    """The face's outline, float64 (K, 2): the 68 landmarks plus the brows raised over the forehead.

    dlib's points stop at the brows, so a hull of them leaves the forehead, and with it
    much of the face's shape, to the original person. The brows (17-26) are copied upwards,
    along the face's own vertical axis, by `forehead` times the brow-to-chin height.
    """
    landmarks = np.asarray(landmarks, dtype=np.float64)
    brows = landmarks[17:27]
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


def region_weights(shape: tuple[int, ...], landmarks: np.ndarray, forehead: float = 0.25) -> np.ndarray:
    """uint8 (H, W): 0 off the face, 128 on it (forehead included), 255 on the eyes and mouth.

    The weight map of the masked loss (`swapface.losses`). Eyes and mouth are their
    landmark hulls grown by a tenth of the eye distance, so lids and lips are in.
    """
    weights = hull_mask(shape, face_outline(landmarks, forehead)) * np.uint8(128)
    grow = max(1, int(round(0.1 * float(np.linalg.norm(np.subtract(*eye_centres(landmarks)))))))
    features = hull_mask(shape, [landmarks[RIGHT_EYE], landmarks[LEFT_EYE], landmarks[MOUTH]])
    features = cv2.dilate(features, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1,) * 2))
    weights[features > 0] = 255
    return weights


def eye_centres(landmarks: np.ndarray) -> np.ndarray:
    """Centres of the (image-left, image-right) eyes, float64 (2, 2), from (68, 2) landmarks."""
    return np.stack([landmarks[RIGHT_EYE].mean(axis=0), landmarks[LEFT_EYE].mean(axis=0)])


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


def to_gray(image: np.ndarray) -> np.ndarray:
    """uint8 BGR (H, W, 3) or gray (H, W) to a contiguous uint8 gray (H, W)."""
    if image.ndim == 2:
        return np.ascontiguousarray(image)
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def detection_scale(width: int, height: int, settings: FaceSettings = FaceSettings()) -> float:
    """The scale of the copy the detector runs on: at most `detect_width` wide, and small
    enough that dlib's upsampling (4x the pixels per level) stays under MAX_DETECT_PIXELS."""
    scale = settings.detect_width / width if settings.detect_width and width > settings.detect_width else 1.0
    upsampled = width * height * scale * scale * 4 ** settings.upsample
    if upsampled > MAX_DETECT_PIXELS:
        scale *= (MAX_DETECT_PIXELS / upsampled) ** 0.5
    return scale


def detect(gray: np.ndarray, settings: FaceSettings = FaceSettings()) -> list[tuple[int, int, int, int]]:
    """Face boxes (left, top, right, bottom) in the pixels of `gray` (uint8, (H, W)).

    For speed the detector runs on a copy `settings.detect_width` wide: HOG cost grows with
    the pixel count, and a 720p frame holds faces far larger than the detector's 80 px window.
    """
    height, width = gray.shape[:2]
    scale = detection_scale(width, height, settings)
    small = gray
    if scale != 1.0:
        # At least a pixel each way: a 5000x1 strip would otherwise shrink to nothing.
        small = cv2.resize(gray, (max(1, round(width * scale)), max(1, round(height * scale))),
                           interpolation=cv2.INTER_AREA)
    found = _detector(settings.detector)(small, settings.upsample)
    if settings.detector == "cnn":
        found = [d.rect for d in found]
    boxes = []
    for rect in found:
        box = (rect.left() / scale, rect.top() / scale, rect.right() / scale, rect.bottom() / scale)
        boxes.append(tuple(int(round(v)) for v in box))
    return boxes


def landmarks(gray: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The 68 dlib landmarks (float64, (68, 2), x then y) of the face in `box` of `gray`."""
    shape = _predictor()(gray, dlib.rectangle(*box))
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


def find_faces(image: np.ndarray, settings: FaceSettings = FaceSettings()) -> list[Face]:
    """Every face in `image` (uint8 BGR (H, W, 3) or gray), left to right."""
    gray = to_gray(image)
    found = []
    for box in sorted(detect(gray, settings)):
        points = landmarks(gray, box)
        found.append(Face(box=box, landmarks=points,
                          matrix=align_matrix(points, settings.size, settings.coverage, settings.eye_weight),
                          size=settings.size))
    return found


def descriptor(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """dlib's 128-d identity descriptor (float64, (128,)) of the face with (68, 2) `points`.

    `image` is uint8 BGR (H, W, 3). Two photos of one person are usually under 0.6 apart
    (Euclidean), two people over it.
    """
    rgb = np.ascontiguousarray(image[..., ::-1]) if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    rect = dlib.rectangle(int(x0), int(y0), int(x1), int(y1))
    shape = dlib.full_object_detection(rect, [dlib.point(int(round(x)), int(round(y))) for x, y in points])
    return np.array(_encoder().compute_face_descriptor(rgb, shape), dtype=np.float64)


@dataclass(frozen=True)
class IdentityFilter:
    """Keeps faces near the reference descriptors (and away from the excluded ones).

    `references` and `excluded` are (N, 128) float64 descriptors; `threshold` is dlib's
    customary 0.6: a face is "the same person" when any reference is nearer than that.
    """

    references: np.ndarray
    excluded: np.ndarray = field(default_factory=lambda: np.zeros((0, 128)))
    threshold: float = SAME_PERSON

    def __post_init__(self):
        if len(self.references) == 0:
            raise ValueError("an identity filter needs at least one reference descriptor")

    def distance(self, desc: np.ndarray) -> float:
        """Distance of one descriptor to the nearest reference."""
        return float(np.linalg.norm(self.references - desc, axis=1).min())

    def accepts(self, desc: np.ndarray) -> bool:
        distance = self.distance(desc)
        if distance >= self.threshold:
            return False
        # A face nearer to an excluded person than to every reference is not ours.
        return not len(self.excluded) or float(np.linalg.norm(self.excluded - desc, axis=1).min()) > distance


def largest_face(image: np.ndarray, settings: FaceSettings = FaceSettings()) -> Face | None:
    """The widest face in uint8 BGR `image`, or None.

    Retries on the full-size image upsampled once (same detector), so small or tightly
    cropped faces, as reference photos and aligned crops often are, are found too.
    """
    found = find_faces(image, settings) or find_faces(image, dataclasses.replace(settings, detect_width=0, upsample=1))
    return max(found, key=lambda face: face.width) if found else None


def reference_descriptors(images: list[np.ndarray], names: list[str],
                          settings: FaceSettings = FaceSettings()) -> np.ndarray:
    """Descriptors (N, 128) of the largest face in each reference image.

    Raises ValueError naming the file when a reference photo has no face, since a filter
    built from nothing would silently drop every face.
    """
    descs = []
    for image, name in zip(images, names):
        face = largest_face(image, settings)
        if face is None:
            raise ValueError(f"{name}: no face found in the reference photo")
        descs.append(descriptor(image, face.landmarks))
    return np.array(descs).reshape(-1, 128)
