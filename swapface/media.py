"""Reading and writing images, with clear errors for bad files; input lists.

Videos are read and written by `swapface.videoio` (PyAV); this module says which files
are videos, and `videoio` raises the same `MediaError`. Every reader returns uint8 BGR
arrays of shape (H, W, 3), whatever the file held (gray, RGBA, 16-bit), so the rest of the
package handles one kind of image. A file that cannot be used raises `MediaError`, whose
message names the file and the problem; callers that work through many files catch it,
report it and go on.

Example:
    >>> from swapface import media
    >>> image = media.read_image("data/obama/c000_f00000.jpg")
    >>> image.shape, image.dtype
    ((480, 854, 3), dtype('uint8'))
"""

from __future__ import annotations

import contextlib
import io
import logging
import queue
import signal
import stat
import struct
import threading
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from swapface import files

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}
MAX_PIXELS = 100_000_000  # refuse absurd sizes before decoding them (a 14000 x 14000 photo): ~100 Mpx cameras pass
MAX_DECODED_BYTES = 800_000_000  # and refuse what would decode to more: a 16-bit RGBA PNG needs 8 bytes a pixel


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
    """Whether JPEG `data` stops before its end-of-image marker (FF D9).

    OpenCV decodes a cut-off JPEG with a grey bottom and only a warning, so we look for the
    marker ourselves. Not just at the very end: phone "motion photos" append a video after
    it. The header segments are skipped by their lengths (an EXIF thumbnail holds an FF D9
    of its own); after the first scan (FF DA) no other FF D9 can occur before the real one,
    since the coded data escapes every FF byte.
    """
    if data[:2] != b"\xff\xd8":
        return False
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return False  # not a marker where one must be: corrupt, left to the decoder to reject
        marker = data[position + 1]
        if marker == 0xFF:  # fill bytes before a marker
            position += 1
            continue
        if marker == 0xD9:
            return False
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            position += 2
            continue
        length = struct.unpack(">H", data[position + 2:position + 4])[0]
        if marker == 0xDA:  # start of scan: the coded data runs to the end-of-image marker
            return data.find(b"\xff\xd9", position + 2 + length) < 0
        position += 2 + length
    return True


