"""Video files in and out through one library: PyAV (FFmpeg's own libraries, in process).

Reading yields each frame with its own timestamp; writing encodes H.264 and copies the
source's audio packets unchanged (no re-encoding, so no loss and no drift). The frame
rate, the audio track's length and our synthetic label are read from the container's
metadata, so nothing parses FFmpeg's messages.

Example:
    >>> from swapface import videoio
    >>> info = videoio.video_info("data/video/obama_silent_b.mp4")
    >>> info.width, info.height, round(info.fps, 2), info.frames, round(info.audio, 1)
    (1280, 720, 29.97, 29, 1.0)
"""

from __future__ import annotations

import contextlib
import logging
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

    width: int  # frame width in pixels
    height: int  # frame height in pixels
    fps: float  # frames per second (the stream's average rate)
    frames: int  # frame count from the container (an estimate from duration x fps where it has none)
    audio: float | None  # seconds of the first audio track, None where there is none


@contextlib.contextmanager
def open_video(path: str | Path) -> Iterator[av.container.InputContainer]:
    """An open container with a video stream; MediaError naming the file if there is none."""
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
        yield container
    finally:
        container.close()


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
    """Size, frame rate, frame count and audio length of a video; MediaError if unreadable."""
    with open_video(path) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or 0
        frames = stream.frames
        if not frames and stream.duration and rate:  # Matroska and raw streams store no count
            frames = round(stream.duration * stream.time_base * rate)
        elif not frames and container.duration and rate:
            frames = round(container.duration / av.time_base * rate)
        return VideoInfo(stream.codec_context.width, stream.codec_context.height, float(rate), int(frames or 0),
                         _audio_seconds(container))


def _decoded(path: Path, container: av.container.InputContainer) -> Iterator[av.VideoFrame]:
    """The video's frames in order; at a damaged stretch the file ends there, with a warning.

    A truncated download or a cut-off recording keeps what it holds up to the damage, as a
    player shows it; a file with no frame at all is an error (see `iter_frames`).
    """
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"  # FFmpeg decodes on threads of its own, frames and slices in parallel
    count = 0
    try:
        for frame in container.decode(stream):
            count += 1
            yield frame
    except av.error.FFmpegError as err:
        log.warning("%s: damaged video, read up to frame %d (%s)", path, count, err.strerror or err)


def iter_frames(path: str | Path, every: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (frame index, uint8 BGR frame (H, W, 3)) for every `every`-th frame.

    One frame is in memory at a time; skipped frames are decoded (H.264 needs them) but
    never converted to arrays. MediaError if the file is not a video or holds no frame.
    """
    path = Path(path)
    index = 0
    with open_video(path) as container:
        for index, frame in enumerate(_decoded(path, container), start=1):
            if (index - 1) % every == 0:
                yield index - 1, frame.to_ndarray(format="bgr24")
    if index == 0:
        raise media.MediaError(path, "video holds no frames")


def iter_timed_frames(path: str | Path) -> Iterator[tuple[int, float, np.ndarray]]:
    """Yield (frame index, seconds from the first frame, uint8 BGR frame) for every frame.

    The time is the frame's own timestamp: in a variable-frame-rate video (phones, screen
    recordings) index / fps can be seconds away from it. MediaError as `iter_frames`.
    """
    path = Path(path)
    index, start = 0, None
    with open_video(path) as container:
        for index, frame in enumerate(_decoded(path, container), start=1):
            seconds = frame.time if frame.time is not None else (index - 1) / float(container.streams.video[0].average_rate)
            start = seconds if start is None else start
            yield index - 1, seconds - start, frame.to_ndarray(format="bgr24")
    if index == 0:
        raise media.MediaError(path, "video holds no frames")


def audio_seconds(path: str | Path) -> float | None:
    """Seconds of the first audio track of a media file, or None if it has none."""
    return video_info(path).audio


def read_tag(path: str | Path, key: str = "comment") -> str | None:
    """A metadata tag of a media file's container (`comment` holds our synthetic label), or None."""
    with open_video(path) as container:
        return container.metadata.get(key)


class VideoWriter:
    """H.264 mp4 from uint8 BGR frames at a constant rate, with another file's audio copied.

    Audio packets are copied as they are, interleaved with the video by time, so a long
    video never queues in memory. Every FFmpeg failure (a full disk, an unwritable folder)
    raises OSError naming `name`, the file the user asked for (`path` may be a temporary).
    """

    def __init__(self, path: Path, size: tuple[int, int], fps: float, audio_from: Path | None, crf: int,
                 tags: dict[str, str] | None = None, name: Path | None = None):
        self.name = name or path
        self.rate = Fraction(fps).limit_denominator(1001)  # 29.97 stays 30000/1001, exactly
        self.count = 0
        self.source = self.audio = None
        try:
            self.container = av.open(str(path), "w", format="mp4")
            self.container.metadata.update(tags or {})
            self.video = self.container.add_stream("libx264", rate=self.rate)
            self.video.width, self.video.height = size
            self.video.pix_fmt = "yuv420p"  # 4:2:0: what every player reads
            self.video.options = {"crf": str(crf), "preset": "veryfast"}
            if audio_from is not None:
                self.source = av.open(str(audio_from))
                self.audio = self.container.add_stream_from_template(self.source.streams.audio[0])
                self.packets = self._audio_packets()
                self.held = next(self.packets, None)
        except av.error.FFmpegError as err:
            self.abort()
            raise self._failure(err) from None

    def _audio_packets(self) -> Iterator[av.Packet]:
        for packet in self.source.demux(self.source.streams.audio[0]):
            if packet.dts is not None:  # skip the flush packet
                yield packet

    def _mux_audio_until(self, seconds: float | None) -> None:
        """Copy the source's audio packets that start before `seconds` (all of them for None)."""
        while self.held is not None and (seconds is None or self.held.dts * self.held.time_base <= seconds):
            self.held.stream = self.audio
            self.container.mux(self.held)
            self.held = next(self.packets, None)

    def _mux(self, packets) -> None:
        for packet in packets:
            if self.audio is not None and packet.dts is not None:
                self._mux_audio_until(packet.dts * packet.time_base)
            self.container.mux(packet)

    def send(self, frame: np.ndarray) -> None:
        """Encode the next frame (uint8 BGR (H, W, 3) of the writer's size)."""
        picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="bgr24")
        picture.pts = self.count  # the stream's time base is 1 / rate: one tick per frame
        self.count += 1
        try:
            self._mux(self.video.encode(picture))
        except (av.error.FFmpegError, OSError) as err:
            raise self._failure(err) from None

    def close(self) -> None:
        """Flush the encoder, copy the remaining audio and finish the file (OSError if it fails)."""
        try:
            self._mux(self.video.encode(None))
            if self.audio is not None:
                self._mux_audio_until(None)  # all of it, as long as the source's
            self.container.close()
        except (av.error.FFmpegError, OSError) as err:
            self.abort()
            raise self._failure(err) from None
        if self.source is not None:
            self.source.close()

    def abort(self) -> None:
        """Stop without finishing the file (the caller deletes it)."""
        for container in (getattr(self, "container", None), self.source):
            with contextlib.suppress(Exception):  # closing a failed file fails again; nothing to save
                if container is not None:
                    container.close()

    def _failure(self, err: Exception) -> OSError:
        why = getattr(err, "strerror", None) or str(err)
        return OSError(f"{self.name}: could not write the video: {why}")
