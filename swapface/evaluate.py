"""Measured quality of a swap: identity moved, expression and pose kept, faces redrawn, no flicker.

* identity: dlib's 128-d descriptor of the face in each swapped frame, compared with
  reference descriptors of both people. A good A->B swap looks like B to a face
  recogniser: nearer B's references than A's.
* expression and pose: the swap should change who, not how. The landmarks of the swapped
  face should sit where the input's were (error in inter-ocular distances), and the head
  pose (yaw, pitch from `cv2.solvePnP`) should not move.
* reconstruction: how well each decoder redraws its own person (A->A, B->B), as SSIM and
  mean absolute error on the 64 px faces the model sees.
* temporal stability: frame-to-frame change inside the face, swapped video over input
  video. 1 means the swap adds no flicker.

Frames are uint8 BGR (H, W, 3); model faces float32 BGR (64, 64, 3) in [0, 1]. Results
are plain dicts of floats and lists, ready for JSON.

Example:
    >>> from swapface import evaluate, saving
    >>> net = saving.load("weights")
    >>> results = evaluate.evaluate(net, ["data/obama"], ["data/trump"])  # even frames swapped, odd ones references
    >>> results["a2b"]["frames"], results["a2b"]["to"]
    (4, 'trump')
    >>> 0 <= results["a2b"]["recognised"] <= 1  # the share of swaps dlib recognises as Trump
    True
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from matplotlib.figure import Figure
from skimage.metrics import structural_similarity

from swapface import faces, figures, media, model as models, swap, video, videoio, warp
from swapface.faces import largest_face  # also used as evaluate.largest_face by notebook 4

log = logging.getLogger(__name__)

INNER = slice(17, 68)  # brows, eyes, nose, mouth: what the swap redraws (the jaw is the frame's)

@dataclass(frozen=True)
class EvalSettings:
    """What the evaluation swaps and how it measures."""

    swap_settings: swap.SwapSettings = field(default_factory=swap.SwapSettings)  # detection and blending, as `convert`
    ssim_sigma: float = 1.5  # std of SSIM's Gaussian window in pixels (Wang et al. 2004)
    video_frames: int = 90  # frames of a clip checked for flicker (they are held in memory)
    examples: int = 3  # before/after faces per direction for the report figure


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


# --- Identity -------------------------------------------------------------------------------------

def _readable(paths: list[str | Path], skipped: list | None):
    """(path, uint8 BGR image) of each image in `paths` that reads; the others are logged and
    added to `skipped` as (file, reason): one bad frame must not stop an evaluation."""
    for path in media.list_inputs(paths):
        try:
            if media.is_video(path):  # a folder of held-out frames may hold the clip they came from
                raise media.MediaError(path, "a video, not a frame (give one clip with --video)")
            yield path, media.read_image(path)
        except media.MediaError as err:
            log.warning("%s: skipped", err)
            if skipped is not None:
                skipped.append((str(path), err.reason))


def reference_set(paths: list[str | Path], skipped: list | None = None) -> np.ndarray:
    """Descriptors (N, 128) float64 of the largest face in each image file or folder of images.

    A file without a face is skipped with a warning (held-out frames include blinks and
    turns), an unreadable one too (and listed in `skipped`); ValueError if no file gives a
    face, since nothing could be compared.
    """
    descriptors = []
    for path, image in _readable(paths, skipped):
        face = largest_face(image)
        if face is None:
            log.warning("%s: no face found, not used as a reference", path)
            continue
        descriptors.append(faces.descriptor(image, face.landmarks))
    if not descriptors:
        raise ValueError(f"no face found in the reference images {[str(p) for p in paths]}")
    return np.array(descriptors).reshape(-1, 128)


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


# --- Detail ---------------------------------------------------------------------------------------

def inner_face_mask(shape: tuple[int, ...], landmarks: np.ndarray, erode: float = 0.1) -> np.ndarray:
    """bool (H, W): the hull of landmarks 17-67 (brows to mouth), eroded by `erode` eye distances.

    Eroded so that the blend's seam, and the frame around the face, are not measured.
    """
    mask = faces.hull_mask(shape, landmarks[INNER])
    radius = int(round(erode * float(np.linalg.norm(np.subtract(*faces.eye_centres(landmarks))))))
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


# --- Expression and pose --------------------------------------------------------------------------

def landmark_error(before: np.ndarray, after: np.ndarray) -> float:
    """Mean distance between landmarks 17-67 of two (68, 2) sets, in inter-ocular distances.

    The unit is the distance between the eye centres of `before`, so the error does not
    depend on the face's size in the frame; 0.05 is about a pixel or two at 854x480.
    """
    interocular = float(np.linalg.norm(np.subtract(*faces.eye_centres(before))))
    return float(np.linalg.norm(after[INNER] - before[INNER], axis=1).mean() / interocular)


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
        pose_in, pose_out = faces.head_pose(points), faces.head_pose(face.landmarks)
        yaws.append(abs(pose_out[0] - pose_in[0]))
        pitches.append(abs(pose_out[1] - pose_in[1]))
    return {"landmark_error": _mean(errors), "yaw_difference": _mean(yaws), "pitch_difference": _mean(pitches),
            "landmark_errors": errors}


# --- Reconstruction -------------------------------------------------------------------------------

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


def reconstruction_scores(net: models.FaceSwapModel, inputs: np.ndarray, side: str, sigma: float = 1.5) -> dict:
    """SSIM and MAE of `side`'s autoencoder redrawing model inputs (N, 64, 64, 3) of its own person."""
    outputs = models.encode_decode(net, inputs, side)
    return {"faces": len(inputs), "ssim": _mean([ssim(x, y, sigma) for x, y in zip(inputs, outputs)]),
            "mae": _mean([mae(x, y) for x, y in zip(inputs, outputs)])}


