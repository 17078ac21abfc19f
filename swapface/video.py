"""Stage 3 on video: swap every frame, keep the sound, and keep the face from jittering.

Frames stream through in small batches: a thread decodes ahead, each batch's faces go
through the model in one call, and FFmpeg's H.264 encoder (through PyAV, `videoio`) works on
its own threads while the next batch is swapped. Memory does not grow with the video's length.

Landmarks found independently in each frame wobble by a pixel or two, which makes a
swapped face shimmer. We smooth them over time with an exponential moving average per
face track, and restart the tracks at scene cuts, where smoothing would drag a face
across the cut.

Example:
    >>> from swapface import saving, video
    >>> net = saving.load("weights")
    >>> report = video.convert_video("data/video/obama_silent_b.mp4", "out.mp4", net, to="trump", progress=False)
    >>> report.frames, report.faces, report.audio
    (29, 29, True)
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm.auto import tqdm

from swapface import faces, files, media, model as models, mp4, provenance, swap, videoio

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VideoSettings:
    """How a video is read, smoothed and written."""

    batch: int = 8  # frames whose faces go through the model in one call
    detect_every: int = 4  # run the detector every Nth frame and track the faces in between
    smooth: float = 0.6  # weight of the previous frame's landmarks (0 turns smoothing off)
    cut_threshold: float = 25.0  # mean grey-level change between frames that marks a scene cut
    match_distance: float = 0.3  # a face continues a track if it moved less than this x face width
    crf: int = 18  # x264 quality: lower is better and larger; 18 looks lossless
    mark: bool = True  # draw the visible "synthetic" mark (the metadata label is always written)
    side_by_side: bool = False  # write input | output next to each other (photos too, see `finish`)


def finish(before: np.ndarray, after: np.ndarray, settings: VideoSettings = VideoSettings()) -> np.ndarray:
    """The picture written for one swapped photo or video frame (uint8 BGR): input | output
    side by side where `settings.side_by_side`, with the visible mark where `settings.mark`."""
    picture = np.hstack([before, after]) if settings.side_by_side else after
    return provenance.add_mark(picture) if settings.mark else picture


@dataclass(frozen=True)
class VideoReport:
    """What converting one video did, made once its output is complete.

    One file's result; a conversion of many inputs keeps one of these per video in its
    `convert.ConvertReport`.
    """

    source: Path
    output: Path
    frames: int  # frames written
    faces: int  # faces swapped
    seconds: float  # wall time
    fps: float  # frame rate of the input, kept in the output
    audio: bool  # whether an audio track was copied
    notes: list[str]  # what was changed to write it (padding, frame timing, tracks not kept)


@dataclass
class Track:
    """One face followed across frames."""

    box: tuple[int, int, int, int]  # detector box (left, top, right, bottom) for the next frame
    offset: np.ndarray  # box centre minus landmark centre when it was detected
    landmarks: np.ndarray  # smoothed (68, 2) float64


@dataclass
class FaceTracker:
    """Finds the faces of each frame: detecting every few frames, tracking in between.

    Between detections the previous box, moved with the face, is enough for dlib's
    landmark predictor (3 ms instead of a 30 ms detection). Landmarks are smoothed with an
    exponential moving average per track; a scene cut drops all tracks and detects again.
    """

    settings: VideoSettings = field(default_factory=VideoSettings)
    face_settings: faces.FaceSettings = field(default_factory=faces.FaceSettings)
    identity: faces.IdentityFilter | None = None  # swap only the faces this accepts
    tracks: list[Track] = field(default_factory=list)
    previous: np.ndarray | None = None  # 64x36 grey thumbnail of the previous frame
    since_detection: int = 0

    def is_cut(self, gray: np.ndarray) -> bool:
        thumb = cv2.resize(gray, (64, 36), interpolation=cv2.INTER_AREA).astype(np.float32)
        cut = self.previous is not None and float(np.abs(thumb - self.previous).mean()) > self.settings.cut_threshold
        self.previous = thumb
        return cut

    def _smooth(self, points: np.ndarray, before: np.ndarray | None) -> np.ndarray:
        if before is None or self.settings.smooth <= 0:
            return points
        return self.settings.smooth * before + (1 - self.settings.smooth) * points

    def _nearest(self, points: np.ndarray) -> Track | None:
        centre, width = points.mean(axis=0), np.ptp(points[:, 0])
        best = min(self.tracks, key=lambda t: np.linalg.norm(t.landmarks.mean(axis=0) - centre), default=None)
        if best is not None and np.linalg.norm(best.landmarks.mean(axis=0) - centre) < self.settings.match_distance * width:
            return best
        return None

    def _detect(self, frame: np.ndarray, gray: np.ndarray, cut: bool) -> None:
        tracks = []
        for box in faces.detect(gray, self.face_settings):
            points = faces.landmarks(gray, box)
            if self.identity is not None and not self.identity.accepts(faces.descriptor(frame, points)):
                continue
            before = None if cut else self._nearest(points)
            offset = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]) - points.mean(axis=0)
            tracks.append(Track(box, offset, self._smooth(points, None if before is None else before.landmarks)))
        self.tracks = tracks
        self.since_detection = 0

    def _follow(self, gray: np.ndarray) -> None:
        for track in self.tracks:
            points = faces.landmarks(gray, track.box)
            track.landmarks = self._smooth(points, track.landmarks)
            half = np.array([track.box[2] - track.box[0], track.box[3] - track.box[1]]) / 2
            centre = points.mean(axis=0) + track.offset
            track.box = tuple(int(round(v)) for v in (*(centre - half), *(centre + half)))
        self.since_detection += 1

    def step(self, frame: np.ndarray) -> list[np.ndarray]:
        """Smoothed landmarks (each (68, 2) float64) of the faces to swap in uint8 BGR `frame`."""
        gray = faces.to_gray(frame)
        cut = self.is_cut(gray)
        if cut or not self.tracks or self.since_detection + 1 >= self.settings.detect_every:
            self._detect(frame, gray, cut)
        else:
            self._follow(gray)
        return [track.landmarks.copy() for track in self.tracks]


def _batches(frames, size: int):
    """Lists of up to `size` (seconds, frame) pairs from (index, seconds, frame) triples."""
    batch = []
    for _, seconds, frame in frames:
        batch.append((seconds, frame))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def even_size(width: int, height: int) -> tuple[int, int]:
    """The size H.264 in 4:2:0 (what every player reads) can store: both sides even."""
    return width + width % 2, height + height % 2


@dataclass
class ConstantRate:
    """Places frames with their own timestamps on a constant-rate timeline, as ffmpeg's cfr mode does.

    A variable-frame-rate video (a phone's) written frame after frame at its average rate
    drifts from its sound by seconds. Output frame k shows the input frame on screen at
    k / fps: each frame takes the slot nearest its time; of two frames in one slot the later
    wins (the earlier is dropped), and a frame stays on screen, repeated, until the next
    one's slot. So each frame is held until the next arrives; `finish` sends the last.
    Slots count from the file's start (`videoio.origin`): a video that starts after its
    sound starts at its own slot, not at 0. `send(frame, slot)` writes one frame.
    """

    fps: float
    written: int = 0  # frames sent to the encoder
    repeated: int = 0
    dropped: int = 0
    start: int = 0  # slot of the first frame
    pending: np.ndarray | None = None  # the frame that owns slot `start + written`, not sent yet

    def place(self, seconds: float, frame: np.ndarray, send) -> None:
        slot = int(round(seconds * self.fps))
        if self.pending is None:  # the first frame: the timeline begins at its slot
            self.start = max(slot, 0)
        else:
            if slot <= self.start + self.written:  # the same slot as the frame held: the newer one shows
                self.pending = frame
                self.dropped += 1
                return
            self.repeated += slot - self.start - self.written - 1
            while self.start + self.written < slot:
                send(self.pending, self.start + self.written)
                self.written += 1
        self.pending = frame

    def finish(self, send) -> None:
        if self.pending is not None:
            send(self.pending, self.start + self.written)
            self.written += 1
            self.pending = None


def convert_video(source: str | Path, output: str | Path, net: models.FaceSwapModel, to: str,
                  settings: swap.SwapSettings = swap.SwapSettings(),
                  video_settings: VideoSettings = VideoSettings(),
                  identity: faces.IdentityFilter | None = None, progress: bool = True) -> VideoReport:
    """Swap the faces of every frame of `source` to person `to`, writing an mp4 to `output`.

    Same size (padded to even sides, which H.264 needs, and said so in `notes`), same
    timing (each frame at its own timestamp, at the source's frame rate), its audio track
    copied, labelled synthetic. Raises MediaError for an unreadable or empty video, and
    OSError if the video cannot be written (a full disk). The output is written to a temporary name and
    renamed only once it is complete, so a failed run leaves no half file.
    """
    source, output = Path(source), Path(output)
    info = videoio.video_info(source)
    if info.fps <= 0:
        raise media.MediaError(source, "video reports no frame rate")
    width = info.width * (2 if video_settings.side_by_side else 1)
    padded = even_size(width, info.height)
    # Short, whatever the output's length (see files.hidden_name); the hash keeps two outputs apart.
    partial = output.with_name(hashlib.sha256(output.name.encode()).hexdigest()[:8].join(
        files.hidden_name(output, "partial")))
    notes, faces_swapped = [], 0
    if padded != (width, info.height):
        # Padding keeps every pixel where it was; a resize (imageio's way) blurs them all.
        notes.append(f"padded {width}x{info.height} to {padded[0]}x{padded[1]} "
                     "with copies of the edge pixels (H.264 needs even sides)")
    tracker = FaceTracker(video_settings, settings.faces, identity)
    timeline = ConstantRate(info.fps)
    start = time.perf_counter()
    encoder = mp4.VideoWriter(partial, padded, info.fps, source, video_settings.crf,
                                  tags=provenance.video_tags(), name=output, aspect=info.aspect)
    notes += [*info.notes, *encoder.notes]
    bar = tqdm(total=info.frames or None, unit="frame", desc="convert", disable=not progress)
    try:
        for batch in _batches(media.prefetch(videoio.iter_timed_frames(source)), video_settings.batch):
            frames = [frame for _, frame in batch]
            jobs = [swap.face_job(index, points, net.settings)
                    for index, frame in enumerate(frames) for points in tracker.step(frame)]
            swapped = swap.swap_frames(frames, net, to, settings, jobs=jobs)
            for (seconds, before), after in zip(batch, swapped):
                frame = finish(before, after, video_settings)
                if padded != frame.shape[1::-1]:
                    frame = cv2.copyMakeBorder(frame, 0, padded[1] - frame.shape[0], 0, padded[0] - frame.shape[1],
                                               cv2.BORDER_REPLICATE)
                timeline.place(seconds, frame, encoder.send)
            faces_swapped += len(jobs)
            bar.update(len(batch))
        timeline.finish(encoder.send)
        encoder.close()
        unsigned = provenance.label_video(partial)
        if unsigned:  # said in the summary: the warning alone is lost in the progress bar
            notes.append(f"no C2PA manifest ({unsigned}); the XMP and comment labels are in place")
        partial.replace(output)  # a name too long for the folder fails here: the partial file goes too
    except BaseException:
        encoder.abort()
        partial.unlink(missing_ok=True)
        raise
    finally:
        bar.close()
    if timeline.repeated or timeline.dropped:
        notes.append(f"variable frame rate: {timeline.repeated} frames repeated and {timeline.dropped} "
                     f"dropped to keep {info.fps:.3g} fps in step with the sound")
    report = VideoReport(source, output, frames=timeline.written, faces=faces_swapped,
                         seconds=time.perf_counter() - start, fps=info.fps, audio=info.audio is not None, notes=notes)
    log.info("%s: %d frames, %d faces in %.1f s", output, report.frames, report.faces, report.seconds)
    return report
