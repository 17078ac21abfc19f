"""Labelling what swapface makes as synthetic: in the file's metadata and, by default, visibly.

Every image and video written by the conversion stage goes through here. The metadata label
(a PNG text chunk, a JPEG comment, an mp4 `comment` tag) survives renaming; the visible mark
survives screenshots. `--no-mark` drops only the visible mark.

Example:
    >>> from swapface import provenance
    >>> provenance.write_image("out.png", provenance.add_mark(image))
    >>> provenance.read_label("out.png")
    'synthetic: face swapped by swapface'
"""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, PngImagePlugin

from swapface import media

LABEL = "synthetic: face swapped by swapface"
MARK_TEXT = "synthetic"


def add_mark(image: np.ndarray) -> np.ndarray:
    """A copy of uint8 BGR `image` with a small "synthetic" label in its bottom-right corner.

    The text scales with the image height, on a dark box so it reads on any background.
    """
    out = image.copy()
    height, width = out.shape[:2]
    scale = max(0.3, height / 900)
    thickness = max(1, int(round(scale * 1.5)))
    (text_w, text_h), base = cv2.getTextSize(MARK_TEXT, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    pad = max(2, int(4 * scale))
    x0, y0 = width - text_w - 3 * pad, height - text_h - base - 3 * pad
    box = out[max(y0, 0):height - pad, max(x0, 0):width - pad]
    box[:] = (box * 0.4).astype(np.uint8)
    cv2.putText(out, MARK_TEXT, (x0 + pad, height - base - 2 * pad), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (255, 255, 255), thickness, cv2.LINE_AA)
    return out


def encode_image(image: np.ndarray, suffix: str, quality: int = 95) -> bytes:
    """uint8 BGR `image` encoded as `suffix` (.png or .jpg) with the synthetic label inside."""
    rgb = Image.fromarray(np.ascontiguousarray(image[..., ::-1]))
    buffer = io.BytesIO()
    if suffix.lower() == ".png":
        info = PngImagePlugin.PngInfo()
        info.add_text("Comment", LABEL)
        info.add_text("Software", "swapface")
        rgb.save(buffer, format="PNG", pnginfo=info)
    elif suffix.lower() in (".jpg", ".jpeg"):
        rgb.save(buffer, format="JPEG", quality=quality, comment=LABEL.encode())
    else:
        raise ValueError(f"cannot label a {suffix} image: write .png or .jpg")
    return buffer.getvalue()


def write_image(path: str | Path, image: np.ndarray, quality: int = 95) -> Path:
    """Write a labelled .png or .jpg atomically."""
    path = Path(path)
    media.write_bytes_atomic(path, encode_image(image, path.suffix, quality))
    return path


def read_label(path: str | Path) -> str | None:
    """The synthetic label stored in an image file, or None."""
    with Image.open(path) as image:
        label = image.info.get("Comment") or image.info.get("comment")
    if isinstance(label, bytes):
        label = label.decode(errors="replace")
    return label


def video_metadata() -> list[str]:
    """ffmpeg output options that tag an mp4 as synthetic."""
    return ["-metadata", f"comment={LABEL}", "-metadata", "description=synthetic media"]