# --- Temporal stability ---------------------------------------------------------------------------

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
    return _mean(changes)


def flicker_ratio(inputs: list[np.ndarray], outputs: list[np.ndarray], masks: list[np.ndarray]) -> dict:
    """Face change of the swapped frames over that of the input frames (1: no added flicker)."""
    before, after = face_change(inputs, masks), face_change(outputs, masks)
    return {"input_change": before, "output_change": after, "flicker_ratio": after / before if before else float("nan")}


def swap_clip(net: models.FaceSwapModel, clip: str | Path, to: str, settings: EvalSettings = EvalSettings(),
              video_settings: video.VideoSettings = video.VideoSettings()) -> tuple[list, list, list]:
    """(inputs, outputs, landmarks) for the first `settings.video_frames` frames of `clip`.

    Faces are tracked and smoothed as `video.convert_video` does, but the frames stay in
    memory: writing and re-reading an mp4 would add the encoder's own noise to the change.
    `landmarks[t]` lists the (68, 2) sets swapped in frame t.
    """
    tracker = video.FaceTracker(video_settings, settings.swap_settings.faces)
    size = net.settings.image_size
    inputs, outputs, landmarks = [], [], []
    for index, frame in videoio.iter_frames(clip):
        if index >= settings.video_frames:
            break
        points = tracker.step(frame)
        jobs = [swap.FaceJob(0, p, swap.input_matrix(p, size, net.settings.coverage)) for p in points]
        outputs.append(swap.swap_frames([frame], net, to, settings.swap_settings, jobs=jobs)[0])
        inputs.append(frame)
        landmarks.append(points)
    return inputs, outputs, landmarks


def temporal_scores(net: models.FaceSwapModel, clip: str | Path, to: str,
                    settings: EvalSettings = EvalSettings()) -> dict:
    """Flicker of swapping `clip` to `to`: see `flicker_ratio`."""
    inputs, outputs, landmarks = swap_clip(net, clip, to, settings)
    masks = [faces.hull_mask(frame.shape, points).astype(bool) for frame, points in zip(inputs, landmarks)]
    return {"clip": str(clip), "frames": len(inputs), "to": to, **flicker_ratio(inputs, outputs, masks)}


# --- Whole evaluations ----------------------------------------------------------------------------

