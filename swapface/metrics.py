"""What a swap is measured by: pure functions of frames, landmarks and face descriptors.

* identity: dlib's 128-d descriptor of the face in each swapped frame, compared with
  reference descriptors of both people. A swap to B counts as *recognised* when its
  descriptor lies within B's recognition radius and nearer B than A.
* detail: the swapped face's fine detail (variance of the Laplacian) over the replaced one's.
* expression and pose: the swap should change who, not how. The landmarks of the swapped
  face should sit where the input's were (error in inter-ocular distances), and the head
  pose (yaw, pitch from `cv2.solvePnP`) should not move.
* reconstruction: SSIM and mean absolute error between a face and its redrawing.
* temporal stability: frame-to-frame change inside the face, swapped video over input
  video. 1 means the swap adds no flicker.

`swapface.evaluate` runs the swaps these measure. Frames are uint8 BGR (H, W, 3); model
faces float32 BGR (64, 64, 3) in [0, 1].

Example: a blur keeps the structure (SSIM 0.96) but takes away nearly all the fine detail
a 64 px face lacks too (detail ratio 0.02):
    >>> import cv2
    >>> from swapface import faces, media, metrics
    >>> frame = media.read_image("data/obama/c000_f00000.jpg")
    >>> face = faces.largest_face(frame)
    >>> metrics.ssim(frame, frame), metrics.landmark_error(face.landmarks, face.landmarks)
    (1.0, 0.0)
    >>> blurred = cv2.GaussianBlur(frame, (0, 0), 2)
    >>> round(metrics.ssim(frame, blurred), 2), [round(r, 2) for r in metrics.detail_ratios([frame], [blurred], [face.landmarks])]
    (0.96, [0.02])
"""

from __future__ import annotations

import io
import logging
import zipfile
from pathlib import Path

import cv2
import numpy as np
from skimage.metrics import structural_similarity

from swapface import faces, files, geometry, media, regions, warp
from swapface.faces import largest_face

log = logging.getLogger(__name__)


def mean_or_nan(values: list[float]) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def reference_set(paths: list[str | Path], skipped: list | None = None) -> np.ndarray:
    """Descriptors (N, 128) float64 of the largest face in each image file or folder of images.

    A file without a face is skipped with a warning (held-out frames include blinks and
    turns), an unreadable one too (and listed in `skipped`); ValueError if no file gives a
    face, since nothing could be compared.
    """
    descriptors = []
    for path, image in media.readable_frames(paths, skipped):
        face = largest_face(image)
        if face is None:
            log.warning("%s: no face found, not used as a reference", path)
            continue
        descriptors.append(faces.descriptor(image, face.landmarks))
    if not descriptors:
        raise ValueError(f"no face found in the reference images {[str(p) for p in paths]}")
    return np.array(descriptors).reshape(-1, 128)


def save_references(path: str | Path, descriptors: dict[str, np.ndarray]) -> Path:
    """Write each person's (N, 128) reference descriptors to an .npz (float32), atomically.

    A descriptor is what the recogniser keeps of a face: 128 numbers, not a picture. Saved
    once from a person's footage, they give every later evaluation the same references.
    """
    buffer = io.BytesIO()
    np.savez(buffer, **{name: np.asarray(values, np.float32).reshape(-1, 128) for name, values in descriptors.items()})
    return files.write_bytes_atomic(path, buffer.getvalue())


