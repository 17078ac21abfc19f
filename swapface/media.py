"""Reading and writing images and video frames, with clear errors for bad files.

Every reader returns uint8 BGR arrays of shape (H, W, 3), whatever the file held (gray,
RGBA, 16-bit), so the rest of the package handles one kind of image. A file that cannot be
used raises `MediaError`, whose message names the file and the problem; callers that work
through many files catch it, report it and go on.

Example:
    >>> from swapface import media
    >>> image = media.read_image("data/obama/c000_f00000.jpg")
    >>> image.shape, image.dtype
    ((480, 854, 3), dtype('uint8'))
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}
MAX_PIXELS = 200_000_000  # refuse absurd sizes before decoding them (a 14000 x 14000 photo)


class MediaError(Exception):
    """A file that cannot be used; the message is '<path>: <what is wrong>'."""

    def __init__(self, path: str | Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


def is_image(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def is_video(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def to_bgr8(image: np.ndarray) -> np.ndarray:
    """Any decoded image (gray, BGRA, 16-bit or float) as contiguous uint8 BGR (H, W, 3)."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)  # keep the top byte: exact for 8-bit content
    elif image.dtype != np.uint8:
        image = np.clip(image.astype(np.float32) * (255 if image.max() <= 1 else 1), 0, 255).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 1:
        return cv2.cvtColor(image[..., 0], cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        # Composite on white, as a viewer shows it, rather than keep whatever hides under alpha 0.
        alpha = image[..., 3:].astype(np.float32) / 255
        return (image[..., :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
    return np.ascontiguousarray(image[..., :3])


def _truncated_jpeg(data: bytes) -> bool:
    # OpenCV decodes a cut-off JPEG with a grey bottom and only a warning; the end-of-image
    # marker (FF D9) near the end is how we tell.
    return data[:2] == b"\xff\xd8" and b"\xff\xd9" not in data[-1024:]


def decode_image(data: bytes, name: str | Path = "<bytes>") -> np.ndarray:
    """Decode encoded image bytes to uint8 BGR (H, W, 3); raises MediaError naming `name`."""
    if not data:
        raise MediaError(name, "empty file (0 bytes)")
    if _truncated_jpeg(data):
        raise MediaError(name, "truncated JPEG (no end-of-image marker)")
    buffer = np.frombuffer(data, dtype=np.uint8)
    try:
        image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    except cv2.error as err:
        raise MediaError(name, f"cannot decode image ({err.msg.strip() if hasattr(err, 'msg') else err})") from err
    if image is None:
        raise MediaError(name, "not a readable image (unknown format or corrupt data)")
    if image.size == 0 or min(image.shape[:2]) < 1:
        raise MediaError(name, f"image has no pixels (shape {image.shape})")
    if image.shape[0] * image.shape[1] > MAX_PIXELS:
        raise MediaError(name, f"image too large ({image.shape[1]}x{image.shape[0]})")
    return to_bgr8(image)


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as uint8 BGR (H, W, 3); raises MediaError naming the file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as err:
        raise MediaError(path, "no such file") from err
    except IsADirectoryError as err:
        raise MediaError(path, "is a folder, not an image") from err
    except OSError as err:
        raise MediaError(path, f"cannot read ({err.strerror})") from err
    return decode_image(data, path)


def write_image(path: str | Path, image: np.ndarray, quality: int = 95) -> Path:
    """Write uint8 BGR `image` atomically: a crash never leaves half a file under `path`."""
    path = Path(path)
    ok, encoded = cv2.imencode(path.suffix or ".png", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise MediaError(path, "cannot encode image")
    write_bytes_atomic(path, encoded.tobytes())
    return path


def atomic_write(path: str | os.PathLike, write: Callable[[str], object]) -> Path:
    """Run `write(temporary_path)`, fsync, then rename over `path`: old file or new, never half.

    The temporary file sits in the same folder (so the rename is atomic) and ends with
    `path`'s name (Keras checks for ".weights.h5"). The result gets the usual permissions
    (mkstemp's are private), and the folder is fsynced so the rename survives a power cut.
    """
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp-{path.name}")
    os.close(handle)
    try:
        write(temporary)
        with open(temporary, "rb+") as written:
            os.fsync(written.fileno())
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)
    return path


def fsync_folder(folder: str | os.PathLike) -> None:
    """Make renames inside `folder` durable (survive a power cut); skipped where folders cannot be opened."""
    with contextlib.suppress(OSError):
        handle = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` atomically (see atomic_write)."""
    return atomic_write(path, lambda temporary: Path(temporary).write_bytes(data))


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds, as OpenCV reports it."""

    width: int  # frame width in pixels
    height: int  # frame height in pixels
    fps: float  # frames per second
    frames: int  # frame count from the container header (an estimate for some codecs)


def _open_video(path: Path) -> cv2.VideoCapture:
    if not path.exists():
        raise MediaError(path, "no such file")
    if path.stat().st_size == 0:
        raise MediaError(path, "empty file (0 bytes)")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise MediaError(path, "not a readable video")
    return capture


def video_info(path: str | Path) -> VideoInfo:
    """Size, frame rate and frame count of a video; raises MediaError if it cannot be opened."""
    path = Path(path)
    capture = _open_video(path)
    try:
        return VideoInfo(int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                         float(capture.get(cv2.CAP_PROP_FPS)), int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
    finally:
        capture.release()


def iter_frames(path: str | Path, every: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (frame index, uint8 BGR frame) for every `every`-th frame, one frame in memory.

    Skipped frames are only grabbed, not decoded into arrays. Raises MediaError if the
    file is not a video or holds no frame.
    """
    path = Path(path)
    capture = _open_video(path)
    index = 0
    try:
        while True:
            if index % every:
                if not capture.grab():
                    break
            else:
                ok, frame = capture.read()
                if not ok:
                    break
                yield index, frame
            index += 1
    finally:
        capture.release()
    if index == 0:
        raise MediaError(path, "video holds no frames")


def list_inputs(inputs: list[str | Path]) -> list[Path]:
    """Expand files and folders (one level, sorted) into the image and video files to read.

    A missing path raises MediaError; files inside folders with other suffixes are ignored,
    but a file named explicitly is always returned, so a bad one gets reported.
    """
    found = []
    for item in map(Path, inputs):
        if item.is_dir():
            found += sorted(p for p in item.iterdir() if p.is_file() and (is_image(p) or is_video(p)))
        elif item.exists():
            found.append(item)
        else:
            raise MediaError(item, "no such file or folder")
    return found


def prefetch(items: Iterable, depth: int = 8) -> Iterator:
    """Yield from `items` while a thread produces the next `depth` of them.

    Decoding (OpenCV releases the GIL) then overlaps the caller's work on the frames; the
    queue is bounded, so a long video never piles up in memory. An exception in the
    producer is raised in the caller.
    """
    slots: queue.Queue = queue.Queue(maxsize=depth)
    done, stop = object(), threading.Event()

    def produce():
        try:
            for item in items:
                if stop.is_set():
                    return
                slots.put((item, None))
        except BaseException as err:  # handed to the consumer, which re-raises it
            slots.put((None, err))
        slots.put((done, None))

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    try:
        while True:
            item, error = slots.get()
            if error is not None:
                raise error
            if item is done:
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                slots.get_nowait()
            except queue.Empty:
                thread.join(0.05)
