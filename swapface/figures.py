"""Figures for the notebooks and the CLI: every function returns a `matplotlib.figure.Figure`.

Nothing here opens a window or prints. The figures are made with `Figure()` directly, not
through pyplot, so they are never "current" and are freed like any object; a notebook
shows one by leaving it as a cell's last expression, a script saves it with
`fig.savefig(path)`.

Images are uint8 BGR arrays (H, W, 3) as `swapface.media` reads them (or gray (H, W));
they are converted to RGB for display. Where a function takes images, a file path is
accepted too and read with `media.read_image`.

Example:
    >>> from swapface import faces, figures, media
    >>> image = media.read_image("data/obama/c000_f00000.jpg")
    >>> fig = figures.landmarks_figure(image, faces.find_faces(image))
    >>> fig.savefig("landmarks.png")
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from swapface import faces, media

# dlib's 68 points by part: (name, index range, colour). The jaw (0-16) is not used in the fit.
PARTS = (
    ("jaw", range(0, 17), "0.6"),
    ("brows", range(17, 27), "tab:orange"),
    ("nose", range(27, 36), "tab:green"),
    ("eyes", range(36, 48), "tab:red"),
    ("mouth", range(48, 68), "tab:purple"),
)
EYES_51 = slice(faces.RIGHT_EYE.start - 17, faces.LEFT_EYE.stop - 17)  # the eyes among the 51 mean-face points
KEPT_COLOUR, REJECTED_COLOUR = "tab:green", "tab:red"
DPI = 120  # saved figures: legends and tick labels stay readable at GitHub's width


def save(figure: Figure, path: str | Path, dpi: int = DPI) -> Path:
    """Render `figure` to PNG at `path`, atomically: a reader never sees half an image.

    A figure showing generated faces (`mark_synthetic`) is labelled as synthetic media,
    like every other image swapface writes with one (see `provenance`).
    """
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    data = buffer.getvalue()
    if getattr(figure, "synthetic", False):
        from swapface import provenance  # pulls in c2pa only when a labelled figure is written

        data = provenance.png_with_label(data)
    return media.write_bytes_atomic(path, data)


def mark_synthetic(figure: Figure) -> Figure:
    """Flag `figure` as showing generated faces, so `save` labels its PNG; returns it."""
    figure.synthetic = True
    return figure


def rgb(image: np.ndarray | str | Path) -> np.ndarray:
    """uint8 BGR (H, W, 3), gray (H, W) or an image file as uint8 RGB (H, W, 3) for imshow."""
    if isinstance(image, (str, Path)):
        image = media.read_image(image)
    image = np.asarray(image)
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2)
    return np.ascontiguousarray(image[..., 2::-1])


def _plain(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def _draw_landmarks(ax, points: np.ndarray, numbers: bool = False, size: float = 6) -> None:
    """Scatter (68, 2) points coloured by face part, optionally with their index."""
    for name, index, colour in PARTS:
        ax.scatter(points[index, 0], points[index, 1], s=size, c=colour, label=name, linewidths=0)
    if numbers:
        for i, (x, y) in enumerate(points):
            ax.annotate(str(i), (x, y), xytext=(2, 2), textcoords="offset points", fontsize=5, color="white")


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
        _plain(ax)
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
        _draw_landmarks(ax, face.landmarks, numbers, size=12 if zoom else 4)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y1, y0)
    _plain(ax)
    ax.set_title(f"{len(faces_list)} face(s): detection box and 68 landmarks", fontsize=9)
    if faces_list:
        ax.legend(loc="lower right", fontsize=6, markerscale=1.5, framealpha=0.6)
    return fig


def _draw_mean_face(ax, size: int, coverage: float, numbers: bool = False, colour: str = "tab:blue") -> None:
    """The 51 mean-face points and the coverage square, in the pixels of a `size` crop."""
    points = faces.mean_face_points(size, coverage)
    padding = size * (1 - coverage) / 2
    ax.add_patch(Rectangle((padding, padding), size * coverage, size * coverage, fill=False,
                           linestyle="--", color=colour, linewidth=1))
    ax.scatter(points[:, 0], points[:, 1], s=10, c=colour, marker="+", linewidths=1, label="mean face")
    eyes = points[EYES_51]
    ax.scatter(eyes[:, 0], eyes[:, 1], s=18, facecolors="none", edgecolors="tab:red", linewidths=1,
               label="eye points (weighted)")
    if numbers:
        for i, (x, y) in enumerate(points):
            ax.annotate(str(i + 17), (x, y), xytext=(2, 2), textcoords="offset points", fontsize=5, color=colour)


def mean_face_figure(size: int = 256, coverage: float = faces.DEFAULT_COVERAGE, numbers: bool = True,
                     width: float = 4.0) -> Figure:
    """The 51-point mean face (dlib landmarks 17-67) placed in a `size` px aligned crop.

    The dashed square is the unit square of `faces.MEAN_FACE`, spanning `coverage` of the
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