def load_references(path: str | Path) -> dict[str, np.ndarray]:
    """{person: (N, 128) float64 descriptors} from a `save_references` file; MediaError if it is not one."""
    path = Path(path)
    media.regular_file(path)
    with open(path, "rb") as handle:  # named for what it is: numpy's own message talks of pickles
        head = handle.read(6)
        if not head.startswith((b"PK\x03\x04", b"\x93NUMPY")):  # an .npz (a zip) or an .npy
            raise media.MediaError(path, "not a references file (not an .npz archive of descriptors)")
    try:
        file = np.load(path, allow_pickle=False)  # no pickles: loading runs no code
        if not isinstance(file, np.lib.npyio.NpzFile):
            raise ValueError("one array, not an .npz of people")
        with file:
            loaded = {name: file[name].astype(np.float64) for name in file.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise media.MediaError(path, f"not a references file ({err})") from err
    for name, values in loaded.items():
        if values.ndim != 2 or values.shape[1] != 128 or len(values) < 2:
            raise media.MediaError(path, f"{name}: shape {values.shape} is not two or more 128-number descriptors")
        if not np.isfinite(values).all():  # NaN distances compare false: every swap would count as not recognised
            raise media.MediaError(path, f"{name}: {int((~np.isfinite(values)).any(axis=1).sum())} descriptors "
                                         "hold NaN or infinite numbers")
    return loaded


def split_references(paths: list[str | Path]) -> tuple[list[Path], list[Path]]:
    """(evaluated, references): the sorted frames at even positions, then those at odd ones.

    References must not be the evaluated frames themselves (a frame is at distance ~0 from
    its own descriptor); alternate frames of the same held-out clips are the nearest
    independent stand-in when no other photos are given.
    """
    files = media.list_inputs(paths)
    return files[0::2], files[1::2]


RADIUS_PERCENTILE = 95  # genuine faces of a person lie this often within the radius of their centroid


def recognition_radius(refs: np.ndarray, percentile: float = RADIUS_PERCENTILE) -> float:
    """How far apart genuine faces of one person lie: the `percentile` of the leave-one-out
    distances among the references (each reference to every other one).

    Calibrated from the references, not dlib's generic 0.6: about 0.5 on the White House
    frames, where faces of two different people lie about 0.8 apart. A swap within it of
    the target's centroid is as close to the person as two real photos of them are to
    each other.

    Example:
        >>> recognition_radius(np.array([[0.0, 0.0], [0.3, 0.0], [0.0, 0.4]]), percentile=100)
        0.5
    """
    refs = np.asarray(refs, np.float64)
    if len(refs) < 2:
        log.warning("one reference face cannot calibrate a radius: using dlib's customary %.1f", faces.SAME_PERSON)
        return faces.SAME_PERSON
    distances = np.linalg.norm(refs[:, None] - refs[None], axis=-1)
    return float(np.percentile(distances[~np.eye(len(refs), dtype=bool)], percentile))


def identity_scores(outputs: list[np.ndarray], target_refs: np.ndarray, source_refs: np.ndarray,
                    found: list[faces.Face | None] | None = None, radius: float | None = None) -> dict:
    """How far the face in each swapped frame (uint8 BGR) is from the target and the source.

    `to_*` are distances to each person's centroid (mean reference descriptor). The
    headline, `recognised`, is the strict share: outputs within `radius` of the target's
    centroid (default: `recognition_radius(target_refs)`) *and* nearer the target than the
    source. `share_target` (nearer the target's centroid) is the lenient one: a third,
    unrelated person passes it two times in three. `share_target_mean` compares mean
    distances to all references. An output with no face found counts as a failure (the
    swap destroyed the face). `found` passes the outputs' faces when the caller has them.
    """
    radius = recognition_radius(target_refs) if radius is None else radius
    centroids = target_refs.mean(axis=0), source_refs.mean(axis=0)
    result = {"outputs": len(outputs), "found": 0, "radius": radius, "to_target": [], "to_source": [],
              "mean_to_target": [], "mean_to_source": []}
    found = [largest_face(image) for image in outputs] if found is None else found
    for image, face in zip(outputs, found):
        if face is None:
            continue
        desc = faces.descriptor(image, face.landmarks)
        result["found"] += 1
        result["to_target"].append(float(np.linalg.norm(desc - centroids[0])))
        result["to_source"].append(float(np.linalg.norm(desc - centroids[1])))
        result["mean_to_target"].append(float(np.linalg.norm(target_refs - desc, axis=1).mean()))
        result["mean_to_source"].append(float(np.linalg.norm(source_refs - desc, axis=1).mean()))
    count = max(len(outputs), 1)
    pairs = list(zip(result["to_target"], result["to_source"]))
    result["recognised"] = sum(t <= radius and t < s for t, s in pairs) / count
    result["share_target"] = sum(t < s for t, s in pairs) / count
    result["share_target_mean"] = sum(t < s for t, s in zip(result["mean_to_target"], result["mean_to_source"])) / count
    result["median_to_target"] = float(np.median(result["to_target"])) if pairs else float("nan")
    result["median_to_source"] = float(np.median(result["to_source"])) if pairs else float("nan")
    return result


def inner_face_mask(shape: tuple[int, ...], landmarks: np.ndarray, erode: float = 0.1) -> np.ndarray:
    """bool (H, W): the hull of landmarks 17-67 (brows to mouth), eroded by `erode` eye distances.

    Eroded so that the blend's seam, and the frame around the face, are not measured.
    """
    mask = regions.hull_mask(shape, landmarks[geometry.INNER])
    radius = int(round(erode * geometry.eye_distance(landmarks)))
    if radius > 0:
        mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2))
    return mask.astype(bool)