def swap_images(net: models.FaceSwapModel, paths: list[str | Path], to: str,
                settings: EvalSettings = EvalSettings(), skipped: list | None = None
                ) -> tuple[list, list, list[swap.FaceJob]]:
    """(inputs, outputs, jobs) for the largest face of each image with a face, swapped to `to`.

    One face per image: held-out frames show one person, and the identity score is per frame.
    Unreadable files are left out and listed in `skipped` as (file, reason).
    """
    inputs, jobs = [], []
    size = net.settings.image_size
    for path, image in _readable(paths, skipped):
        face = largest_face(image, settings.swap_settings.faces)
        if face is None:
            log.warning("%s: no face found, not evaluated", path)
            continue
        jobs.append(swap.FaceJob(len(inputs), face.landmarks, swap.input_matrix(face.landmarks, size, net.settings.coverage)))
        inputs.append(image)
    outputs = swap.swap_frames(inputs, net, to, settings.swap_settings, jobs=jobs)
    return inputs, outputs, jobs


def job_inputs(frames: list[np.ndarray], jobs: list[swap.FaceJob], size: int = 64) -> np.ndarray:
    """The model inputs (N, size, size, 3) float32 of the jobs' faces: what the swap encoded."""
    inputs = [swap.model_input(frames[job.frame], job.matrix, size) for job in jobs]
    return np.stack(inputs) if inputs else np.zeros((0, size, size, 3), np.float32)


def identity_check(net: models.FaceSwapModel, frames_a: list[str | Path], frames_b: list[str | Path],
                   refs_a: np.ndarray, refs_b: np.ndarray, settings: EvalSettings = EvalSettings()) -> dict:
    """The demo weights' acceptance check, per direction: the strict `recognised` share of
    swapped held-out frames (see `identity_scores`), the lenient `share_target`, median
    distances and the median `detail_ratio`.

    `refs_a`, `refs_b` are (N, 128) descriptors (`reference_set`) of frames other than
    those evaluated. Returns {"a2b": {...}, "b2a": {...}}.
    """
    result = {}
    for key, paths, to, target, source in (("a2b", frames_a, "b", refs_b, refs_a),
                                           ("b2a", frames_b, "a", refs_a, refs_b)):
        inputs, outputs, jobs = swap_images(net, paths, to, settings)
        scores = identity_scores(outputs, target, source)
        result[key] = {name: scores[name] for name in CEILING_KEYS if name in scores}
        result[key]["radius"] = scores["radius"]
        result[key]["detail_ratio"] = _median(detail_ratios(inputs, outputs, [job.landmarks for job in jobs]))
    return result


def evaluate(net: models.FaceSwapModel, frames_a: list[str | Path], frames_b: list[str | Path],
             refs_a: list[str | Path] | None = None, refs_b: list[str | Path] | None = None,
             clip: str | Path | None = None, settings: EvalSettings = EvalSettings()) -> dict:
    """Every measure, both directions: A's frames swapped to B, B's to A (files or folders).

    Without `refs_a` (`refs_b`) the frames of A (B) are split: even positions evaluated,
    odd ones the references. Each direction reports the strict `recognised` share (within
    the target's calibrated radius and nearer the target), the lenient `share_target`,
    median distances, the `detail_ratio` (median) and, as `ceiling`, the same scores for a
    perfect decoder (`ceiling_scores`). Reconstruction (A->A, B->B) is measured on the model
    inputs of the evaluated frames. `clip`, if given, is swapped to B for the flicker ratio.
    """
    split = {"a": refs_a is None, "b": refs_b is None}
    if refs_a is None:
        frames_a, refs_a = split_references(frames_a)
    if refs_b is None:
        frames_b, refs_b = split_references(frames_b)
    skipped = []  # (file, reason) of unreadable frames: reported, never fatal
    descs = {"a": reference_set(refs_a, skipped), "b": reference_set(refs_b, skipped)}
    radius = {side: recognition_radius(descs[side]) for side in "ab"}
    names = dict(zip("ab", net.names))
    results = {"model": {"preset": net.settings.name, "names": list(net.names), "coverage": net.settings.coverage},
               "references": {side: {"faces": len(descs[side]), "radius": radius[side],
                                     "split": "even/odd" if split[side] else "given"} for side in "ab"},
               "reconstruction": {}, "skipped": skipped}
    frames = {"a": frames_a, "b": frames_b}
    for key, source, target in (("a2b", "a", "b"), ("b2a", "b", "a")):
        inputs, outputs, jobs = swap_images(net, frames[source], target, settings, skipped)
        found = [largest_face(image) for image in outputs]  # detected once for both measures
        landmarks = [job.landmarks for job in jobs]
        results[key] = {"from": names[source], "to": names[target], "frames": len(inputs),
                        **identity_scores(outputs, descs[target], descs[source], found, radius[target]),
                        **geometry_scores(inputs, outputs, landmarks, found),
                        "detail_ratio": _median(detail_ratios(inputs, outputs, landmarks))}
        ceiling = ceiling_scores(inputs, landmarks, frames[target], descs[target], descs[source],
                                 net.settings, settings, radius[target])
        results[key]["ceiling"] = {name: ceiling[name] for name in CEILING_KEYS}
        results["reconstruction"][source] = reconstruction_scores(
            net, job_inputs(inputs, jobs, net.settings.image_size), source, settings.ssim_sigma)
    if clip is not None:
        results["video"] = temporal_scores(net, clip, "b", settings)
    return results


