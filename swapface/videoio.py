"""Reading video files through PyAV (FFmpeg's own libraries, in process); `mp4` writes them.

Reading yields each frame upright (a phone video's display rotation applied) with its own
timestamp. The frame rate, rotation, the audio track's length and our synthetic label are
read from the container's metadata, so nothing parses FFmpeg's messages.

Example:
    >>> from swapface import videoio
    >>> info = videoio.video_info("data/video/obama_silent_b.mp4")
    >>> info.width, info.height, round(info.fps, 2), info.frames, round(info.audio, 1)
    (1280, 720, 29.97, 29, 1.0)
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from swapface import media

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds, as its container says."""

    width: int  # frame width in pixels, as shown (a phone video's rotation applied)
    height: int  # frame height in pixels, as shown
    fps: float  # frames per second the timestamps are on (see `frame_rate`)
    frames: int  # frame count from the container (an estimate from duration x fps where it has none)
    audio: float | None  # seconds of the first audio track, None where there is none
    rotation: int = 0  # degrees a player turns the decoded frames counter-clockwise (0, 90, 180, 270)
    start: float = 0.0  # seconds the first frame comes after the start of the earliest track (the sound's)
    aspect: Fraction | None = None  # sample (pixel) aspect ratio where pixels are not square, as shown
    notes: tuple[str, ...] = ()  # what of the picture an 8-bit H.264 copy cannot keep (HDR, a skipped still)


# Above this a stream's "real" frame rate is a clock, not frames (a still picture says 90000).
MAX_RATE = 240.0
STILL = av.stream.Disposition.attached_pic  # cover art: one picture stored as a video track
HDR_TRANSFERS = {16: "PQ (SMPTE 2084)", 18: "HLG (ARIB STD-B67)"}  # AVColorTransferCharacteristic values


def _video_stream(path: Path, container: av.container.InputContainer) -> av.video.stream.VideoStream:
    """The picture to convert: not cover art (an attached still), and of several tracks the one
    with the most packets at the start (Matroska stores cover art as a plain one-frame track)."""
    streams = [s for s in container.streams.video if not s.disposition & STILL] or list(container.streams.video)
    if len(streams) == 1:
        return streams[0]
    counts = Counter()
    with contextlib.suppress(av.error.FFmpegError), av.open(str(path)) as probe:  # a pass of its own: no seeking back
        for number, packet in enumerate(probe.demux(*(probe.streams[s.index] for s in streams))):
            counts[packet.stream.index] += 1
            if number >= 200:
                break
    return max(streams, key=lambda s: (counts[s.index], -s.index))


@contextlib.contextmanager
def open_video(path: str | Path) -> Iterator[tuple[av.container.InputContainer, av.video.stream.VideoStream]]:
    """(open container, its video stream); MediaError naming the file if there is none."""
    path = Path(path)
    media.regular_file(path)  # a FIFO or a device would block FFmpeg forever
    if path.stat().st_size == 0:
        raise media.MediaError(path, "empty file (0 bytes)")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError) as err:
        raise media.MediaError(path, "not a readable video") from err
    try:
        if not container.streams.video:
            raise media.MediaError(path, "not a readable video (no video track)")
        yield container, _video_stream(path, container)
    finally:
        container.close()


def _seconds(stream: av.stream.Stream) -> float | None:
    """When a track starts, in seconds of the file's clock, or None where the container says nothing."""
    return None if stream.start_time is None else float(stream.start_time * stream.time_base)


def origin(container: av.container.InputContainer, video: av.video.stream.VideoStream) -> float:
    """The file's time zero: the start of the earliest of the video and its sound tracks.

    Timestamps are kept relative to it on both sides, so a video that starts after its
    sound (or a recording whose clock starts at 10 s) stays in sync with it.
    """
    starts = [s for s in map(_seconds, [video, *container.streams.audio]) if s is not None]
    return min(starts, default=0.0)


def frame_rate(stream: av.video.stream.VideoStream) -> float:
    """The rate the frames' timestamps are on: FFmpeg's guess from their intervals (r_frame_rate).

    The average (frames over duration) is lower in a clip with a gap or a long last frame,
    and off in a trimmed one: written at it, frames would be dropped. For a variable-rate
    phone clip the guess is its usual rate. The average serves where the guess is absurd.
    """
    guess, average = stream.base_rate or stream.guessed_rate, stream.average_rate
    if guess and 1 <= guess <= MAX_RATE and (not average or guess >= average * 0.99):
        return float(guess)
    return float(average or guess or 0)


def _first_rotation(path: Path, index: int) -> int:
    """The display rotation of a video's first frame (0 where it cannot be decoded)."""
    with contextlib.suppress(av.error.FFmpegError, StopIteration), av.open(str(path)) as container:
        return _quarter_turns(next(container.decode(container.streams[index])).rotation) * 90
    return 0


def _quarter_turns(rotation: float) -> int:
    """Counter-clockwise quarter turns (0-3) nearest a display matrix's rotation in degrees."""
    return int(round(rotation / 90)) % 4


def _upright(frame: av.VideoFrame) -> np.ndarray:
    """uint8 BGR (H, W, 3) of a decoded frame, turned as its display matrix says a player shows it
    (a portrait phone video is stored landscape with a 90 or 270 degree rotation)."""
    pixels = frame.to_ndarray(format="bgr24")
    turns = _quarter_turns(frame.rotation)
    return np.ascontiguousarray(np.rot90(pixels, turns)) if turns else pixels