def sharpness(image: np.ndarray, mask: np.ndarray) -> float:
    """Variance of the Laplacian of `image` (uint8 BGR) inside bool `mask`: fine detail."""
    laplacian = cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.CV_64F)
    return float(laplacian[mask].var()) if mask.any() else float("nan")


def detail_ratios(inputs: list[np.ndarray], outputs: list[np.ndarray], landmarks: list[np.ndarray]) -> list[float]:
    """Per frame: the swapped face's detail over the replaced face's (1: as sharp as the frame).

    Both measured inside the input's eroded inner-face hull (`inner_face_mask`).
    """
    ratios = []
    for before, after, points in zip(inputs, outputs, landmarks):
        mask = inner_face_mask(before.shape, points)
        base = sharpness(before, mask)
        if np.isfinite(base) and base > 0:
            ratios.append(sharpness(after, mask) / base)
    return ratios


EVIDENCE = ("detail", "seam", "colour")  # what `swap_evidence` measures, in this order


def swap_evidence(image: np.ndarray, landmarks: np.ndarray) -> dict[str, float]:
    """What gives a 2017-style swap away, measured on one face of a frame (no model needed).

    Three regions from the face's own landmarks (68, 2): the inner face (`inner_face_mask`:
    brows to mouth, where a swap redraws), the *outline band* just inside the landmark hull
    (jaw and cheeks, where the blend's seam runs), and a *ring* just outside it (hair, ears,
    collar: always the frame's own), the band and ring each 0.4 eye distances wide.

    * `detail`: log of the inner face's fine detail (variance of the Laplacian) over the
      ring's. A decoded 64 px face pasted over a 200 px one is soft: about -3 for this
      project's swaps, about 0 for a real face.
    * `seam`: log of the outline band's detail over the inner face's: the frame's own jaw,
      sharp, around a soft redrawn centre (negative on a real face, whose eyes and mouth
      hold the most detail).
    * `colour`: CIE76 delta E between the mean Lab colours of the inner face and the band.

    Returns {"detail": .., "seam": .., "colour": ..} (NaN where a region is empty).

    Example:
        >>> import cv2
        >>> frame = media.read_image("data/obama/c000_f00000.jpg")
        >>> points = largest_face(frame).landmarks
        >>> blurred = frame.copy()
        >>> inner = inner_face_mask(frame.shape, points, erode=0)
        >>> blurred[inner] = cv2.GaussianBlur(frame, (0, 0), 3)[inner]  # a soft inner face, as a swap's
        >>> swap_evidence(blurred, points)["detail"] < swap_evidence(frame, points)["detail"] - 1
        True
    """
    inner = inner_face_mask(image.shape, landmarks)
    hull = regions.hull_mask(image.shape, landmarks)
    width = int(round(0.4 * geometry.eye_distance(landmarks)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * max(width, 1) + 1,) * 2)
    ring = (cv2.dilate(hull, kernel) > 0) & (hull == 0)
    band = (hull > 0) & (cv2.erode(hull, kernel) == 0) & ~inner
    detail = {name: sharpness(image, region) for name, region in (("inner", inner), ("ring", ring), ("band", band))}
    lab = cv2.cvtColor(image, cv2.COLOR_BGR2LAB).astype(np.float64) * [100 / 255, 1, 1]  # L in 0-100, a and b
    colour = float(np.linalg.norm(lab[inner].mean(axis=0) - lab[band].mean(axis=0))) if inner.any() and band.any() \
        else float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):
        return {"detail": float(np.log(detail["inner"] / detail["ring"])),
                "seam": float(np.log(detail["band"] / detail["inner"])), "colour": colour}


def landmark_error(before: np.ndarray, after: np.ndarray) -> float:
    """Mean distance between landmarks 17-67 of two (68, 2) sets, in inter-ocular distances.

    The unit is the distance between the eye centres of `before`, so the error does not
    depend on the face's size in the frame; 0.05 is about a pixel or two at 854x480.
    """
    interocular = geometry.eye_distance(before)
    return float(np.linalg.norm(after[geometry.INNER] - before[geometry.INNER], axis=1).mean() / interocular)


