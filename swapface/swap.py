"""Stage 3: put the other person's face on every face of a frame.

For each face: align it to the model's 64 px input with the same matrix as in training,
decode it with the *other* person's decoder, warp the new face back with the inverse
matrix, correct its colour to the frame, and blend it in through a soft mask. All faces
of all frames in a call go through the model in one batch.

Frames are uint8 BGR (H, W, 3). The model's faces are float32 BGR in [0, 1], (64, 64, 3).

Example:
    >>> from swapface import media, saving, swap
    >>> net = saving.load("weights")
    >>> frame = media.read_image("data/trump/c006_f00070.jpg")
    >>> result = swap.swap_frames([frame], net, to="obama")[0]
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import cv2
import numpy as np
from skimage.exposure import match_histograms

from swapface import faces, geometry, model as models, regions, warp

log = logging.getLogger(__name__)

MASKS = ("rect", "hull", "hull+rect", "face", "learned")
# The two ways a model swaps: (source side, target side). "a2b": faces of A drawn by decoder B.
DIRECTIONS = {"a2b": ("a", "b"), "b2a": ("b", "a")}
COLOURS = ("none", "avg", "lab", "hist")


@dataclass(frozen=True)
class SwapSettings:
    """How a decoded face is blended back into its frame."""

    mask: str = "face"  # "rect", "hull" (landmarks), "hull+rect", "face" (hull + forehead, in the square), "learned" (the model's)
    forehead: float = 0.25  # "face" mask: how far above the brows, in brow-to-chin heights (regions.face_outline)
    erode: float = 0.05  # shrink the mask by this share of the face size, so edges stay inside
    feather: float = 0.08  # blur the mask edge over this share of the face size
    colour: str = "lab"  # "none", "avg" (mean shift), "lab" (Reinhard transfer), "hist" (histograms)
    seamless: bool = False  # Poisson (seamless) cloning on top: smooth seams, slower
    faces: faces.FaceSettings = field(default_factory=faces.FaceSettings)  # detection settings

    def __post_init__(self):
        if self.mask not in MASKS:
            raise ValueError(f"unknown mask {self.mask!r}: use one of {', '.join(MASKS)}")
        if self.colour not in COLOURS:
            raise ValueError(f"unknown colour mode {self.colour!r}: use one of {', '.join(COLOURS)}")


def model_input(frame: np.ndarray, matrix: np.ndarray, size: int = 64) -> np.ndarray:
    """The aligned face the model sees: float32 BGR (size, size, 3) in [0, 1]."""
    return warp.to_float(geometry.align(frame, matrix, size))


def paste(frame: np.ndarray, face: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Warp an aligned face (S, S, 3; uint8, or float32 in [0, 1]) into a copy of `frame`.

    The face goes back through the inverse of `matrix`.

    Outside the face square the frame is kept as it was (BORDER_TRANSPARENT). Returns
    float32 (H, W, 3) in 0..255, for blending.
    """
    height, width = frame.shape[:2]
    out = frame.astype(np.float32)
    face = face.astype(np.float32) * (1 if face.dtype == np.uint8 else 255)  # float faces are in [0, 1]
    cv2.warpAffine(face, matrix, (width, height), dst=out, flags=cv2.WARP_INVERSE_MAP | cv2.INTER_CUBIC,
                   borderMode=cv2.BORDER_TRANSPARENT)
    return out


def face_size(matrix: np.ndarray, size: int = 64) -> float:
    """Side in frame pixels of the model's square."""
    return size / float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))


def make_mask(shape: tuple[int, ...], landmarks: np.ndarray, matrix: np.ndarray, kind: str = "face",
              erode: float = 0.05, feather: float = 0.08, size: int = 64, coverage: float = geometry.COVERAGE_2017,
              forehead: float = 0.25, learned: np.ndarray | None = None) -> np.ndarray:
    """Blend weights float32 (H, W) in [0, 1] for one face in a frame of `shape`.

    "rect" is the model's square warped into the frame; "hull" the convex hull of the 68
    landmarks; "hull+rect" their intersection (the 2017 'facehullandrect'); "face" the hull
    raised over the forehead (`regions.face_outline`), inside the square; "learned" the
    decoder's own mask (`learned`, float32 (size, size) in [0, 1]) warped back. Erosion keeps the
    seam off the face's edge; feathering makes it gradual. Both are shares of the face's
    size (the mean face's span, whatever the model's coverage), so they scale with it.
    """
    height, width = shape[:2]
    mask = np.ones((height, width), np.float32)
    if kind == "learned":
        if learned is None:
            raise ValueError("--mask learned needs a model trained with --learned-mask")
        mask = cv2.warpAffine(learned.astype(np.float32), matrix, (width, height),
                              flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                              borderValue=0)
    if "rect" in kind or kind == "face":
        square = np.ones((size, size), np.float32)
        mask = cv2.warpAffine(square, matrix, (width, height), flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if "hull" in kind or kind == "face":
        outline = regions.face_outline(landmarks, forehead) if kind == "face" else landmarks
        mask = mask * regions.hull_mask(shape, outline)
    unit = face_size(matrix, size) * coverage
    if erode > 0:
        radius = max(1, int(round(erode * unit)))
        mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2))
    if feather > 0:
        sigma = max(0.5, feather * unit / 2)
        mask = cv2.GaussianBlur(mask, (0, 0), sigma)
    return np.clip(mask, 0, 1)