# PNG colour types -> channels; IHDR gives them and the bit depth before any pixel is decoded.
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def _header(data: bytes) -> tuple[int, int, int, int]:
    """(width, height, bytes per decoded pixel, EXIF orientation 1-8) from the file's header.

    Read without decoding pixels, so a decompression bomb (a few MB that decode to GBs) is
    refused before it takes memory. (0, 0, 0, 1) when Pillow does not know the format:
    OpenCV's own limits then apply.
    """
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and len(data) >= 26:
        width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
        return width, height, max(1, depth // 8) * _PNG_CHANNELS.get(colour, 4), 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's own bomb warning: we decide below
            with Image.open(io.BytesIO(data)) as image:
                orientation = image.getexif().get(0x0112, 1) if image.format in ("JPEG", "TIFF", "WEBP", "MPO") else 1
                width, height = image.size
                depth = 2 if image.mode.startswith("I;16") else 4 if image.mode in ("I", "F") else 1
                return width, height, depth * len(image.getbands()), orientation if orientation in range(1, 9) else 1
    except Image.DecompressionBombError:
        return 1 << 20, 1 << 20, 4, 1  # over Pillow's hard limit, which is far above ours
    except Exception:  # noqa: BLE001 - any header Pillow cannot read is OpenCV's to judge
        return 0, 0, 0, 1


def _upright(image: np.ndarray, orientation: int) -> np.ndarray:
    """Turn decoded pixels as EXIF orientation 2-8 says they are shown (a phone held upright)."""
    if orientation in (2, 3, 4):
        return {2: image[:, ::-1], 3: image[::-1, ::-1], 4: image[::-1]}[orientation].copy()
    if orientation in (5, 6, 7, 8):
        turned = np.swapaxes(image, 0, 1)  # transpose, then flip: the four 90-degree cases
        return {5: turned, 6: turned[:, ::-1], 7: turned[::-1, ::-1], 8: turned[::-1]}[orientation].copy()
    return image


def decode_image(data: bytes, name: str | Path = "<bytes>") -> np.ndarray:
    """Decode encoded image bytes to uint8 BGR (H, W, 3), upright; raises MediaError naming `name`.

    The size is checked from the header first; the EXIF orientation of phone photos is
    applied (OpenCV's unchanged mode ignores it).
    """
    if not data:
        raise MediaError(name, "empty file (0 bytes)")
    if _truncated_jpeg(data):
        raise MediaError(name, "truncated JPEG (no end-of-image marker)")
    width, height, depth, orientation = _header(data)
    if width * height > MAX_PIXELS or width * height * depth > MAX_DECODED_BYTES:
        raise MediaError(name, f"image too large ({width}x{height}, {width * height * depth / 1e9:.1f} GB "
                               f"decoded; the limit is {MAX_PIXELS // 1_000_000} Mpx and "
                               f"{MAX_DECODED_BYTES / 1e9:.1f} GB)")
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
    return _upright(to_bgr8(image), orientation)


def frames_in(path: str | Path) -> int:
    """How many frames or pages an image file holds: more than 1 for an animated GIF, WebP or
    PNG, or a multi-page TIFF, of which `read_image` reads the first. 1 where Pillow cannot tell."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's bomb warning: read_image has judged the size
            with Image.open(path) as image:
                return int(getattr(image, "n_frames", 1))
    except (OSError, ValueError, Image.DecompressionBombError):  # not Pillow's format: OpenCV read one frame
        return 1


def regular_file(path: Path) -> None:
    """Raise MediaError unless `path` is a regular file: a FIFO or a device would block or never end."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as err:
        raise MediaError(path, "no such file") from err
    except OSError as err:
        raise MediaError(path, f"cannot read ({err.strerror})") from err
    if stat.S_ISDIR(mode):
        raise MediaError(path, "is a folder, not a file")
    if not stat.S_ISREG(mode):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else \
            "a socket" if stat.S_ISSOCK(mode) else "not a plain file"
        raise MediaError(path, f"not a regular file ({kind})")


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as uint8 BGR (H, W, 3); raises MediaError naming the file."""
    path = Path(path)
    regular_file(path)  # before opening: reading a FIFO waits forever for a writer
    try:
        data = path.read_bytes()
    except FileNotFoundError as err:
        raise MediaError(path, "no such file") from err
    except OSError as err:
        raise MediaError(path, f"cannot read ({err.strerror})") from err
    return decode_image(data, path)


def write_image(path: str | Path, image: np.ndarray, quality: int = 95) -> Path:
    """Write uint8 BGR `image` atomically: a crash never leaves half a file under `path`."""
    path = Path(path)
    ok, encoded = cv2.imencode(path.suffix or ".png", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise MediaError(path, "cannot encode image")
    files.write_bytes_atomic(path, encoded.tobytes())
    return path


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM (`kill`, a job scheduler, a machine shutting down) like Ctrl-C meanwhile.

    Both then raise KeyboardInterrupt, so what was being written is removed (a video's partial
    file) or saved (a checkpoint), never left half done. Only the main thread may set signal
    handlers; elsewhere this does nothing. The previous handler comes back afterwards.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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


def readable_frames(paths: list[str | Path], skipped: list | None) -> Iterator[tuple[Path, np.ndarray]]:
    """(path, uint8 BGR (H, W, 3) image) of each image in `paths` (files or folders) that reads.

    The others are logged and added to `skipped` as (file, reason): one bad frame must not
    stop a run over many (an evaluation, a set of reference faces).
    """
    for path in list_inputs(paths):
        try:
            if is_video(path):  # a folder of held-out frames may hold the clip they came from
                raise MediaError(path, "a video, not a frame (give one clip with --video)")
            yield path, read_image(path)
        except MediaError as err:
            log.warning("%s: skipped", err)
            if skipped is not None:
                skipped.append((str(path), err.reason))


def prefetch(items: Iterable, depth: int = 8) -> Iterator:
    """Yield from `items` while a thread produces the next `depth` of them.

    Decoding (FFmpeg releases the GIL) then overlaps the caller's work on the frames; the
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