CEILING_KEYS = ("outputs", "found", "recognised", "share_target", "median_to_target", "median_to_source",
                "detail_ratio")


def ceiling_scores(inputs: list[np.ndarray], landmarks: list[np.ndarray], target_frames: list[str | Path],
                   target_refs: np.ndarray, source_refs: np.ndarray, model_settings: models.ModelSettings,
                   settings: EvalSettings = EvalSettings(), radius: float | None = None) -> dict:
    """The scores a perfect decoder would get: real faces of the target pasted in instead.

    Each input face (uint8 BGR frame, (68, 2) landmarks) gets the target face of the
    nearest head pose among `target_frames` (frames not among `target_refs`), cut at the
    model's size and coverage and blended with the same mask and colour settings as a swap.
    For `mask="learned"` the perfect mask is the donor face's own outline (`faces.region_weights`).
    No trained model can score above this: coverage and mask decide it.
    """
    size, coverage = model_settings.image_size, model_settings.coverage
    donors = []
    for path, image in _readable(target_frames, None):  # unreadable ones: already reported by evaluate
        face = largest_face(image, settings.swap_settings.faces)
        if face is not None:
            matrix = swap.input_matrix(face.landmarks, size, coverage)
            decoded = swap.model_input(image, matrix, size)
            if settings.swap_settings.mask == "learned":
                outline = faces.region_weights((size, size), faces.transform_points(face.landmarks, matrix)) > 0
                decoded = np.concatenate([decoded, outline[..., None].astype(np.float32)], axis=-1)
            donors.append((np.array(faces.head_pose(face.landmarks)[:2]), decoded))
    if not donors:
        raise ValueError("no face found in the target frames for the ceiling check")
    poses = np.stack([pose for pose, _ in donors])
    outputs = []
    for frame, points in zip(inputs, landmarks):
        nearest = int(np.argmin(np.linalg.norm(poses - np.array(faces.head_pose(points)[:2]), axis=1)))
        matrix = swap.input_matrix(points, size, coverage)
        outputs.append(swap.blend(frame, donors[nearest][1], points, matrix, settings.swap_settings, coverage))
    return {**identity_scores(outputs, target_refs, source_refs, radius=radius),
            "detail_ratio": _median(detail_ratios(inputs, outputs, landmarks)), "images": outputs}


def _median(values: list[float]) -> float:
    return float(np.median(values)) if len(values) else float("nan")


def example_faces(net: models.FaceSwapModel, paths: list[str | Path], to: str, settings: EvalSettings = EvalSettings(),
             size: int = 128) -> list[tuple[np.ndarray, np.ndarray]]:
    """(before, after) aligned faces, uint8 BGR (size, size, 3), of the first `settings.examples`
    images swapped to `to`: wider than the model's crop, so the blend's seam shows."""
    inputs, outputs, jobs = swap_images(net, media.list_inputs(paths)[:settings.examples], to, settings)
    pairs = []
    for job in jobs:
        matrix = faces.align_matrix(job.landmarks, size)
        pairs.append((faces.align(inputs[job.frame], matrix, size), faces.align(outputs[job.frame], matrix, size)))
    return pairs