def alignment_errors(face: faces.Face, coverage: float = faces.DEFAULT_COVERAGE) -> tuple[float, float]:
    """Mean distance in crop pixels from the face's landmarks 17-67, then from its 12 eye
    points, to the mean face after alignment with `face.matrix` (crop side `face.size`)."""
    aligned = faces.transform_points(face.landmarks[faces.ALIGN_POINTS], face.matrix)
    error = np.linalg.norm(aligned - faces.mean_face_points(face.size, coverage), axis=1)
    return float(error.mean()), float(error[EYES_51].mean())


def alignment_figure(image: np.ndarray, face: faces.Face, size: int = 256,
                     coverage: float = faces.DEFAULT_COVERAGE, width: float = 8.0) -> Figure:
    """Before and after alignment: the frame (uint8 BGR) with `face`'s landmarks, then its
    aligned crop (`size` px) with the face's own landmarks and the mean face overlaid.

    `coverage` must be the one `face.matrix` was fitted with (a `Face` does not record it);
    the crop is rescaled when `size` differs from `face.size`. The title of the crop gives
    how far, on average, the landmarks land from the mean face.
    """
    matrix = face.matrix * (size / face.size)
    crop = faces.align(image, matrix, size)
    points = faces.transform_points(face.landmarks, matrix)
    every, eyes = alignment_errors(face, coverage)
    scale = size / face.size
    fig = Figure(figsize=(width, width * 0.42), layout="constrained")
    before, after = fig.subplots(1, 2, width_ratios=[1.6, 1])
    before.imshow(rgb(image))
    left, top, right, bottom = face.box
    before.add_patch(Rectangle((left, top), right - left, bottom - top, fill=False, color="yellow", linewidth=1))
    _draw_landmarks(before, face.landmarks, size=4)
    margin = 0.6 * face.width
    before.set_xlim(max(left - margin, 0), min(right + margin, image.shape[1]))
    before.set_ylim(min(bottom + margin, image.shape[0]), max(top - margin, 0))
    before.set_title("frame: landmarks found", fontsize=9)
    after.imshow(rgb(crop))
    aligned = points[faces.ALIGN_POINTS]
    after.scatter(aligned[:, 0], aligned[:, 1], s=8, c="yellow", linewidths=0, label="this face")
    _draw_mean_face(after, size, coverage)
    after.set_xlim(0, size)
    after.set_ylim(size, 0)
    after.set_title(f"aligned {size} px: off by {every * scale:.1f} px, eyes {eyes * scale:.1f} px", fontsize=9)
    after.legend(loc="lower center", fontsize=6, ncols=3, framealpha=0.6, handletextpad=0.2, columnspacing=0.6)
    _plain(before)
    _plain(after)
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


# Later stages add their figures below (training previews, loss curves, swaps).


