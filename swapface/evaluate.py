"""Measured quality of a swap, run end to end: held-out frames and a clip swapped both ways.

Each direction's swaps are measured with `swapface.metrics` (identity moved, detail kept,
expression and pose kept, no added flicker); each decoder's redrawing of its own person
gives the reconstruction scores, and pasting a *real* face of the target with the same
mask gives the ceiling the metric allows. `swapface.report` writes the results down.

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

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from swapface import faces, geometry, media, metrics, model as models, regions, swap, video, videoio

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalSettings:
    """What the evaluation swaps and how it measures."""

    swap_settings: swap.SwapSettings = field(default_factory=swap.SwapSettings)  # detection and blending, as `convert`
    ssim_sigma: float = 1.5  # std of SSIM's Gaussian window in pixels (Wang et al. 2004)
    video_frames: int = 90  # frames of a clip checked for flicker (they are held in memory)


def swap_images(net: models.FaceSwapModel, paths: list[str | Path], to: str,
                settings: EvalSettings = EvalSettings(), skipped: list | None = None
                ) -> tuple[list, list, list[swap.FaceJob]]:
    """(inputs, outputs, jobs) for the largest face of each image with a face, swapped to `to`.

    One face per image: held-out frames show one person, and the identity score is per frame.
    Unreadable files are left out and listed in `skipped` as (file, reason).
    """
    inputs, jobs = [], []
    for path, image in media.readable_frames(paths, skipped):
        face = faces.largest_face(image, settings.swap_settings.faces)
        if face is None:
            log.warning("%s: no face found, not evaluated", path)
            continue
        jobs.append(swap.face_job(len(inputs), face.landmarks, net.settings))
        inputs.append(image)
    outputs = swap.swap_frames(inputs, net, to, settings.swap_settings, jobs=jobs)
    return inputs, outputs, jobs


CEILING_KEYS = ("outputs", "found", "recognised", "share_target", "median_to_target", "median_to_source",
                "detail_ratio")


def ceiling_scores(inputs: list[np.ndarray], landmarks: list[np.ndarray], target_frames: list[str | Path],
                   target_refs: np.ndarray, source_refs: np.ndarray, model_settings: models.ModelSettings,
                   settings: EvalSettings = EvalSettings(), radius: float | None = None) -> dict:
    """The scores a perfect decoder would get: real faces of the target pasted in instead.

    Each input face (uint8 BGR frame, (68, 2) landmarks) gets the target face of the
    nearest head pose among `target_frames` (frames not among `target_refs`), cut at the
    model's size and coverage and blended with the same mask and colour settings as a swap.
    For `mask="learned"` the perfect mask is the donor face's own outline (`regions.region_weights`).
    No trained model can score above this: coverage and mask decide it.
    """
    size, coverage = model_settings.image_size, model_settings.coverage
    donors = []
    for path, image in media.readable_frames(target_frames, None):  # unreadable ones: already reported by evaluate
        face = faces.largest_face(image, settings.swap_settings.faces)
        if face is not None:
            matrix = swap.face_job(0, face.landmarks, model_settings).matrix
            decoded = swap.model_input(image, matrix, size)
            if settings.swap_settings.mask == "learned":
                outline = regions.region_weights((size, size), geometry.transform_points(face.landmarks, matrix)) > 0
                decoded = np.concatenate([decoded, outline[..., None].astype(np.float32)], axis=-1)
            donors.append((np.array(geometry.head_pose(face.landmarks)[:2]), decoded))
    if not donors:
        raise ValueError("no face found in the target frames for the ceiling check")
    poses = np.stack([pose for pose, _ in donors])
    outputs = []
    for frame, points in zip(inputs, landmarks):
        nearest = int(np.argmin(np.linalg.norm(poses - np.array(geometry.head_pose(points)[:2]), axis=1)))
        matrix = swap.face_job(0, points, model_settings).matrix
        outputs.append(swap.blend(frame, donors[nearest][1], points, matrix, settings.swap_settings, coverage))
    return {**metrics.identity_scores(outputs, target_refs, source_refs, radius=radius),
            "detail_ratio": metrics.median_or_nan(metrics.detail_ratios(inputs, outputs, landmarks)), "images": outputs}


def job_inputs(frames: list[np.ndarray], jobs: list[swap.FaceJob], size: int = 64) -> np.ndarray:
    """The model inputs (N, size, size, 3) float32 of the jobs' faces: what the swap encoded."""
    inputs = [swap.model_input(frames[job.frame], job.matrix, size) for job in jobs]
    return np.stack(inputs) if inputs else np.zeros((0, size, size, 3), np.float32)


def reconstruction_scores(net: models.FaceSwapModel, inputs: np.ndarray, side: str, sigma: float = 1.5) -> dict:
    """SSIM and MAE of `side`'s autoencoder redrawing model inputs (N, 64, 64, 3) of its own person."""
    outputs = models.encode_decode(net, inputs, side)
    return {"faces": len(inputs), "ssim": metrics.mean_or_nan([metrics.ssim(x, y, sigma) for x, y in zip(inputs, outputs)]),
            "mae": metrics.mean_or_nan([metrics.mae(x, y) for x, y in zip(inputs, outputs)])}