# --- Reporting ------------------------------------------------------------------------------------

def _jsonable(value):
    """`value` with numpy types as plain numbers and lists, and NaN (nothing measured) as None:
    strict JSON has no NaN, and other readers choke on it."""
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, (np.ndarray, np.generic)):
        return _jsonable(value.tolist())
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def write_report(results: dict, path: str | Path) -> Path:
    """Write `results` as indented JSON, atomically (a crash leaves the old file or the new)."""
    path = Path(path)
    media.write_bytes_atomic(path, (json.dumps(_jsonable(results), indent=2, allow_nan=False) + "\n").encode())
    return path


def _fmt(value: float | None, spec: str) -> str:
    # NaN in memory and None in a reloaded metrics.json both mean "nothing measured"
    return "n/a" if value is None or not np.isfinite(value) else format(value, spec)


def report_figure(results: dict, examples: dict[str, list[tuple[np.ndarray, np.ndarray]]] | None = None) -> Figure:
    """One page: identity share per direction, distance histograms, before/after faces.

    `examples` maps "a2b" and "b2a" to (before, after) uint8 BGR faces (`example_faces`).
    The dashed line is the target's recognition radius (`recognition_radius`).
    """
    examples = examples or {}
    names = results["model"]["names"]
    fig = Figure(figsize=(10, 7.5), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1, 1.1])
    share, *hists = top.subplots(1, 3)
    keys = [key for key in ("a2b", "b2a") if key in results]
    labels = [f"{results[k]['from']} -> {results[k]['to']}" for k in keys]
    x = np.arange(len(keys))
    for offset, (measure, label, colour) in enumerate((("recognised", "recognised as target", "tab:blue"),
                                                       ("share_target", "nearer target", "tab:cyan"),
                                                       ("ceiling", "ceiling (real face pasted)", "0.7"))):
        values = [results[k]["ceiling"]["recognised"] if measure == "ceiling" and "ceiling" in results[k]
                  else results[k].get(measure, float("nan")) if measure != "ceiling" else float("nan") for k in keys]
        bars = share.bar(x + (offset - 1) * 0.27, values, 0.27, color=colour, label=label)
        share.bar_label(bars, fmt="{:.0%}", fontsize=7)
    share.set_xticks(x, labels)
    share.legend(fontsize=6, loc="lower right")
    share.set_ylim(0, 1.1)
    share.set_title("identity: share of swaps", fontsize=9)
    for ax, key in zip(hists, keys):
        r = results[key]
        bins = np.linspace(0, 1.2, 25)
        ax.hist(r["to_target"], bins, alpha=0.6, label=f"to {r['to']}")
        ax.hist(r["to_source"], bins, alpha=0.6, label=f"to {r['from']}")
        ax.axvline(r["radius"], color="0.3", linewidth=0.8, linestyle="--", label=f"radius {r['radius']:.2f}")
        ax.set_title(f"{r['from']} -> {r['to']}: distance to centroids", fontsize=9)
        ax.set_xlabel("descriptor distance", fontsize=8)
        if r["found"]:
            ax.legend(fontsize=7)
        else:
            ax.text(0.5, 0.5, "no face found in the swaps", ha="center", va="center", transform=ax.transAxes)
    for ax in (share, *hists):
        ax.tick_params(labelsize=7)
    rec = results.get("reconstruction", {})
    notes = [f"{name} -> {name}: SSIM {_fmt(rec[side]['ssim'], '.3f')}, MAE {_fmt(rec[side]['mae'], '.3f')}"
             for side, name in zip("ab", names) if side in rec]
    notes += [f"{r['from']} -> {r['to']}: detail ratio {_fmt(r.get('detail_ratio'), '.2f')}, landmark error "
              f"{_fmt(r['landmark_error'], '.3f')} IOD, yaw {_fmt(r['yaw_difference'], '.1f')} deg"
              for r in (results[k] for k in keys)]
    if "video" in results:
        notes.append(f"flicker ratio {_fmt(results['video']['flicker_ratio'], '.2f')}")
    top.suptitle("\n".join(notes), fontsize=8)
    rows = [(key, examples[key]) for key in keys if examples.get(key)]
    if rows:
        columns = 2 * max(len(pairs) for _, pairs in rows)
        axes = bottom.subplots(len(rows), columns, squeeze=False)
        for row_axes, (key, pairs) in zip(axes, rows):
            images = [image for pair in pairs for image in pair]
            for column, ax in enumerate(row_axes):
                ax.set_axis_off()
                if column < len(images):
                    ax.imshow(figures.rgb(images[column]))
                    ax.set_title(results[key]["from"] if column % 2 == 0 else f"-> {results[key]['to']}", fontsize=7)
    return figures.mark_synthetic(fig)  # it shows swapped faces: `figures.save` labels it


