"""What every figure shares: colours of the face parts, BGR to RGB, atomic saving."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from swapface import files, geometry, media

# dlib's 68 points by part: (name, points, colour). The jaw is not used in the fit.
PARTS = (
    ("jaw", geometry.JAW, "0.6"),
    ("brows", geometry.BROWS, "tab:orange"),
    ("nose", geometry.NOSE, "tab:green"),
    ("eyes", geometry.EYES, "tab:red"),
    ("mouth", geometry.MOUTH, "tab:purple"),
)


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
    return files.write_bytes_atomic(path, data)


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


def plain(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def draw_landmarks(ax, points: np.ndarray, numbers: bool = False, size: float = 6) -> None:
    """Scatter (68, 2) points coloured by face part, optionally with their index."""
    for name, index, colour in PARTS:
        ax.scatter(points[index, 0], points[index, 1], s=size, c=colour, label=name, linewidths=0)
    if numbers:
        for i, (x, y) in enumerate(points):
            ax.annotate(str(i), (x, y), xytext=(2, 2), textcoords="offset points", fontsize=5, color="white")


def to_uint8(image: np.ndarray) -> np.ndarray:
    """float [0, 1] (as the network sees faces) or uint8, to uint8; out-of-range floats clipped."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


def number(value: float | None, spec: str) -> str:
    """`value` formatted by `spec`, or "n/a": NaN in memory and None in a reloaded
    metrics.json both mean "nothing measured"."""
    return "n/a" if value is None or not np.isfinite(value) else format(value, spec)
