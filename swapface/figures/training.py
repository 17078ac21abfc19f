"""Notebook 2's figures: the warp, the model, training previews, loss curves, feature maps."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from swapface import geometry, media
from swapface.figures.common import mark_synthetic, plain, rgb, to_uint8


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
            plain(ax)
            if column < len(images):
                ax.imshow(rgb(to_uint8(images[column])))
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


def learning_curve_figure(points: Sequence[dict], names: dict[str, str],
                          detail_target: float | dict[str, float] | None = None, genuine: float = 0.33,
                          marks: Sequence[tuple[float, str]] = ()) -> Figure:
    """Held-out quality per training hour: recognised as the target, median distance, detail.

    `points` are `evaluate.identity_check` results with "hours" added, one per checkpoint;
    `names` maps "a2b", "b2a" to a direction's label. `detail_target` draws the detail ratio
    aimed at (one for both, or one per direction key); `genuine` is where genuine photos of a
    person lie from their own centroid; `marks` are (hour, label) events drawn as vertical lines
    (a recipe change, a model grown to 128 px).
    """
    fig = Figure(figsize=(10, 3.2), layout="constrained")
    recognised, distance, detail = fig.subplots(1, 3)
    hours = [point["hours"] for point in points]
    for key, label in names.items():
        recognised.plot(hours, [point[key]["recognised"] for point in points], marker="o", label=label)
        distance.plot(hours, [point[key]["median_to_target"] for point in points], marker="o", label=label)
        detail.plot(hours, [point[key].get("detail_ratio", float("nan")) for point in points], marker="o", label=label)
    recognised.set(ylabel="recognised as the target", ylim=(0, 1.05))
    distance.set(ylabel="median distance to the target", ylim=(0.3, None))
    distance.axhline(genuine, color="0.5", linestyle=":", linewidth=0.8, label="genuine photos")
    detail.set(ylabel="detail ratio (1: as sharp as the frame)", ylim=(0, None))
    targets = detail_target if isinstance(detail_target, dict) else {None: detail_target}
    colours = {key: line.get_color() for key, line in zip(names, detail.get_lines())}
    for key, target in targets.items():
        if target is not None:  # dashed, in the colour of its direction
            detail.axhline(target, color=colours.get(key, "0.5"), linestyle="--", linewidth=0.8,
                           label=f"aimed at: {target:g}")
            detail.set_ylim(0, max(detail.get_ylim()[1], 1.1 * target))  # an aim above the curve still shows
    for hour, label in marks:
        for ax in (recognised, distance, detail):
            ax.axvline(hour, color="0.6", linestyle=":", linewidth=0.8)
        recognised.annotate(label, (hour, 0.02), fontsize=6, rotation=90, ha="right", va="bottom", color="0.4")
    for ax in (recognised, distance, detail):
        ax.set_xlabel("training hours", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
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
    from swapface.geometry import umeyama

    crop = rgb(image)
    grid = np.asarray(grid, dtype=np.float64)
    points, size = grid.shape[0], np.asarray(warped).shape[0]
    step = np.arange(points) * size / (points - 1)
    output = np.stack(np.meshgrid(step, step), axis=-1).reshape(-1, 2)
    fitted = geometry.transform_points(output, np.linalg.inv(umeyama(grid.reshape(-1, 2), output))[:2])
    fitted = fitted.reshape(grid.shape)
    fig = Figure(figsize=(width, width * 0.3), layout="constrained")
    crop_ax, warped_ax, target_ax, diff_ax = fig.subplots(1, 4)
    crop_ax.imshow(crop)
    for lines, style in ((fitted, dict(color="tab:cyan", linestyle="--", linewidth=0.8)),
                         (grid, dict(color="yellow", linewidth=1.0))):
        for line in (*lines, *lines.transpose(1, 0, 2)):  # the rows, then the columns
            crop_ax.plot(line[:, 0], line[:, 1], **style)
    crop_ax.scatter(grid[..., 0].ravel(), grid[..., 1].ravel(), s=9, c="tab:red", linewidths=0, zorder=3)
    crop_ax.set_xlim(0, crop.shape[1])
    crop_ax.set_ylim(crop.shape[0], 0)
    crop_ax.set_title(f"{crop.shape[1]} px crop,\n{points}x{points} warp grid", fontsize=9)
    warped_ax.imshow(rgb(to_uint8(warped)))
    warped_ax.set_title(f"warped: the input\n({size} px)", fontsize=9)
    target_ax.imshow(rgb(to_uint8(target)))
    target_ax.set_title(f"target: what to draw\n({size} px)", fontsize=9)
    difference = np.abs(to_uint8(warped).astype(np.int16) - to_uint8(target)).mean(axis=-1)
    diff_ax.imshow(difference, cmap="gray", vmin=0, vmax=64)
    diff_ax.set_title(f"|warped - target|: mean\n{difference.mean():.1f} grey levels", fontsize=9)
    for ax in (crop_ax, warped_ax, target_ax, diff_ax):
        plain(ax)
    return fig


def loss_weights_figure(face: np.ndarray, eye_mouth: float = 3.0, width: float = 7.5) -> Figure:
    """What the masked loss counts, pixel by pixel, on one face with its weight channel.

    `face` is (S, S, 4): BGR and the region weights `batches.face_weights` makes (uint8 0 off
    the face, 128 on it, 255 on eyes and mouth; or the same in [0, 1], as a training target
    carries them). Drawn as the loss reads them (`losses.split_weights`): 0 off the face, 1 on
    it, `eye_mouth` on eyes and mouth; then the face as the loss sees it, each pixel's
    brightness scaled by its weight.
    """
    face = np.asarray(face)
    colour = to_uint8(face[..., :3])
    channel = face[..., 3].astype(np.float64) / (255.0 if face.dtype == np.uint8 else 1.0)
    on_face, priority = np.clip(2 * channel, 0, 1), np.clip(2 * channel - 1, 0, 1)
    weights = on_face + (eye_mouth - 1) * priority
    fig = Figure(figsize=(width, width * 0.36), layout="constrained")
    face_ax, weight_ax, seen_ax = fig.subplots(1, 3)
    face_ax.imshow(rgb(colour))
    face_ax.set_title(f"the face ({colour.shape[0]} px)", fontsize=9)
    shown = weight_ax.imshow(weights, cmap="magma", vmin=0, vmax=eye_mouth)
    colourbar = fig.colorbar(shown, ax=weight_ax, ticks=[0, 1, eye_mouth], shrink=0.8)
    colourbar.ax.tick_params(labelsize=7)
    weight_ax.set_title(f"loss weight: 0 off the face, 1 on it,\n{eye_mouth:g} on eyes and mouth", fontsize=9)
    seen_ax.imshow(rgb(to_uint8(colour * (weights / eye_mouth)[..., None] / 255.0)))
    seen_ax.set_title("what the loss counts\n(brightness x weight)", fontsize=9)
    for ax in (face_ax, weight_ax, seen_ax):
        plain(ax)
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
    plain(ax)
    ax.set_title(f"encoding {height}x{map_width}x{channels}: the {shown} most active channels", fontsize=9)
    return fig


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