def summary(results: dict) -> str:
    """A few lines for the terminal: identity shares, geometry, reconstruction, flicker."""
    lines = []
    for key in ("a2b", "b2a"):
        r = results[key]
        ceiling = r.get("ceiling", {})
        lines.append(f"{r['from']} -> {r['to']}: {_fmt(r['recognised'], '.0%')} of {r['frames']} swapped faces "
                     f"recognised as {r['to']} (radius {_fmt(r['radius'], '.2f')}; ceiling "
                     f"{_fmt(ceiling.get('recognised'), '.0%')}), {_fmt(r['share_target'], '.0%')} nearer {r['to']}; "
                     f"median distance {_fmt(r['median_to_target'], '.2f')} to {r['to']}, "
                     f"{_fmt(r['median_to_source'], '.2f')} to {r['from']}; detail ratio "
                     f"{_fmt(r.get('detail_ratio'), '.2f')} ({r['found']} found again); "
                     f"landmark error {_fmt(r['landmark_error'], '.3f')} IOD, "
                     f"yaw {_fmt(r['yaw_difference'], '.1f')} deg, pitch {_fmt(r['pitch_difference'], '.1f')} deg")
    for side, name in zip("ab", results["model"]["names"]):
        r = results["reconstruction"][side]
        lines.append(f"{name} -> {name} (reconstruction): SSIM {_fmt(r['ssim'], '.3f')}, "
                     f"MAE {_fmt(r['mae'], '.3f')} on {r['faces']} faces")
    if "video" in results:
        v = results["video"]
        lines.append(f"video {v['clip']}: flicker ratio {_fmt(v['flicker_ratio'], '.2f')} over {v['frames']} frames")
    lines += [f"skipped {name}: {why}" for name, why in results.get("skipped", [])]
    return "\n".join(lines)


# --- Notebook 4's steps, one call each ------------------------------------------------------------

DIRECTIONS = {"a2b": ("a", "b"), "b2a": ("b", "a")}  # (source, target) side of each swap direction


def before_after(inputs: list[np.ndarray], outputs: list[np.ndarray], jobs: list[swap.FaceJob],
                 size: int = 128) -> list[tuple[np.ndarray, np.ndarray]]:
    """(before, after) faces of each job, aligned as in training and `size` px wide (uint8 BGR):
    wider than the model's square, so the blend's edge shows."""
    pairs = []
    for job in jobs:
        matrix = faces.align_matrix(job.landmarks, size)
        pairs.append((faces.align(inputs[job.frame], matrix, size), faces.align(outputs[job.frame], matrix, size)))
    return pairs


