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
    >>> from swapface import evaluate, model
    >>> net = model.load("weights")
    >>> results = evaluate.evaluate(net, ["faces_a/"], ["faces_b/"])
    >>> results["a2b"]["share_target_mean"]
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from matplotlib.figure import Figure

from swapface import faces, figures, media, model as models, swap, video
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

def reference_set(paths: list[str | Path]) -> np.ndarray:
    """Descriptors (N, 128) float64 of the largest face in each image file or folder of images.

    A file without a face is skipped with a warning (held-out frames include blinks and
    turns); ValueError if no file gives a face, since nothing could be compared.
    """
    descriptors = []
    for path in media.list_inputs(paths):
        image = media.read_image(path)
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


def identity_scores(outputs: list[np.ndarray], target_refs: np.ndarray, source_refs: np.ndarray,
                    found: list[faces.Face | None] | None = None) -> dict:
    """How far the face in each swapped frame (uint8 BGR) is from the target and the source.

    `to_*` are distances to each person's centroid (mean reference descriptor); `mean_to_*`
    mean distances to all of that person's references. `share_target` and
    `share_target_mean` are the shares of outputs nearer the target by each measure; an
    output with no face found counts as a failure (the swap destroyed the face). `found`
    passes the outputs' faces (`largest_face`) when the caller has them already.
    """
    centroids = target_refs.mean(axis=0), source_refs.mean(axis=0)
    result = {"outputs": len(outputs), "found": 0, "to_target": [], "to_source": [],
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
    result["share_target"] = sum(t < s for t, s in zip(result["to_target"], result["to_source"])) / count
    result["share_target_mean"] = sum(t < s for t, s in zip(result["mean_to_target"], result["mean_to_source"])) / count
    return result


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

def _float(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32) / 255 if image.dtype == np.uint8 else image.astype(np.float32)


def ssim(x: np.ndarray, y: np.ndarray, sigma: float = 1.5) -> float:
    """Structural similarity of two images (uint8, or float in [0, 1]) of one shape, in [-1, 1].

    Wang et al. (2004): local means, variances and covariance under a Gaussian window
    (11x11 for sigma 1.5), constants K1 0.01 and K2 0.03 on a [0, 1] range; averaged over
    channels and over the pixels whose window lies inside the image, as their code does.
    """
    x, y = _float(x), _float(y)
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    radius = int(3.5 * sigma + 0.5)
    blur = lambda image: cv2.GaussianBlur(image, (2 * radius + 1,) * 2, sigma)  # noqa: E731
    mu_x, mu_y = blur(x), blur(y)
    var_x, var_y, cov = blur(x * x) - mu_x ** 2, blur(y * y) - mu_y ** 2, blur(x * y) - mu_x * mu_y
    index = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))
    return float(index[radius:-radius, radius:-radius].mean())


def mae(x: np.ndarray, y: np.ndarray) -> float:
    """Mean absolute error of two images (uint8, or float in [0, 1]), on the [0, 1] scale."""
    return float(np.abs(_float(x) - _float(y)).mean())


def crop_inputs(crops: list[np.ndarray], coverage: float = faces.DEFAULT_COVERAGE, out: int = 64) -> np.ndarray:
    """Aligned crops (uint8 BGR (S, S, 3), from `swapface extract`) to model inputs float32 (N, out, out, 3).

    The central `coverage` of each crop, undistorted: exactly what training's targets show.
    """
    from swapface import warp

    return warp.model_inputs(list(crops), warp.WarpSettings(coverage=coverage, size=out))


def reconstruction_scores(net: models.FaceSwapModel, inputs: np.ndarray, side: str, sigma: float = 1.5) -> dict:
    """SSIM and MAE of `side`'s autoencoder redrawing model inputs (N, 64, 64, 3) of its own person."""
    outputs = models.encode_decode(net, inputs, side)
    return {"faces": len(inputs), "ssim": _mean([ssim(x, y, sigma) for x, y in zip(inputs, outputs)]),
            "mae": _mean([mae(x, y) for x, y in zip(inputs, outputs)])}


# --- Temporal stability ---------------------------------------------------------------------------

