"""Measured quality of a swap, run end to end: held-out frames and a clip swapped both ways.

Each direction's swaps are measured with `swapface.metrics` (identity moved, detail kept,
expression and pose kept, no added flicker); each decoder's redrawing of its own person
gives the reconstruction scores, and pasting a *real* face of the target with the same
mask gives the ceiling the metric allows. `write_report` and `summary` write the results;
`figures.report_figure` draws them.

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

from swapface import alignments, faces, figures, files, geometry, media, metrics, model as models, regions, swap, video, videoio, warp

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalSettings:
    """What the evaluation swaps and how it measures."""

    swap_settings: swap.SwapSettings = field(default_factory=swap.SwapSettings)  # detection and blending, as `convert`
    ssim_sigma: float = 1.5  # std of SSIM's Gaussian window in pixels (Wang et al. 2004)
    video_frames: int = 90  # frames of a clip checked for flicker (they are held in memory)
    examples: int = 3  # before/after faces per direction for the report figure


# --- Identity -------------------------------------------------------------------------------------


# --- Detail ---------------------------------------------------------------------------------------


# --- Expression and pose --------------------------------------------------------------------------


# --- Reconstruction -------------------------------------------------------------------------------


def reconstruction_scores(net: models.FaceSwapModel, inputs: np.ndarray, side: str, sigma: float = 1.5) -> dict:
    """SSIM and MAE of `side`'s autoencoder redrawing model inputs (N, 64, 64, 3) of its own person."""
    outputs = models.encode_decode(net, inputs, side)
    return {"faces": len(inputs), "ssim": metrics.mean_or_nan([metrics.ssim(x, y, sigma) for x, y in zip(inputs, outputs)]),
            "mae": metrics.mean_or_nan([metrics.mae(x, y) for x, y in zip(inputs, outputs)])}


# --- Temporal stability ---------------------------------------------------------------------------


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
    masks = [regions.hull_mask(frame.shape, points).astype(bool) for frame, points in zip(inputs, landmarks)]
    return {"clip": str(clip), "frames": len(inputs), "to": to, **metrics.flicker_ratio(inputs, outputs, masks)}


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
    for path, image in metrics.readable_frames(paths, skipped):
        face = faces.largest_face(image, settings.swap_settings.faces)
        if face is None:
            log.warning("%s: no face found, not evaluated", path)
            continue
        jobs.append(swap.face_job(len(inputs), face.landmarks, net.settings))
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
        scores = metrics.identity_scores(outputs, target, source)
        result[key] = {name: scores[name] for name in CEILING_KEYS if name in scores}
        result[key]["radius"] = scores["radius"]
        result[key]["detail_ratio"] = metrics.median_or_nan(metrics.detail_ratios(inputs, outputs, [job.landmarks for job in jobs]))
    return result


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
    for key, source, target in (("a2b", "a", "b"), ("b2a", "b", "a")):
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
    for path, image in metrics.readable_frames(target_frames, None):  # unreadable ones: already reported by evaluate
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


def example_faces(net: models.FaceSwapModel, paths: list[str | Path], to: str, settings: EvalSettings = EvalSettings(),
             size: int = 128) -> list[tuple[np.ndarray, np.ndarray]]:
    """(before, after) aligned faces, uint8 BGR (size, size, 3), of the first `settings.examples`
    images swapped to `to`: wider than the model's crop, so the blend's seam shows."""
    inputs, outputs, jobs = swap_images(net, media.list_inputs(paths)[:settings.examples], to, settings)
    pairs = []
    for job in jobs:
        matrix = geometry.align_matrix(job.landmarks, size)
        pairs.append((geometry.align(inputs[job.frame], matrix, size), geometry.align(outputs[job.frame], matrix, size)))
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
    files.write_bytes_atomic(path, (json.dumps(_jsonable(results), indent=2, allow_nan=False) + "\n").encode())
    return path


def summary(results: dict) -> str:
    """A few lines for the terminal: identity shares, geometry, reconstruction, flicker."""
    lines = []
    for key in ("a2b", "b2a"):
        r = results[key]
        ceiling = r.get("ceiling", {})
        lines.append(f"{r['from']} -> {r['to']}: {figures.number(r['recognised'], '.0%')} of {r['frames']} swapped faces "
                     f"recognised as {r['to']} (radius {figures.number(r['radius'], '.2f')}; ceiling "
                     f"{figures.number(ceiling.get('recognised'), '.0%')}), {figures.number(r['share_target'], '.0%')} nearer {r['to']}; "
                     f"median distance {figures.number(r['median_to_target'], '.2f')} to {r['to']}, "
                     f"{figures.number(r['median_to_source'], '.2f')} to {r['from']}; detail ratio "
                     f"{figures.number(r.get('detail_ratio'), '.2f')} ({r['found']} found again); "
                     f"landmark error {figures.number(r['landmark_error'], '.3f')} IOD, "
                     f"yaw {figures.number(r['yaw_difference'], '.1f')} deg, pitch {figures.number(r['pitch_difference'], '.1f')} deg")
    for side, name in zip("ab", results["model"]["names"]):
        r = results["reconstruction"][side]
        lines.append(f"{name} -> {name} (reconstruction): SSIM {figures.number(r['ssim'], '.3f')}, "
                     f"MAE {figures.number(r['mae'], '.3f')} on {r['faces']} faces")
    if "video" in results:
        v = results["video"]
        lines.append(f"video {v['clip']}: flicker ratio {figures.number(v['flicker_ratio'], '.2f')} over {v['frames']} frames")
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
        matrix = geometry.align_matrix(job.landmarks, size)
        pairs.append((geometry.align(inputs[job.frame], matrix, size), geometry.align(outputs[job.frame], matrix, size)))
    return pairs


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
        scores = [metrics.identity_scores(recoloured[colour][key], refs[DIRECTIONS[key][1]], refs[DIRECTIONS[key][0]])
                  for key in swaps]
        outputs = max(1, sum(s["outputs"] for s in scores))
        rows[colour] = {
            "colour difference (delta E)": metrics.mean_or_nan([float(np.linalg.norm(a.mean(axis=0) - b.mean(axis=0)))
                                                  for a, b in zip(after, before)]),
            "spread difference": metrics.mean_or_nan([float(np.linalg.norm(a.std(axis=0) - b.std(axis=0)))
                                        for a, b in zip(after, before)]),
            "recognised as target": sum(s["recognised"] * s["outputs"] for s in scores) / outputs,
            "share nearer target": sum(s["share_target"] * s["outputs"] for s in scores) / outputs,
            "distance to target": metrics.mean_or_nan([d for s in scores for d in s["to_target"]]),
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
    from swapface import extract

    crop = alignments.crop_coverage(folder) if folder is not None else geometry.CROP_COVERAGE
    settings = warp.WarpSettings(size=net.settings.image_size, coverage=min(1.0, crop / net.settings.coverage))
    return warp.model_inputs(crops[..., :3], settings)