def identity_map_figure(identity: dict[str, dict], untouched: dict[str, dict], names: dict[str, str]) -> Figure:
    """Every face as a point: its descriptor's distance to A's centroid (x) and to B's (y).

    `identity` maps "a2b", "b2a" to `identity_scores` of the swaps; `untouched` maps "a", "b"
    to `identity_scores` of the input frames with their own person as the "target". Circles
    are real frames, crosses swaps; the dashed lines are each person's recognition radius:
    a swap to B is *recognised* below B's line and under the diagonal.
    """
    def coordinates(scores: dict, target: str) -> tuple[list[float], list[float]]:
        return (scores["to_target"], scores["to_source"]) if target == "a" else (scores["to_source"], scores["to_target"])

    fig = Figure(figsize=(5.6, 4.8), layout="constrained")
    ax = fig.subplots()
    colours = {"a": "tab:blue", "b": "tab:orange"}
    for side in "ab":
        ax.scatter(*coordinates(untouched[side], side), marker="o", s=40, facecolors="none", edgecolors=colours[side],
                   label=f"{names[side]}, untouched")
    for key, (source, target) in DIRECTIONS.items():
        ax.scatter(*coordinates(identity[key], target), marker="X", s=50, color=colours[source],
                   label=f"{names[source]} -> {names[target]}")
    limit = 1.2
    ax.plot([0, limit], [0, limit], color="0.5", linewidth=0.8)
    ax.axvline(identity["b2a"]["radius"], color="tab:blue", linestyle="--", linewidth=0.8)
    ax.axhline(identity["a2b"]["radius"], color="tab:orange", linestyle="--", linewidth=0.8)
    ax.set(xlim=(0, limit), ylim=(0, limit), xlabel=f"distance to {names['a']}'s centroid",
           ylabel=f"distance to {names['b']}'s centroid")
    ax.text(0.03, limit - 0.03, f"nearer {names['a']}", fontsize=8, va="top")
    ax.text(limit - 0.03, 0.03, f"nearer {names['b']}", fontsize=8, ha="right")
    ax.legend(fontsize=7, loc="lower left")
    return fig


def landmark_shift_figure(swaps: dict[str, tuple[list, list, list]], found: dict[str, list],
                          names: dict[str, str], size: int = 64) -> Figure:
    """The first swap of each direction with the input's landmarks (dots) and those found
    in the swap (crosses): how far the swap moved the eyes, brows and mouth."""
    fig = Figure(figsize=(6.4, 3.4), layout="constrained")
    ax = None
    for ax, (key, (inputs, outputs, jobs)) in zip(fig.subplots(1, len(swaps), squeeze=False)[0], swaps.items()):
        ax.set_axis_off()
        if not jobs:
            continue
        x0, y0, x1, y1 = swap.face_region(outputs[jobs[0].frame].shape, jobs[0].matrix, size)
        ax.imshow(figures.rgb(outputs[jobs[0].frame][y0:y1, x0:x1]))
        ax.scatter(*(jobs[0].landmarks[INNER] - [x0, y0]).T, s=8, c="tab:blue", label="input's landmarks")
        if found[key][0] is not None:
            ax.scatter(*(found[key][0].landmarks[INNER] - [x0, y0]).T, s=12, c="tab:red", marker="x",
                       label="found in the swap")
        source, target = DIRECTIONS[key]
        ax.set_title(f"{names[source]} -> {names[target]}", fontsize=9)
    if ax is not None:
        fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=2, fontsize=7)
    return figures.mark_synthetic(fig)


def clip_masks(frames: list[np.ndarray], landmarks: list[list[np.ndarray]]) -> list[np.ndarray]:
    """bool (H, W) per frame: the landmark hulls of the faces swapped in it (`swap_clip`'s third list)."""
    masks = []
    for frame, points in zip(frames, landmarks):
        mask = np.zeros(frame.shape[:2], bool)
        for face_points in ([points] if np.ndim(points) == 2 else points):
            mask |= faces.hull_mask(frame.shape, face_points).astype(bool)
        masks.append(mask)
    return masks


def face_changes(frames: list[np.ndarray], masks: list[np.ndarray]) -> list[float]:
    """Per pair of consecutive frames: the mean change inside the face (see `face_change`)."""
    return [float(cv2.absdiff(frames[t], frames[t - 1])[masks[t] | masks[t - 1]].mean())
            if (masks[t] | masks[t - 1]).any() else float("nan") for t in range(1, len(frames))]


def flicker_figure(curves: dict[str, tuple[list[np.ndarray], list[np.ndarray]]]) -> Figure:
    """Frame-to-frame change inside the face, one curve per (frames, masks): input and swaps."""
    fig = Figure(figsize=(6.4, 2.8), layout="constrained")
    ax = fig.subplots()
    for label, (frames, masks) in curves.items():
        ax.plot(range(1, len(frames)), face_changes(frames, masks), label=label)
    ax.set(xlabel="frame", ylabel="mean change inside the face (0-255)")
    ax.legend(fontsize=7)
    return fig