def _mean_std(image: np.ndarray, inside: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, std = cv2.meanStdDev(image, mask=inside)
    return mean.ravel(), std.ravel()


def colour_transfer(new: np.ndarray, old: np.ndarray, mask: np.ndarray, mode: str = "lab") -> np.ndarray:
    """Match the colours of `new` to `old` inside `mask`; float32 BGR (H, W, 3) in 0..255 both.

    "avg" shifts the mean of each channel; "lab" (Reinhard et al. 2001) matches the mean and
    spread of each Lab channel, so lighting and skin tone follow the target frame; "hist"
    matches each channel's whole histogram. Returns float32 in 0..255.
    """
    inside = (mask > 0.5).astype(np.uint8)
    if mode == "none" or inside.sum() < 16:
        return new
    if mode == "avg":
        shift = np.array(cv2.mean(old, inside)[:3]) - np.array(cv2.mean(new, inside)[:3])
        return np.clip(new + shift.astype(np.float32), 0, 255)
    if mode == "lab":
        # 8-bit Lab (L*255/100, a+128, b+128) is a lookup table in OpenCV, 20x faster than
        # float Lab; the statistics are linear in it, so the transfer is the same.
        new_lab = cv2.cvtColor(np.clip(new + 0.5, 0, 255).astype(np.uint8), cv2.COLOR_BGR2Lab).astype(np.float32)
        old_lab = cv2.cvtColor(np.clip(old + 0.5, 0, 255).astype(np.uint8), cv2.COLOR_BGR2Lab).astype(np.float32)
        (src_mean, src_std), (dst_mean, dst_std) = _mean_std(new_lab, inside), _mean_std(old_lab, inside)
        scale = (dst_std / np.maximum(src_std, 1e-6)).astype(np.float32)
        matched = (new_lab - src_mean.astype(np.float32)) * scale + dst_mean.astype(np.float32)
        matched = np.clip(matched + 0.5, 0, 255).astype(np.uint8)
        return cv2.cvtColor(matched, cv2.COLOR_Lab2BGR).astype(np.float32)
    if mode == "hist":
        # Every pixel the blend uses (mask > 0) takes the histogram of the old face's pixels.
        out, used = new.copy(), mask > 0
        out[used] = match_histograms(new[used], old[inside.astype(bool)], channel_axis=-1)
        return out
    raise ValueError(f"unknown colour mode {mode!r}: use one of {', '.join(COLOURS)}")


def face_region(shape: tuple[int, ...], matrix: np.ndarray, size: int = 64,
                margin: float = 0.25) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the frame that the model square touches, plus a feathering margin."""
    corners = geometry.transform_points([[0, 0], [size, 0], [0, size], [size, size]],
                                     cv2.invertAffineTransform(matrix))
    pad = margin * face_size(matrix, size)
    x0, y0 = np.floor(corners.min(axis=0) - pad).astype(int)
    x1, y1 = np.ceil(corners.max(axis=0) + pad).astype(int)
    return max(x0, 0), max(y0, 0), min(x1, shape[1]), min(y1, shape[0])


def blend(frame: np.ndarray, decoded: np.ndarray, landmarks: np.ndarray, matrix: np.ndarray,
          settings: SwapSettings = SwapSettings(),
          coverage: float = geometry.COVERAGE_2017) -> np.ndarray:
    """Put one decoded face (S, S, 3 or 4 with its mask, float32 in [0, 1]) into `frame`; returns uint8 BGR.

    `coverage` is the model's (see `face_job`): it sets the face's size in the square.

    Works on the face's region only: masks, colour and blending on a whole 720p frame
    would cost ten times more for the same pixels.
    """
    x0, y0, x1, y1 = face_region(frame.shape, matrix, decoded.shape[0])
    out = frame.copy()
    if x1 <= x0 or y1 <= y0:
        return out
    shifted = matrix.copy()
    shifted[:, 2] += matrix[:, :2] @ [x0, y0]  # the same map, from region pixels
    out[y0:y1, x0:x1] = _blend_region(frame[y0:y1, x0:x1], decoded, landmarks - [x0, y0], shifted, settings,
                                      coverage)
    return out


def _blend_region(region: np.ndarray, decoded: np.ndarray, landmarks: np.ndarray, matrix: np.ndarray,
                  settings: SwapSettings, coverage: float) -> np.ndarray:
    size = decoded.shape[0]
    pasted = paste(region, decoded[..., :3], matrix)
    learned = decoded[..., 3] if decoded.shape[-1] == 4 else None
    mask = make_mask(region.shape, landmarks, matrix, settings.mask, settings.erode, settings.feather, size,
                     coverage, settings.forehead, learned)
    old = region.astype(np.float32)
    pasted = colour_transfer(pasted, old, mask, settings.colour)
    if settings.seamless and (mask > 0.5).any():
        binary = (mask > 0.5).astype(np.uint8) * 255
        x, y, w, h = cv2.boundingRect(binary)
        # seamlessClone needs the mask off the image border; skip faces cut by the frame edge.
        if x > 0 and y > 0 and x + w < region.shape[1] and y + h < region.shape[0]:
            pasted = cv2.seamlessClone(np.clip(pasted, 0, 255).astype(np.uint8), region, binary,
                                       (x + w // 2, y + h // 2), cv2.NORMAL_CLONE).astype(np.float32)
    out = old * (1 - mask[..., None]) + pasted * mask[..., None]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class FaceJob:
    """One face to swap: which frame it is in, its landmarks (68, 2) and model matrix (2, 3)."""

    frame: int
    landmarks: np.ndarray
    matrix: np.ndarray  # frame pixels -> the model's square: see `face_job`


def face_job(frame: int, landmarks: np.ndarray, model_settings: models.ModelSettings) -> FaceJob:
    """The one way to cut a face for a model: its size and the coverage it was trained at.

    The matrix maps frame pixels to the model's `image_size` square with the mean face
    spanning its central `coverage`, exactly as training cut its inputs from the aligned
    crops. A face framed any other way is one the model never saw (a tighter crop makes
    a smaller, different face), so every caller, photo, video, evaluation, builds its jobs here.

    Example:
        >>> from swapface import media
        >>> frame = media.read_image("data/trump/c006_f00070.jpg")
        >>> job = face_job(0, faces.largest_face(frame).landmarks, models.get_preset("lite"))
        >>> geometry.align(frame, job.matrix, 64).shape  # what the lite model encodes
        (64, 64, 3)
    """
    landmarks = np.asarray(landmarks, np.float64)
    matrix = geometry.align_matrix(landmarks, model_settings.image_size, coverage=model_settings.coverage)
    return FaceJob(frame, landmarks, matrix)


def find_jobs(frames: list[np.ndarray], model_settings: models.ModelSettings, settings: SwapSettings = SwapSettings(),
              identity: faces.IdentityFilter | None = None) -> list[FaceJob]:
    """Every face to swap in `frames` (only those `identity` accepts, if given), cut for the model."""
    jobs = []
    for index, frame in enumerate(frames):
        for face in faces.find_faces(frame, settings.faces):
            if identity is not None and not identity.accepts(faces.descriptor(frame, face.landmarks)):
                continue
            jobs.append(face_job(index, face.landmarks, model_settings))
    return jobs


def decode_jobs(frames: list[np.ndarray], jobs: list[FaceJob], net: models.FaceSwapModel,
                to: str, mask: bool = False) -> np.ndarray:
    """Decode every job's face with the decoder of `to` in ONE batched model call.

    Returns float32 (len(jobs), S, S, 3) in [0, 1]; with `mask`, (.., 4): the learned mask last.
    """
    size = net.settings.image_size
    inputs = np.stack([model_input(frames[j.frame], j.matrix, size) for j in jobs]) if jobs else \
        np.zeros((0, size, size, 3), np.float32)
    return models.encode_decode(net, inputs, to, mask=mask)


def swap_frames(frames: list[np.ndarray], net: models.FaceSwapModel, to: str,
                settings: SwapSettings = SwapSettings(), identity: faces.IdentityFilter | None = None,
                jobs: list[FaceJob] | None = None) -> list[np.ndarray]:
    """Swap every face in `frames` (uint8 BGR) to person `to` ("a", "b" or a stored name).

    `jobs` lets a caller (the video stage) supply smoothed landmarks instead of detecting.
    Returns uint8 BGR frames; the inputs are never modified (a frame without a face to
    swap comes back as the same array).
    """
    if jobs is None:
        jobs = find_jobs(frames, net.settings, settings, identity)
    if settings.mask == "learned" and not net.settings.learned_mask:
        raise ValueError("--mask learned needs a model trained with --learned-mask; this one has no mask output")
    decoded = decode_jobs(frames, jobs, net, to, mask=settings.mask == "learned")
    out = list(frames)  # blend returns a new array: no copy needed up front
    for job, face in zip(jobs, decoded):
        out[job.frame] = blend(out[job.frame], face, job.landmarks, job.matrix, settings, net.settings.coverage)
    return out