def _to_uint8(image: np.ndarray) -> np.ndarray:
    """float [0, 1] (as the network sees faces) or uint8, to uint8; out-of-range floats clipped."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


def preview_figure(rows: Sequence[tuple[str, np.ndarray]], title: str = "", cell: float = 1.0) -> Figure:
    """The training preview: one row per (label, faces), one column per face.

    Faces are float32 (N, S, S, 3) BGR in [0, 1], as the network sees them (or uint8 BGR).
    Training draws the rows A, A→A, A→B, B, B→B, B→A: the reconstructions show how well
    each decoder draws its own person, the swaps whether the shared encoder has learnt a
    code that both decoders read the same way.
    """
    columns = max((len(images) for _, images in rows), default=0)
    if not columns:
        fig = Figure(figsize=(3, 0.6))
        fig.text(0.5, 0.5, "no faces", ha="center", va="center")
        return fig
    fig = Figure(figsize=(cell * columns + 1.2, cell * len(rows)), layout="constrained")
    axes = fig.subplots(len(rows), columns, squeeze=False)
    for row_axes, (label, images) in zip(axes, rows):
        for column, ax in enumerate(row_axes):
            _plain(ax)
            if column < len(images):
                ax.imshow(rgb(_to_uint8(images[column])))
        row_axes[0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    return mark_synthetic(fig)  # the A->B and B->A rows are generated faces


def _plot_losses(ax, losses: np.ndarray, label: str) -> None:
    """Raw losses faint, a moving average (1/50 of the run) bold: the trend shows through the noise."""
    steps = np.arange(1, len(losses) + 1)
    line, = ax.plot(steps, losses, alpha=0.25, linewidth=0.8)
    window = max(1, len(losses) // 50)
    smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
    ax.plot(steps[window - 1:], smooth, color=line.get_color(), label=label)


def _loss_axes(ax, xlabel: str, ylabel: str) -> None:
    ax.set_yscale("log")
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    if ax.lines:
        ax.legend(fontsize=7)


def loss_figure(history: dict[str, Sequence[float]], names: Sequence[str] = ("a", "b"),
                width: float = 7.0) -> Figure:
    """Both autoencoders' training loss per iteration, raw and smoothed, log scale.

    `history` is {"a": [...], "b": [...]} as `swapface.train.train` returns it. The smoothed
    curve averages over 2% of the run: the trend, not the batch-to-batch noise.
    """
    fig = Figure(figsize=(width, width * 0.55), layout="constrained")
    ax = fig.subplots()
    for side, name in zip("ab", names):
        losses = np.asarray(history.get(side, []), dtype=np.float64)
        if not len(losses):
            continue
        _plot_losses(ax, losses, f"{side}: {name}")
    _loss_axes(ax, "iteration", "training loss")
    return fig


def loss_comparison_figure(runs: dict[str, dict[str, Sequence[float]]], width: float = 7.0) -> Figure:
    """Several training runs' loss per iteration, both sides averaged, raw and smoothed, log scale.

    `runs` is {label: history}, each history {"a": [...], "b": [...]} as `swapface.train.train`
    returns it; iterations count from each run's own start, so the curves line up.
    """
    fig = Figure(figsize=(width, width * 0.5), layout="constrained")
    ax = fig.subplots()
    for label, history in runs.items():
        sides = [np.asarray(history[side], dtype=np.float64) for side in "ab" if len(history.get(side, []))]
        if not sides:
            continue
        losses = np.mean([side[:min(map(len, sides))] for side in sides], axis=0)
        _plot_losses(ax, losses, label)
    _loss_axes(ax, "iteration of the run", "loss, mean of both sides")
    return fig


def warp_figure(image: np.ndarray | str | Path, grid: np.ndarray, warped: np.ndarray, target: np.ndarray,
                width: float = 7.5) -> Figure:
    """How one training pair is made: the crop with its warp grid, the warped input, the target.

    `image` is the crop that was sampled (uint8 BGR, e.g. 256 px after `warp.random_transform`),
    `grid` the jittered control points (P, P, 2) in its pixels (`warp.warp_grid`), `warped`
    and `target` the pair `warp.warp_with_grid` made from them (float32 [0, 1] or uint8).
    Solid yellow: the grid the warped input is sampled along; dashed cyan: the undistorted
    grid of the target (the similarity transform that best fits the yellow points).
    """
    from swapface.faces import umeyama

    crop = rgb(image)
    grid = np.asarray(grid, dtype=np.float64)
    points, size = grid.shape[0], np.asarray(warped).shape[0]
    step = np.arange(points) * size / (points - 1)
    output = np.stack(np.meshgrid(step, step), axis=-1).reshape(-1, 2)
    fitted = faces.transform_points(output, np.linalg.inv(umeyama(grid.reshape(-1, 2), output))[:2])
    fitted = fitted.reshape(grid.shape)
    fig = Figure(figsize=(width, width * 0.37), layout="constrained")
    crop_ax, warped_ax, target_ax = fig.subplots(1, 3)
    crop_ax.imshow(crop)
    for lines, style in ((fitted, dict(color="tab:cyan", linestyle="--", linewidth=0.8)),
                         (grid, dict(color="yellow", linewidth=1.0))):
        for line in (*lines, *lines.transpose(1, 0, 2)):  # the rows, then the columns
            crop_ax.plot(line[:, 0], line[:, 1], **style)
    crop_ax.scatter(grid[..., 0].ravel(), grid[..., 1].ravel(), s=9, c="tab:red", linewidths=0, zorder=3)
    crop_ax.set_xlim(0, crop.shape[1])
    crop_ax.set_ylim(crop.shape[0], 0)
    crop_ax.set_title(f"{crop.shape[1]} px crop and the {points}x{points} warp grid", fontsize=9)
    warped_ax.imshow(rgb(_to_uint8(warped)))
    warped_ax.set_title(f"warped: the input ({size} px)", fontsize=9)
    target_ax.imshow(rgb(_to_uint8(target)))
    target_ax.set_title(f"target: what to draw ({size} px)", fontsize=9)
    for ax in (crop_ax, warped_ax, target_ax):
        _plain(ax)
    return fig


def feature_maps_figure(encoding: np.ndarray, count: int = 64, columns: int = 16, width: float = 7.5) -> Figure:
    """The encoder's output for one face, as images: one small map per channel.

    `encoding` is (H, W, C) or (1, H, W, C) (8x8x512 for the 2017 model). The `count`
    channels with the largest mean absolute activation are shown, most active first, in a
    mosaic `columns` wide on one shared colour scale (so a dim map is a weak channel).
    """
    maps = np.asarray(encoding, dtype=np.float32)
    maps = maps[0] if maps.ndim == 4 else maps
    height, map_width, channels = maps.shape
    shown = max(1, min(count, channels))
    order = np.argsort(-np.abs(maps).mean(axis=(0, 1)), kind="stable")[:shown]
    columns = max(1, min(columns, shown))
    rows = math.ceil(shown / columns)
    mosaic = np.full((rows * (height + 1) - 1, columns * (map_width + 1) - 1), np.nan, np.float32)
    for index, channel in enumerate(order):
        row, column = divmod(index, columns)
        mosaic[row * (height + 1):row * (height + 1) + height,
               column * (map_width + 1):column * (map_width + 1) + map_width] = maps[..., channel]
    fig = Figure(figsize=(width, width * mosaic.shape[0] / mosaic.shape[1] + 0.5), layout="constrained")
    ax = fig.subplots()
    picture = ax.imshow(mosaic, cmap="magma", interpolation="nearest")
    fig.colorbar(picture, ax=ax, shrink=0.8).ax.tick_params(labelsize=7)
    ax.set_frame_on(False)
    _plain(ax)
    ax.set_title(f"encoding {height}x{map_width}x{channels}: the {shown} most active channels", fontsize=9)
    return fig


# --- The notebooks' teaching figures --------------------------------------------------------------

def architecture_figure(settings, width: float = 10.0) -> Figure:
    """The autoencoder as boxes: the shared encoder feeding two decoders, with each layer's shape.

    `settings` is a `model.ModelSettings` or a preset name. Each box is one block (a 5x5
    stride-2 conv, a dense layer, an upscale: conv to 4x the channels and a pixel shuffle)
    labelled with its output shape; the box height grows with the map's side. Drawn from the
    settings alone: nothing is built.
    """
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    from swapface import model as models  # lazily: model imports Keras

    s = models.get_preset(settings)
    size = s.image_size
    side = size // 2 ** len(s.encoder_filters)
    encoder = [("input", (size, size, 3))]
    encoder += [(f"conv {i}", (size // 2 ** i, size // 2 ** i, f)) for i, f in enumerate(s.encoder_filters, 1)]
    encoder += [("dense", (s.encoder_dim,)), ("dense", (side, side, s.dense_channels)),
                ("upscale", (2 * side, 2 * side, s.encoder_upscale))]
    decoder = [(f"upscale {i}", (2 * side * 2 ** i, 2 * side * 2 ** i, f)) for i, f in enumerate(s.decoder_filters, 1)]
    decoder += [("conv, sigmoid", (size, size, 4 if getattr(s, "learned_mask", False) else 3))]
    columns = len(encoder) + len(decoder)
    fig = Figure(figsize=(width, width * 0.36), layout="constrained")
    ax = fig.subplots()
    ax.set(xlim=(-0.6, columns - 0.4), ylim=(0, 1))
    ax.set_axis_off()

    def height(shape) -> float:  # a 64 px map is tall, the dense code short
        return 0.06 + 0.035 * (math.log2(shape[0]) if len(shape) == 3 else 0)

    def box(x, y, label, shape, colour):
        h = height(shape)
        ax.add_patch(FancyBboxPatch((x - 0.36, y - h / 2), 0.72, h, boxstyle="round,pad=0.01",
                                    facecolor=colour, edgecolor="0.3", linewidth=0.8))
        ax.text(x, y + h / 2 + 0.015, label, ha="center", va="bottom", fontsize=7.5)
        ax.text(x, y - h / 2 - 0.015, "x".join(str(n) for n in shape), ha="center", va="top", fontsize=7)
        return h

    def arrow(x0, y0, x1, y1):
        ax.add_patch(FancyArrowPatch((x0 + 0.38, y0), (x1 - 0.38, y1), arrowstyle="-|>", mutation_scale=8,
                                     color="0.35", linewidth=0.8))

    middle, rows = 0.5, {"a": 0.8, "b": 0.2}
    for x, (label, shape) in enumerate(encoder):
        box(x, middle, label, shape, "#cfe2f3" if x else "0.92")
        if x:
            arrow(x - 1, middle, x, middle)
    start = len(encoder)
    for side_name, y in rows.items():
        arrow(start - 1, middle, start, y)
        for x, (label, shape) in enumerate(decoder, start):
            box(x, y, label, shape, "#f4cccc" if side_name == "a" else "#d9ead3")
            if x > start:
                arrow(x - 1, y, x, y)
        ax.text(columns - 0.4, y, f"  face of {side_name.upper()}", ha="left", va="center", fontsize=8)
    ax.text((len(encoder) - 1) / 2, 0.02, "shared encoder: one for both people", ha="center", fontsize=9,
            color="tab:blue")
    ax.text(start + (len(decoder) - 1) / 2, 0.56, "decoder A: draws A", ha="center", va="center", fontsize=9,
            color="tab:red")
    ax.text(start + (len(decoder) - 1) / 2, 0.44, "decoder B: draws B", ha="center", va="center", fontsize=9,
            color="tab:green")
    ax.set_title(f"the {s.name!r} model: {models.count_params(s):,} parameters", fontsize=9)
    return fig


def warp_strength_figure(image: np.ndarray | str | Path, jitter: float = 5.0, seed: int = 0,
                         width: float = 7.5) -> Figure:
    """`warp_figure` for one crop at a given warp strength: the control points' noise `jitter`
    (std in pixels of a 256 px crop; 2017: 5). Same `seed`, same directions: only the size of
    the distortion changes, so a slider over `jitter` shows what the warp does."""
    from swapface import warp

    crop = media.read_image(image) if isinstance(image, (str, Path)) else image
    grid = warp.warp_grid(crop.shape, np.random.default_rng(seed), warp.WarpSettings(jitter=jitter))
    fig = warp_figure(crop, grid, *warp.warp_with_grid(crop, grid), width=width)
    fig.suptitle(f"jitter {jitter:g} px", fontsize=9)
    return fig


def swap_settings_figure(frame: np.ndarray, decoded: np.ndarray, landmarks: np.ndarray, matrix: np.ndarray,
                         coverage: float = 1.0, mask: str = "face", erode: float = 0.05, feather: float = 0.08,
                         color: str = "lab", seamless: bool = False, width: float = 7.5) -> Figure:
    """One swap blended with the given `swap.SwapSettings` values (the defaults are its own):
    the frame's face region, the swap, and the blend mask. For live controls (`notebook.explore`)."""
    from swapface import swap

    settings = swap.SwapSettings(mask=mask, erode=erode, feather=feather, color=color, seamless=seamless)
    size = decoded.shape[0]
    result = swap.blend(frame, decoded, landmarks, matrix, settings, coverage)
    weights = swap.make_mask(frame.shape, landmarks, matrix, mask, erode, feather, size, coverage, settings.forehead)
    x0, y0, x1, y1 = swap.face_region(frame.shape, matrix, size)
    fig = face_grid([frame[y0:y1, x0:x1], result[y0:y1, x0:x1], (weights[y0:y1, x0:x1] * 255).astype(np.uint8)],
                    ["frame", f"{mask}, {color}{' + seamless' if seamless else ''}", "mask"], columns=3,
                    cell=width / 3)
    return mark_synthetic(fig)