def _lab_inside(frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame.astype(np.float32) / 255, cv2.COLOR_BGR2Lab)[mask]  # (pixels, 3)


def colour_ablation(net: models.FaceSwapModel, swaps: dict[str, tuple[list, list, list]],
                    refs: dict[str, np.ndarray], colours: tuple[str, ...] = ("none", "avg", "lab"),
                    settings: EvalSettings = EvalSettings()) -> tuple[dict, dict]:
    """The same swaps blended again with each colour mode; (rows, recoloured frames).

    `swaps` maps "a2b", "b2a" to `swap_images` results, `refs` "a", "b" to descriptors.
    Per colour mode, over both directions: the CIE76 distance (delta E) between the mean
    Lab colour inside the face mask of the swapped and of the original frame, the same
    for the colours' spreads (standard deviations), the strict `recognised` share and the
    lenient share nearer the target, and the mean distance to the target's centroid.
    `recoloured[colour][key]` are the blended frames.
    """
    import dataclasses

    size, coverage = net.settings.image_size, net.settings.coverage
    masks = {key: [swap.make_mask(frame.shape, job.landmarks, job.matrix, size=size, coverage=coverage) > 0.5
                   for frame, job in zip(inputs, jobs)] for key, (inputs, _, jobs) in swaps.items()}
    before = [_lab_inside(inputs[job.frame], mask) for key, (inputs, _, jobs) in swaps.items()
              for job, mask in zip(jobs, masks[key])]
    rows, recoloured = {}, {}
    for colour in colours:
        blend_settings = dataclasses.replace(settings.swap_settings, color=colour)
        recoloured[colour] = {key: swap.swap_frames(swaps[key][0], net, DIRECTIONS[key][1], blend_settings,
                                                    jobs=swaps[key][2]) for key in swaps}
        after = [_lab_inside(recoloured[colour][key][job.frame], mask) for key, (_, _, jobs) in swaps.items()
                 for job, mask in zip(jobs, masks[key])]
        scores = [identity_scores(recoloured[colour][key], refs[DIRECTIONS[key][1]], refs[DIRECTIONS[key][0]])
                  for key in swaps]
        outputs = max(1, sum(s["outputs"] for s in scores))
        rows[colour] = {
            "colour difference (delta E)": _mean([float(np.linalg.norm(a.mean(axis=0) - b.mean(axis=0)))
                                                  for a, b in zip(after, before)]),
            "spread difference": _mean([float(np.linalg.norm(a.std(axis=0) - b.std(axis=0)))
                                        for a, b in zip(after, before)]),
            "recognised as target": sum(s["recognised"] * s["outputs"] for s in scores) / outputs,
            "share nearer target": sum(s["share_target"] * s["outputs"] for s in scores) / outputs,
            "distance to target": _mean([d for s in scores for d in s["to_target"]]),
        }
    return rows, recoloured


def ablation_table(rows: dict[str, dict]) -> str:
    """`colour_ablation`'s rows as a fixed-width text table."""
    lines = [f"{'colour':8}{'delta E':>9}{'spread':>8}{'recognised':>12}{'nearer':>8}{'to target':>11}"]
    lines += [f"{colour:8}{row['colour difference (delta E)']:9.1f}{row['spread difference']:8.1f}"
              f"{row['recognised as target']:12.0%}{row['share nearer target']:8.0%}{row['distance to target']:11.3f}"
              for colour, row in rows.items()]
    return "\n".join(lines)


def model_view(net: models.FaceSwapModel, crops: np.ndarray, folder: str | Path | None = None) -> np.ndarray:
    """Aligned crops (uint8 BGR (N, S, S, 3), from `swapface extract` into `folder`) as `net` sees them:
    float32 (N, size, size, 3) model inputs at its size and coverage, undistorted, as training cuts them."""
    from swapface import extract, warp

    crop = extract.crop_coverage(folder) if folder is not None else faces.DEFAULT_COVERAGE
    settings = warp.WarpSettings(size=net.settings.image_size, coverage=min(1.0, crop / net.settings.coverage))
    return warp.model_inputs(crops[..., :3], settings)