def hull_mask(shape: tuple[int, ...], landmarks: list[np.ndarray]) -> np.ndarray:
    """bool (H, W): the union of the convex hulls of the (68, 2) landmark sets given."""
    mask = np.zeros(shape[:2], np.uint8)
    for points in landmarks:
        cv2.fillConvexPoly(mask, cv2.convexHull(np.round(points).astype(np.int32)), 1)
    return mask.astype(bool)


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
    for index, frame in media.iter_frames(clip):
        if index >= settings.video_frames:
            break
        points = tracker.step(frame)
        jobs = [swap.FaceJob(0, p, swap.input_matrix(p, size)) for p in points]
        outputs.append(swap.swap_frames([frame], net, to, settings.swap_settings, jobs=jobs)[0])
        inputs.append(frame)
        landmarks.append(points)
    return inputs, outputs, landmarks


def temporal_scores(net: models.FaceSwapModel, clip: str | Path, to: str,
                    settings: EvalSettings = EvalSettings()) -> dict:
    """Flicker of swapping `clip` to `to`: see `flicker_ratio`."""
    inputs, outputs, landmarks = swap_clip(net, clip, to, settings)
    masks = [hull_mask(frame.shape, points) for frame, points in zip(inputs, landmarks)]
    return {"clip": str(clip), "frames": len(inputs), "to": to, **flicker_ratio(inputs, outputs, masks)}


# --- Whole evaluations ----------------------------------------------------------------------------

def swap_images(net: models.FaceSwapModel, paths: list[str | Path], to: str,
                settings: EvalSettings = EvalSettings()) -> tuple[list, list, list[swap.FaceJob]]:
    """(inputs, outputs, jobs) for the largest face of each image with a face, swapped to `to`.

    One face per image: held-out frames show one person, and the identity score is per frame.
    """
    inputs, jobs = [], []
    size = net.settings.image_size
    for path in media.list_inputs(paths):
        image = media.read_image(path)
        face = largest_face(image, settings.swap_settings.faces)
        if face is None:
            log.warning("%s: no face found, not evaluated", path)
            continue
        jobs.append(swap.FaceJob(len(inputs), face.landmarks, swap.input_matrix(face.landmarks, size)))
        inputs.append(image)
    outputs = swap.swap_frames(inputs, net, to, settings.swap_settings, jobs=jobs)
    return inputs, outputs, jobs


def job_inputs(frames: list[np.ndarray], jobs: list[swap.FaceJob], size: int = 64) -> np.ndarray:
    """The model inputs (N, size, size, 3) float32 of the jobs' faces: what the swap encoded."""
    inputs = [swap.model_input(frames[job.frame], job.matrix, size) for job in jobs]
    return np.stack(inputs) if inputs else np.zeros((0, size, size, 3), np.float32)


def identity_check(net: models.FaceSwapModel, frames_a: list[str | Path], frames_b: list[str | Path],
                   refs_a: np.ndarray, refs_b: np.ndarray, settings: EvalSettings = EvalSettings()) -> dict:
    """The demo weights' acceptance check: per direction, the share of swapped held-out frames
    whose face is nearer (mean descriptor distance) the target's references than the source's.

    `refs_a`, `refs_b` are (N, 128) descriptors (`reference_set`) of frames other than
    those evaluated. Returns {"a2b": {...}, "b2a": {...}} with `share` and mean distances.
    """
    result = {}
    for key, paths, to, target, source in (("a2b", frames_a, "b", refs_b, refs_a),
                                           ("b2a", frames_b, "a", refs_a, refs_b)):
        scores = identity_scores(swap_images(net, paths, to, settings)[1], target, source)
        result[key] = {"frames": scores["outputs"], "found": scores["found"], "share": scores["share_target_mean"],
                       "mean_to_target": _mean(scores["mean_to_target"]),
                       "mean_to_source": _mean(scores["mean_to_source"])}
    return result


