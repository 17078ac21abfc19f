"""Stage 1: find faces with dlib, put its 68 landmarks on them, tell people apart.

Images are uint8 BGR arrays of shape (H, W, 3), as OpenCV reads them. dlib wants RGB (for
identity descriptors) or grayscale (for detection and landmarks), so we convert at the call.
Each face found comes with the matrix that aligns it to the mean face
(`swapface.geometry`, which needs no dlib); `IdentityFilter` keeps one person's faces.

Example:
    >>> from swapface import faces, geometry, media
    >>> image = media.read_image("data/obama/c000_f00000.jpg")
    >>> found = faces.find_faces(image)
    >>> crop = geometry.align(image, found[0].matrix, size=256)
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

from swapface import geometry

log = logging.getLogger(__name__)

DETECTORS = ("hog", "cnn")  # dlib's HOG + linear SVM, and its CNN (mmod)
SAME_PERSON = 0.6  # dlib's customary descriptor distance under which two faces are one person

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
    coverage: float = geometry.CROP_COVERAGE  # share of the crop's side that the mean face spans
    eye_weight: float = geometry.DEFAULT_EYE_WEIGHT  # weight of the eye points in the fit (1 = the 2017 fit)

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
                          matrix=geometry.align_matrix(points, settings.size, settings.coverage, settings.eye_weight),
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