def swap_clip(net: models.FaceSwapModel, clip: str | Path, to: str, settings: EvalSettings = EvalSettings(),
              video_settings: video.VideoSettings = video.VideoSettings()) -> tuple[list, list, list]:
    """(inputs, outputs, landmarks) for the first `settings.video_frames` frames of `clip`.

    Faces are tracked and smoothed as `video.convert_video` does, but the frames stay in
    memory: writing and re-reading an mp4 would add the encoder's own noise to the change.
    `landmarks[t]` lists the (68, 2) sets swapped in frame t.
    """
    tracker = video.FaceTracker(video_settings, settings.swap_settings.faces)
    inputs, outputs, landmarks = [], [], []
    for index, frame in videoio.iter_frames(clip):
        if index >= settings.video_frames:
            break
        points = tracker.step(frame)
        jobs = [swap.face_job(0, p, net.settings) for p in points]
        outputs.append(swap.swap_frames([frame], net, to, settings.swap_settings, jobs=jobs)[0])
        inputs.append(frame)
        landmarks.append(points)
    return inputs, outputs, landmarks


def temporal_scores(net: models.FaceSwapModel, clip: str | Path, to: str,
                    settings: EvalSettings = EvalSettings()) -> dict:
    """Flicker of swapping `clip` to `to`: see `flicker_ratio`."""
    inputs, outputs, landmarks = swap_clip(net, clip, to, settings)
    masks = metrics.clip_masks(inputs, landmarks)
    return {"clip": str(clip), "frames": len(inputs), "to": to, **metrics.flicker_ratio(inputs, outputs, masks)}


def evaluate(net: models.FaceSwapModel, frames_a: list[str | Path], frames_b: list[str | Path],
             refs_a: list[str | Path] | np.ndarray | None = None, refs_b: list[str | Path] | np.ndarray | None = None,
             clip: str | Path | None = None, settings: EvalSettings = EvalSettings()) -> dict:
    """Every measure, both directions: A's frames swapped to B, B's to A (files or folders).

    References are photos (files or folders) or (N, 128) descriptors (`metrics.load_references`).
    Without `refs_a` (`refs_b`) the frames of A (B) are split: even positions evaluated,
    odd ones the references. Each direction reports the strict `recognised` share (within
    the target's calibrated radius and nearer the target), the lenient `share_target`,
    median distances, the `detail_ratio` (median) and, as `ceiling`, the same scores for a
    perfect decoder (`ceiling_scores`). Reconstruction (A->A, B->B) is measured on the model
    inputs of the evaluated frames. `clip`, if given, is swapped to B for the flicker ratio.
    """
    split = {"a": refs_a is None, "b": refs_b is None}
    if refs_a is None:
        frames_a, refs_a = metrics.split_references(frames_a)
    if refs_b is None:
        frames_b, refs_b = metrics.split_references(frames_b)
    skipped = []  # (file, reason) of unreadable frames: reported, never fatal
    descs = {side: refs if isinstance(refs, np.ndarray) else metrics.reference_set(refs, skipped)
             for side, refs in (("a", refs_a), ("b", refs_b))}
    radius = {side: metrics.recognition_radius(descs[side]) for side in "ab"}
    names = dict(zip("ab", net.names))
    results = {"model": {"preset": net.settings.name, "names": list(net.names), "coverage": net.settings.coverage},
               "references": {side: {"faces": len(descs[side]), "radius": radius[side],
                                     "split": "even/odd" if split[side] else "given"} for side in "ab"},
               "reconstruction": {}, "skipped": skipped}
    frames = {"a": frames_a, "b": frames_b}
    for key, (source, target) in swap.DIRECTIONS.items():
        inputs, outputs, jobs = swap_images(net, frames[source], target, settings, skipped)
        found = [faces.largest_face(image) for image in outputs]  # detected once for both measures
        landmarks = [job.landmarks for job in jobs]
        results[key] = {"from": names[source], "to": names[target], "frames": len(inputs),
                        **metrics.identity_scores(outputs, descs[target], descs[source], found, radius[target]),
                        **metrics.geometry_scores(inputs, outputs, landmarks, found),
                        "detail_ratio": metrics.median_or_nan(metrics.detail_ratios(inputs, outputs, landmarks))}
        ceiling = ceiling_scores(inputs, landmarks, frames[target], descs[target], descs[source],
                                 net.settings, settings, radius[target])
        results[key]["ceiling"] = {name: ceiling[name] for name in CEILING_KEYS}
        results["reconstruction"][source] = reconstruction_scores(
            net, job_inputs(inputs, jobs, net.settings.image_size), source, settings.ssim_sigma)
    if clip is not None:
        results["video"] = temporal_scores(net, clip, "b", settings)
    return results


def identity_check(net: models.FaceSwapModel, frames_a: list[str | Path], frames_b: list[str | Path],
                   refs_a: np.ndarray, refs_b: np.ndarray, settings: EvalSettings = EvalSettings()) -> dict:
    """The demo weights' acceptance check, per direction: the strict `recognised` share of
    swapped held-out frames (see `identity_scores`), the lenient `share_target`, median
    distances and the median `detail_ratio`.

    `refs_a`, `refs_b` are (N, 128) descriptors (`reference_set`) of frames other than
    those evaluated. Returns {"a2b": {...}, "b2a": {...}}.
    """
    frames, refs, result = {"a": frames_a, "b": frames_b}, {"a": refs_a, "b": refs_b}, {}
    for key, (source, target) in swap.DIRECTIONS.items():
        inputs, outputs, jobs = swap_images(net, frames[source], target, settings)
        scores = metrics.identity_scores(outputs, refs[target], refs[source])
        result[key] = {name: scores[name] for name in CEILING_KEYS if name in scores}
        result[key]["radius"] = scores["radius"]
        result[key]["detail_ratio"] = metrics.median_or_nan(metrics.detail_ratios(inputs, outputs, [job.landmarks for job in jobs]))
    return result