def evaluate(net: models.FaceSwapModel, frames_a: list[str | Path], frames_b: list[str | Path],
             refs_a: list[str | Path] | None = None, refs_b: list[str | Path] | None = None,
             clip: str | Path | None = None, settings: EvalSettings = EvalSettings()) -> dict:
    """Every measure, both directions: A's frames swapped to B, B's to A (files or folders).

    Without `refs_a` (`refs_b`) the frames of A (B) are split: even positions evaluated,
    odd ones the references. Reconstruction (A->A, B->B) is measured on the model inputs
    of the evaluated frames. `clip`, if given, is swapped to B for the flicker ratio.
    """
    split = {"a": refs_a is None, "b": refs_b is None}
    if refs_a is None:
        frames_a, refs_a = split_references(frames_a)
    if refs_b is None:
        frames_b, refs_b = split_references(frames_b)
    descs = {"a": reference_set(refs_a), "b": reference_set(refs_b)}
    names = dict(zip("ab", net.names))
    results = {"model": {"preset": net.settings.name, "names": list(net.names)},
               "references": {side: {"faces": len(descs[side]), "split": "even/odd" if split[side] else "given"}
                              for side in "ab"},
               "reconstruction": {}}
    for key, paths, source, target in (("a2b", frames_a, "a", "b"), ("b2a", frames_b, "b", "a")):
        inputs, outputs, jobs = swap_images(net, paths, target, settings)
        found = [largest_face(image) for image in outputs]  # detected once for both measures
        results[key] = {"from": names[source], "to": names[target], "frames": len(inputs),
                        **identity_scores(outputs, descs[target], descs[source], found),
                        **geometry_scores(inputs, outputs, [job.landmarks for job in jobs], found)}
        results["reconstruction"][source] = reconstruction_scores(
            net, job_inputs(inputs, jobs, net.settings.image_size), source, settings.ssim_sigma)
    if clip is not None:
        results["video"] = temporal_scores(net, clip, "b", settings)
    return results


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
    The dashed line at 0.6 is dlib's usual same-person threshold.
    """
    examples = examples or {}
    names = results["model"]["names"]
    fig = Figure(figsize=(10, 7.5), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1, 1.1])
    share, *hists = top.subplots(1, 3)
    keys = [key for key in ("a2b", "b2a") if key in results]
    labels = [f"{results[k]['from']} -> {results[k]['to']}" for k in keys]
    bars = share.bar(labels, [results[k]["share_target_mean"] for k in keys],
                     color=["tab:blue", "tab:orange"][:len(keys)])
    share.bar_label(bars, fmt="{:.0%}", fontsize=8)
    share.axhline(0.5, color="0.5", linewidth=0.8, linestyle=":")
    share.set_ylim(0, 1)
    share.set_title("share of swaps nearer the target", fontsize=9)
    for ax, key in zip(hists, keys):
        r = results[key]
        bins = np.linspace(0, 1.2, 25)
        ax.hist(r["to_target"], bins, alpha=0.6, label=f"to {r['to']}")
        ax.hist(r["to_source"], bins, alpha=0.6, label=f"to {r['from']}")
        ax.axvline(0.6, color="0.3", linewidth=0.8, linestyle="--")
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
    notes += [f"{r['from']} -> {r['to']}: landmark error {_fmt(r['landmark_error'], '.3f')} IOD, "
              f"yaw {_fmt(r['yaw_difference'], '.1f')} deg" for r in (results[k] for k in keys)]
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
    return fig


def summary(results: dict) -> str:
    """A few lines for the terminal: identity shares, geometry, reconstruction, flicker."""
    lines = []
    for key in ("a2b", "b2a"):
        r = results[key]
        lines.append(f"{r['from']} -> {r['to']}: {_fmt(r['share_target_mean'], '.0%')} of {r['frames']} swapped "
                     f"faces nearer {r['to']} ({r['found']} found again); "
                     f"landmark error {_fmt(r['landmark_error'], '.3f')} IOD, "
                     f"yaw {_fmt(r['yaw_difference'], '.1f')} deg, pitch {_fmt(r['pitch_difference'], '.1f')} deg")
    for side, name in zip("ab", results["model"]["names"]):
        r = results["reconstruction"][side]
        lines.append(f"{name} -> {name} (reconstruction): SSIM {_fmt(r['ssim'], '.3f')}, "
                     f"MAE {_fmt(r['mae'], '.3f')} on {r['faces']} faces")
    if "video" in results:
        v = results["video"]
        lines.append(f"video {v['clip']}: flicker ratio {_fmt(v['flicker_ratio'], '.2f')} over {v['frames']} frames")
    return "\n".join(lines)