def geometry_scores(inputs: list[np.ndarray], outputs: list[np.ndarray], landmarks: list[np.ndarray],
                    found: list[faces.Face | None] | None = None) -> dict:
    """Landmark error and |yaw|, |pitch| change between each input face and its swap.

    `landmarks` (68, 2) are the input faces' (those the swap was aligned with); the output
    frames' landmarks are detected afresh (or passed in `found`). Outputs with no face
    found are left out.
    """
    errors, yaws, pitches = [], [], []
    found = [largest_face(image) for image in outputs] if found is None else found
    for before, after, points, face in zip(inputs, outputs, landmarks, found):
        if face is None:
            continue
        errors.append(landmark_error(points, face.landmarks))
        pose_in, pose_out = geometry.head_pose(points), geometry.head_pose(face.landmarks)
        yaws.append(abs(pose_out[0] - pose_in[0]))
        pitches.append(abs(pose_out[1] - pose_in[1]))
    return {"landmark_error": mean_or_nan(errors), "yaw_difference": mean_or_nan(yaws), "pitch_difference": mean_or_nan(pitches),
            "landmark_errors": errors}


def ssim(x: np.ndarray, y: np.ndarray, sigma: float = 1.5) -> float:
    """Structural similarity of two images (uint8, or float in [0, 1]) of one shape, in [-1, 1].

    scikit-image's implementation with the settings of Wang et al. (2004): a Gaussian window
    (11x11 for sigma 1.5), K1 0.01, K2 0.03, a [0, 1] range, averaged over channels and over
    the pixels whose window lies inside the image.
    """
    x, y = warp.to_float(x), warp.to_float(y)
    return float(structural_similarity(x, y, gaussian_weights=True, sigma=sigma, use_sample_covariance=False,
                                       data_range=1.0, channel_axis=-1 if x.ndim == 3 else None))


def mae(x: np.ndarray, y: np.ndarray) -> float:
    """Mean absolute error of two images (uint8, or float in [0, 1]), on the [0, 1] scale."""
    return float(np.abs(warp.to_float(x) - warp.to_float(y)).mean())


def face_change(frames: list[np.ndarray], masks: list[np.ndarray]) -> float:
    """Mean absolute change (0..255) between consecutive uint8 frames, inside the face.

    Pixels count where frame t or t-1 has a face (`masks[t] | masks[t-1]`, bool (H, W)),
    so a face that moves is measured over both of its places.
    """
    changes = []
    for t in range(1, len(frames)):
        inside = masks[t] | masks[t - 1]
        if inside.any():
            diff = cv2.absdiff(frames[t], frames[t - 1])
            changes.append(float(diff[inside].mean()))
    return mean_or_nan(changes)


def flicker_ratio(inputs: list[np.ndarray], outputs: list[np.ndarray], masks: list[np.ndarray]) -> dict:
    """Face change of the swapped frames over that of the input frames (1: no added flicker)."""
    before, after = face_change(inputs, masks), face_change(outputs, masks)
    return {"input_change": before, "output_change": after, "flicker_ratio": after / before if before else float("nan")}


def median_or_nan(values: list[float]) -> float:
    return float(np.median(values)) if len(values) else float("nan")


def clip_masks(frames: list[np.ndarray], landmarks: list[list[np.ndarray]]) -> list[np.ndarray]:
    """bool (H, W) per frame: the landmark hulls of the faces swapped in it (`swap_clip`'s third list)."""
    masks = []
    for frame, points in zip(frames, landmarks):
        mask = np.zeros(frame.shape[:2], bool)
        for face_points in ([points] if np.ndim(points) == 2 else points):
            mask |= regions.hull_mask(frame.shape, face_points).astype(bool)
        masks.append(mask)
    return masks


def face_changes(frames: list[np.ndarray], masks: list[np.ndarray]) -> list[float]:
    """Per pair of consecutive frames: the mean change inside the face (see `face_change`)."""
    return [float(cv2.absdiff(frames[t], frames[t - 1])[masks[t] | masks[t - 1]].mean())
            if (masks[t] | masks[t - 1]).any() else float("nan") for t in range(1, len(frames))]