def _picture_notes(stream: av.video.stream.VideoStream, skipped: list) -> tuple[str, ...]:
    """What an 8-bit SDR H.264 copy of `stream` loses, and the video tracks not converted."""
    context, notes = stream.codec_context, []
    transfer = HDR_TRANSFERS.get(getattr(context, "color_trc", None))
    if transfer:
        notes.append(f"HDR ({transfer}) written as 8-bit SDR without tone mapping: colours look flat")
    elif context.format is not None and any(depth in context.format.name for depth in ("p10", "p12", "p16")):
        notes.append(f"{context.format.name} written as 8-bit")
    notes += [f"video track {s.index} ({s.codec_context.name}"
              f"{', cover art' if s.disposition & STILL else ''}) not converted: only track {stream.index} is"
              for s in skipped]
    return tuple(notes)


def _audio_seconds(container: av.container.InputContainer) -> float | None:
    """Length of the first audio track: as the container states it, else from its packets'
    timestamps (Matroska states none), which needs a pass over the file but no decoding."""
    if not container.streams.audio:
        return None
    stream = container.streams.audio[0]
    if stream.duration:
        return float(stream.duration * stream.time_base)
    first = end = None
    for packet in container.demux(stream):
        if packet.pts is None:  # the flush packet at the end
            continue
        first = packet.pts if first is None else min(first, packet.pts)
        end = max(end or packet.pts, packet.pts + (packet.duration or 0))
    return None if first is None else float((end - first) * stream.time_base)


def video_info(path: str | Path) -> VideoInfo:
    """Size as shown, frame rate, frame count, audio length and rotation of a video; MediaError if unreadable."""
    path = Path(path)
    with open_video(path) as (container, stream):
        rate = frame_rate(stream)
        frames = stream.frames
        if not frames and stream.duration and rate:  # Matroska and raw streams store no count
            frames = round(stream.duration * stream.time_base * rate)
        elif not frames and container.duration and rate:
            frames = round(container.duration / av.time_base * rate)
        rotation = _first_rotation(path, stream.index)
        width, height = stream.codec_context.width, stream.codec_context.height
        aspect = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
        if rotation in (90, 270):
            width, height = height, width
            aspect = 1 / aspect if aspect else aspect
        start = _seconds(stream)
        return VideoInfo(width, height, rate, int(frames or 0), _audio_seconds(container), rotation,
                         0.0 if start is None else start - origin(container, stream),
                         Fraction(aspect) if aspect and aspect != 1 else None,
                         _picture_notes(stream, [s for s in container.streams.video if s is not stream]))


def _decoded(path: Path, container: av.container.InputContainer,
             stream: av.video.stream.VideoStream) -> Iterator[av.VideoFrame]:
    """The video's frames in order; at a damaged stretch the file ends there, with a warning.

    A truncated download or a cut-off recording keeps what it holds up to the damage, as a
    player shows it; a file with no frame at all is an error (see `iter_frames`).
    """
    stream.thread_type = "AUTO"  # FFmpeg decodes on threads of its own, frames and slices in parallel
    count = 0
    try:
        for frame in container.decode(stream):
            count += 1
            yield frame
    except av.error.FFmpegError as err:
        log.warning("%s: damaged video, read up to frame %d (%s)", path, count, err.strerror or err)


def iter_frames(path: str | Path, every: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (frame index, uint8 BGR frame (H, W, 3), upright as shown) for every `every`-th frame.

    One frame is in memory at a time; skipped frames are decoded (H.264 needs them) but
    never converted to arrays. MediaError if the file is not a video or holds no frame.
    """
    path = Path(path)
    index = 0
    with open_video(path) as (container, stream):
        for index, frame in enumerate(_decoded(path, container, stream), start=1):
            if (index - 1) % every == 0:
                yield index - 1, _upright(frame)
    if index == 0:
        raise media.MediaError(path, "video holds no frames")


def iter_timed_frames(path: str | Path) -> Iterator[tuple[int, float, np.ndarray]]:
    """Yield (frame index, seconds from the file's start, uint8 BGR frame, upright) for every frame.

    The time is the frame's own timestamp: in a variable-frame-rate video (phones, screen
    recordings) index / fps can be seconds away from it. It counts from `origin`, so a
    video that starts after its sound keeps its offset. MediaError as `iter_frames`.
    """
    path = Path(path)
    index = 0
    with open_video(path) as (container, stream):
        zero = origin(container, stream)
        for index, frame in enumerate(_decoded(path, container, stream), start=1):
            seconds = frame.time - zero if frame.time is not None else (index - 1) / frame_rate(stream)
            yield index - 1, seconds, _upright(frame)
    if index == 0:
        raise media.MediaError(path, "video holds no frames")


def split_frames(path: str | Path, train: str | Path, held: str | Path, held_out: float = 0.25,
                 every: int = 1) -> tuple[list[Path], list[Path]]:
    """Write every `every`-th frame of a video as `<stem>_f<frame>.jpg`: the first
    1 - `held_out` of the clip into folder `train`, the last `held_out` into `held`.

    For a score on frames a model never trained on: split by time, since neighbouring
    frames are near-copies and a frame beside a training one says little. Returns the two
    lists of written paths, in frame order.
    """
    path, folders = Path(path), (Path(train), Path(held))
    if not 0 < held_out < 1:
        raise ValueError(f"held_out {held_out}: a share of the clip between 0 and 1")
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    cut = round(video_info(path).frames * (1 - held_out))
    written = ([], [])
    for index, frame in iter_frames(path, every):
        part = int(index >= cut)
        written[part].append(media.write_image(folders[part] / f"{path.stem}_f{index:04d}.jpg", frame))
    return written


def audio_seconds(path: str | Path) -> float | None:
    """Seconds of the first audio track of a media file, or None if it has none."""
    return video_info(path).audio


def read_tag(path: str | Path, key: str = "comment") -> str | None:
    """A metadata tag of a media file's container (`comment` holds our synthetic label), or None."""
    with open_video(path) as (container, _):
        return container.metadata.get(key)
