"""Notebook 1's figures: faces, their landmarks, the alignment, the identity check, diagnostics."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from swapface import faces, geometry
from swapface.figures.common import KEPT_COLOUR, REJECTED_COLOUR, draw_landmarks, plain, rgb


def face_grid(images: Sequence[np.ndarray | str | Path], titles: Sequence[str] | None = None,
              columns: int = 8, cell: float = 1.2, title_colours: Sequence[str] | None = None) -> Figure:
    """A grid of images (uint8 BGR arrays of any size, or image files), `columns` wide.

    `titles` (one per image) go above the images, in `title_colours` if given; `cell` is
    the width of one grid cell in inches (rows are as high as the tallest image needs).
    """
    images = [rgb(image) for image in images]
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"{len(titles)} titles for {len(images)} images")
    if not images:
        fig = Figure(figsize=(3, 0.6))
        fig.text(0.5, 0.5, "no images", ha="center", va="center")
        return fig
    columns = max(1, min(columns, len(images)))
    rows = math.ceil(len(images) / columns)
    title_space = 0.25 * (max(str(t).count("\n") for t in titles) + 1) if titles else 0
    aspect = max(image.shape[0] / image.shape[1] for image in images)  # rows as high as the tallest image
    fig = Figure(figsize=(columns * cell, rows * (cell * aspect + title_space)), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for i, ax in enumerate(axes):
        plain(ax)
        ax.set_frame_on(False)
        if i >= len(images):
            continue
        ax.imshow(images[i])
        if titles:
            colour = title_colours[i] if title_colours else "black"
            ax.set_title(str(titles[i]), fontsize=7, color=colour)
    return fig


def landmarks_figure(image: np.ndarray, faces_list: Sequence[faces.Face], numbers: bool = False,
                     zoom: bool = False, width: float = 6.0) -> Figure:
    """The frame (uint8 BGR (H, W, 3)) with each face's box and 68 landmarks, coloured by part.

    `faces_list` holds `faces.Face` objects (from `faces.find_faces`); `numbers` writes each
    point's index, and `zoom` crops the view to the faces so the numbers can be read.
    """
    height, frame_width = image.shape[:2]
    x0, y0, x1, y1 = 0, 0, frame_width, height
    if zoom and faces_list:
        boxes = np.array([face.box for face in faces_list] + [
            (*face.landmarks.min(axis=0), *face.landmarks.max(axis=0)) for face in faces_list], dtype=float)
        margin = 0.1 * (boxes[:, 2].max() - boxes[:, 0].min())
        x0, y0 = boxes[:, :2].min(axis=0) - margin
        x1, y1 = boxes[:, 2:].max(axis=0) + margin
    fig = Figure(figsize=(width, width * (y1 - y0) / (x1 - x0)), layout="constrained")
    ax = fig.subplots()
    ax.imshow(rgb(image))
    for face in faces_list:
        left, top, right, bottom = face.box
        ax.add_patch(Rectangle((left, top), right - left, bottom - top, fill=False, color="yellow", linewidth=1))
        draw_landmarks(ax, face.landmarks, numbers, size=12 if zoom else 4)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y1, y0)
    plain(ax)
    ax.set_title(f"{len(faces_list)} face(s): detection box and 68 landmarks", fontsize=9)
    if faces_list:
        ax.legend(loc="lower right", fontsize=6, markerscale=1.5, framealpha=0.6)
    return fig


def _draw_mean_face(ax, size: int, coverage: float, numbers: bool = False, colour: str = "tab:blue") -> None:
    """The 51 mean-face points and the coverage square, in the pixels of a `size` crop."""
    points = geometry.mean_face_points(size, coverage)
    padding = size * (1 - coverage) / 2
    ax.add_patch(Rectangle((padding, padding), size * coverage, size * coverage, fill=False,
                           linestyle="--", color=colour, linewidth=1))
    ax.scatter(points[:, 0], points[:, 1], s=10, c=colour, marker="+", linewidths=1, label="mean face")
    eyes = points[geometry.MEAN_FACE_EYES]
    ax.scatter(eyes[:, 0], eyes[:, 1], s=18, facecolors="none", edgecolors="tab:red", linewidths=1,
               label="eye points (weighted)")
    if numbers:
        for i, (x, y) in enumerate(points):
            ax.annotate(str(i + 17), (x, y), xytext=(2, 2), textcoords="offset points", fontsize=5, color=colour)


def mean_face_figure(size: int = 256, coverage: float = geometry.CROP_COVERAGE, numbers: bool = True,
                     width: float = 4.0) -> Figure:
    """The 51-point mean face (dlib landmarks 17-67) placed in a `size` px aligned crop.

    The dashed square is the unit square of `geometry.MEAN_FACE`, spanning `coverage` of the
    crop's side; the red rings are the twelve eye points that the fit weights most.
    `numbers` labels each point with its dlib index.
    """
    fig = Figure(figsize=(width, width), layout="constrained")
    ax = fig.subplots()
    ax.add_patch(Rectangle((0, 0), size, size, color="0.93"))
    _draw_mean_face(ax, size, coverage, numbers)
    ax.set_xlim(0, size)
    ax.set_ylim(size, 0)  # image coordinates: y grows downwards
    ax.set_aspect("equal")
    ax.tick_params(labelsize=7)
    ax.set_title(f"mean face in a {size} px crop (coverage {coverage:.3g})", fontsize=9)
    ax.legend(loc="lower center", fontsize=6, ncols=2)
    return fig


def coverage_figure(crop: np.ndarray, crop_coverage: float = geometry.CROP_COVERAGE,
                    coverages: Sequence[float] = (geometry.COVERAGE_2017, 0.8), size: int = 64, width: float = 7.5) -> Figure:
    """The three numbers called "coverage", drawn on one aligned crop (uint8 BGR (S, S, 3)).

    `crop_coverage`: the share of the crop's side the mean-face square spans (extraction's,
    0.625: 160 of 256 px). Each model coverage c in `coverages` (2017: 1.0; this project's
    default: 0.8) is the share of the *model's* square the mean-face square spans, so the
    model's view of the crop is a square of side crop_coverage / c of the crop, centred. Left:
    the crop with the mean face and each square; then, per coverage, what the model is fed
    (`warp.model_inputs` at `size` px).
    """
    from swapface import warp

    side = crop.shape[0]
    fig = Figure(figsize=(width, width * 0.4), layout="constrained")
    axes = fig.subplots(1, 1 + len(coverages), width_ratios=[2] + [1] * len(coverages))
    ax = axes[0]
    ax.imshow(rgb(crop))
    _draw_mean_face(ax, side, crop_coverage, colour="tab:blue")
    colours = ("yellow", "tab:green", "tab:orange", "tab:purple")
    for index, coverage in enumerate(coverages):
        view = side * geometry.view_coverage(crop_coverage, coverage)
        start = (side - view) / 2
        ax.add_patch(Rectangle((start, start), view, view, fill=False, color=colours[index % len(colours)],
                               linewidth=1.2, linestyle=":" if index % 2 else "-",
                               label=f"model view, coverage {coverage:g}: {view:.0f} px"))
    ax.set_xlim(0, side)
    ax.set_ylim(side, 0)
    ax.set_title(f"{side} px crop: the mean face spans its central\n"
                 f"{crop_coverage:g} ({side * crop_coverage:.0f} px, blue dashes)", fontsize=8)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.01), fontsize=6, ncols=2)
    plain(ax)
    for ax, coverage in zip(axes[1:], coverages):
        view = warp.WarpSettings(size=size, coverage=geometry.view_coverage(crop_coverage, coverage))
        shown = warp.model_inputs(crop[None, ..., :3], view)
        ax.imshow(rgb((shown[0] * 255).round().astype(np.uint8)))
        ax.set_title(f"the model's {size} px input\nat coverage {coverage:g}", fontsize=8)
        plain(ax)
    return fig


def alignment_errors(face: faces.Face, coverage: float = geometry.CROP_COVERAGE) -> tuple[float, float]:
    """Mean distance in crop pixels from the face's landmarks 17-67, then from its 12 eye
    points, to the mean face after alignment with `face.matrix` (crop side `face.size`)."""
    aligned = geometry.transform_points(face.landmarks[geometry.ALIGN_POINTS], face.matrix)
    error = np.linalg.norm(aligned - geometry.mean_face_points(face.size, coverage), axis=1)
    return float(error.mean()), float(error[geometry.MEAN_FACE_EYES].mean())


def alignment_figure(image: np.ndarray, face: faces.Face, size: int = 256,
                     coverage: float = geometry.CROP_COVERAGE, width: float = 8.0) -> Figure:
    """Before and after alignment: the frame (uint8 BGR) with `face`'s landmarks, then its
    aligned crop (`size` px) with the face's own landmarks and the mean face overlaid.

    `coverage` must be the one `face.matrix` was fitted with (a `Face` does not record it);
    the crop is rescaled when `size` differs from `face.size`. The title of the crop gives
    how far, on average, the landmarks land from the mean face.
    """
    matrix = face.matrix * (size / face.size)
    crop = geometry.align(image, matrix, size)
    points = geometry.transform_points(face.landmarks, matrix)
    every, eyes = alignment_errors(face, coverage)
    scale = size / face.size
    fig = Figure(figsize=(width, width * 0.42), layout="constrained")
    before, after = fig.subplots(1, 2, width_ratios=[1.6, 1])
    before.imshow(rgb(image))
    left, top, right, bottom = face.box
    before.add_patch(Rectangle((left, top), right - left, bottom - top, fill=False, color="yellow", linewidth=1))
    draw_landmarks(before, face.landmarks, size=4)
    margin = 0.6 * face.width
    before.set_xlim(max(left - margin, 0), min(right + margin, image.shape[1]))
    before.set_ylim(min(bottom + margin, image.shape[0]), max(top - margin, 0))
    before.set_title("frame: landmarks found", fontsize=9)
    after.imshow(rgb(crop))
    aligned = points[geometry.ALIGN_POINTS]
    after.scatter(aligned[:, 0], aligned[:, 1], s=8, c="yellow", linewidths=0, label="this face")
    _draw_mean_face(after, size, coverage)
    after.set_xlim(0, size)
    after.set_ylim(size, 0)
    after.set_title(f"aligned {size} px: off by {every * scale:.1f} px, eyes {eyes * scale:.1f} px", fontsize=9)
    after.legend(loc="lower center", fontsize=6, ncols=3, framealpha=0.6, handletextpad=0.2, columnspacing=0.6)
    plain(before)
    plain(after)
    return fig


def identity_figure(images: Sequence[np.ndarray | str | Path], distances: Sequence[float], threshold: float,
                    names: Sequence[str] | None = None, columns: int = 8, cell: float = 1.1) -> Figure:
    """Faces (uint8 BGR, usually aligned crops) with their descriptor distance to the nearest
    reference and whether the identity filter keeps them (distance < `threshold`, as in
    `faces.IdentityFilter` without excluded people), kept in green, rejected in red."""
    names = list(names) if names is not None else [""] * len(distances)
    if not len(images) == len(distances) == len(names):
        raise ValueError(f"{len(images)} images, {len(distances)} distances and {len(names)} names")
    kept = [d < threshold for d in distances]
    titles = [f"{name}\n{d:.2f} {'kept' if k else 'rejected'}".lstrip("\n")
              for name, d, k in zip(names, distances, kept)]
    fig = face_grid(images, titles, columns, cell, title_colours=[KEPT_COLOUR if k else REJECTED_COLOUR for k in kept])
    fig.suptitle(f"distance to the nearest reference (threshold {threshold:g}): "
                 f"{sum(kept)} kept, {len(kept) - sum(kept)} rejected", fontsize=9)
    return fig


def diagnostics_figure(described: dict[str, dict]) -> Figure:
    """Pose scatter and blur/brightness histograms of each person (`diagnose.describe`), overlaid: gaps show."""
    figure = Figure(figsize=(11, 3.4))
    pose, blur, light = figure.subplots(1, 3)
    for name, stats in described.items():
        pose.scatter(stats["yaw"], stats["pitch"], s=8, alpha=0.5, label=f"{name} ({stats['faces']})")
        blur.hist(np.log10(np.maximum(stats["blur"], 1)), bins=20, alpha=0.5, label=name)
        light.hist(stats["brightness"], bins=20, range=(0, 255), alpha=0.5, label=name)
    pose.set(xlabel="yaw (deg)", ylabel="pitch (deg)", title="head pose: B needs A's poses")
    blur.set(xlabel="log10 variance of the Laplacian", ylabel="faces", title="sharpness")
    light.set(xlabel="mean grey level of the face", title="brightness")
    for ax in (pose, blur, light):
        ax.legend(fontsize=8)
    figure.tight_layout()
    return figure
