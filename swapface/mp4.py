"""Writing videos: H.264 mp4 from frames, with another file's sound and subtitles copied.

The source's sound and subtitle packets are copied unchanged (no re-encoding, so no loss
and no drift), interleaved with the new video by time. Read back with `swapface.videoio`.

Example:
    >>> import numpy as np
    >>> from swapface import mp4, videoio
    >>> writer = mp4.VideoWriter(Path("grey.mp4"), (64, 48), 25, None, crf=18)
    >>> for _ in range(5):
    ...     writer.send(np.full((48, 64, 3), 128, np.uint8))
    >>> writer.close()
    >>> videoio.video_info("grey.mp4").frames
    5
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from swapface.videoio import open_video, origin


class VideoWriter:
    """H.264 mp4 from uint8 BGR frames at a constant rate, with another file's sound copied.

    Every audio track, and subtitles mp4 can hold (mov_text), are copied packet for packet,
    interleaved with the video by time, so a long video never queues in memory; `notes`
    says which tracks could not be kept. Their timestamps count from the source's `origin`,
    as `videoio.iter_timed_frames` does. Every FFmpeg failure (a full disk, an unwritable folder)
    raises OSError naming `name`, the file the user asked for (`path` may be a temporary).
    """

    def __init__(self, path: Path, size: tuple[int, int], fps: float, audio_from: Path | None, crf: int,
                 tags: dict[str, str] | None = None, name: Path | None = None, aspect: Fraction | None = None):
        self.name = name or path
        self.rate = Fraction(fps).limit_denominator(1001)  # 29.97 stays 30000/1001, exactly
        self.count = 0
        self.source, self.copies, self.held = None, {}, None  # copies: source track index -> output track
        self.notes: list[str] = []  # the source's tracks that could not be kept
        try:
            self.container = av.open(str(path), "w", format="mp4")
            self.container.metadata.update(tags or {})
            self.video = self.container.add_stream("libx264", rate=self.rate)
            self.video.width, self.video.height = size
            self.video.pix_fmt = "yuv420p"  # 4:2:0: what every player reads
            self.video.options = {"crf": str(crf), "preset": "veryfast"}
            if aspect:  # anamorphic pixels (DV, some phones) stay as wide as they were shown
                self.video.codec_context.sample_aspect_ratio = aspect
            if audio_from is not None:
                self._add_copies(Path(audio_from))
        except av.error.FFmpegError as err:
            self.abort()
            raise self._failure(err) from None

    def _add_copies(self, source: Path) -> None:
        self.source = av.open(str(source))
        kept = []
        for stream in self.source.streams:
            if stream.type == "video":
                continue  # the picture is ours; other video tracks are `VideoInfo.notes`' business
            try:
                if stream.type not in ("audio", "subtitle"):
                    raise ValueError(f"an mp4 holds no {stream.type} tracks")
                self.copies[stream.index] = self.container.add_stream_from_template(stream)
                kept.append(stream)
            except ValueError as err:
                codec = stream.codec_context.name if stream.codec_context else "unknown"
                self.notes.append(f"{stream.type} track {stream.index} ({codec}) not kept: {err}")
        if kept:
            with open_video(source) as (container, video):
                zero = origin(container, video)
            self.packets = self._packets(kept, zero)
            self.held = next(self.packets, None)

    def _packets(self, streams: list, zero: float) -> Iterator[av.Packet]:
        """The copied tracks' packets in file order, their times counted from `zero` (seconds)."""
        for packet in self.source.demux(*streams):
            if packet.dts is None:  # skip the flush packets
                continue
            shift = round(zero / packet.time_base)
            packet.dts -= shift
            if packet.pts is not None:
                packet.pts -= shift
            yield packet

    def _mux_copies_until(self, seconds: float | None) -> None:
        """Copy the source's packets that start before `seconds` (all of them for None)."""
        while self.held is not None and (seconds is None or self.held.dts * self.held.time_base <= seconds):
            self.held.stream = self.copies[self.held.stream.index]
            self.container.mux(self.held)
            self.held = next(self.packets, None)

    def _mux(self, packets) -> None:
        for packet in packets:
            if packet.dts is not None:
                self._mux_copies_until(packet.dts * packet.time_base)
            self.container.mux(packet)

    def send(self, frame: np.ndarray, slot: int | None = None) -> None:
        """Encode a frame (uint8 BGR (H, W, 3) of the writer's size) shown from `slot` / fps
        seconds on (default: right after the previous one)."""
        picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="bgr24")
        self.count = self.count if slot is None else slot
        picture.pts = self.count  # the stream's time base is 1 / rate: one tick per frame
        self.count += 1
        try:
            self._mux(self.video.encode(picture))
        except (av.error.FFmpegError, OSError) as err:
            raise self._failure(err) from None

    def close(self) -> None:
        """Flush the encoder, copy the remaining tracks and finish the file (OSError if it fails)."""
        try:
            self._mux(self.video.encode(None))
            self._mux_copies_until(None)  # all of it, as long as the source's
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
