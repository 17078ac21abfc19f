"""Stage 1 as a job: turn photos and videos of one person into a folder of aligned faces.

For each input image or video frame we find every face, drop the ones that are too small,
too blurry or of somebody else, and write each kept face as an aligned crop plus one
record in `alignments.json` (`swapface.alignments`), which the later stages reuse instead
of detecting again.

Videos are streamed: a reader thread decodes frames into a short queue while the main
thread finds faces, so memory stays constant and decoding overlaps detection.

Example:
    >>> from swapface.extract import ExtractSettings, extract
    >>> report = extract(["data/obama"], "faces/obama", ExtractSettings(), progress=False)
    >>> report.faces_kept, report.skipped
    (8, [])
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from swapface import alignments, diagnose, faces, files, geometry, media, videoio

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExtractSettings:
    """What to read, which faces to keep and how to write them."""

    every: int = 1  # read every Nth frame of a video (frames of one clip are near-duplicates)
    face_settings: faces.FaceSettings = faces.FaceSettings()  # detection and alignment: detector, crop size, coverage
    min_face: int = 40  # drop faces whose detected box is narrower than this, in source pixels
    blur_threshold: float = 10.0  # drop crops whose variance of the Laplacian is below this
    threshold: float = faces.SAME_PERSON  # identity filter: largest descriptor distance to a reference
    suffix: str = ".jpg"  # crop file type: .jpg is 10x smaller than .png at quality 95
    quality: int = 95  # JPEG quality of the crops

    def __post_init__(self):
        if self.every < 1:
            raise ValueError(f"every {self.every}: read every 1st, 2nd, ... frame (1 or more)")


@dataclass
class ExtractReport:
    """What an extraction did; `skipped` lists (file, reason) for every unusable file."""

    output: Path
    files_read: int = 0
    frames_read: int = 0
    faces_found: int = 0
    faces_kept: int = 0
    rejected: Counter = field(default_factory=Counter)  # reason -> faces dropped for it
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        """A few human-readable lines, as the CLI prints them."""
        lines = [f"files read: {self.files_read} ({self.frames_read} images or frames)",
                 f"faces found: {self.faces_found}, kept: {self.faces_kept}"
                 + "".join(f", {n} {why}" for why, n in sorted(self.rejected.items())),
                 f"aligned faces and {alignments.FILENAME} in {self.output}"]
        lines += [f"skipped {name}: {why}" for name, why in self.skipped]
        return "\n".join(lines)


def _frames(path: Path, every: int) -> Iterator[tuple[int | None, np.ndarray]]:
    if media.is_video(path):
        yield from videoio.iter_frames(path, every)
    else:
        yield None, media.read_image(path)


def _frames_of(paths: list[Path], every: int) -> Iterator[tuple[Path, int | None, object]]:
    """(path, frame, image) for every image and video frame; (path, None, MediaError) for bad files."""
    for path in paths:
        try:
            for frame, image in _frames(path, every):
                yield path, frame, image
        except media.MediaError as err:
            yield path, None, err


def _check_output(paths: list[Path], inputs: list[Path], output: Path) -> None:
    resolved = {p.resolve() for p in paths} | {p.resolve() for p in inputs}
    if output.resolve() in resolved or any(p.parent.resolve() == output.resolve() for p in paths):
        raise ValueError(f"{output}: the output folder holds inputs; choose another so no input is overwritten")


def face_name(path: Path, frame: int | None, index: int, suffix: str, stem: str | None = None) -> str:
    """File name of one crop: '<stem>_<face>' for images, '<stem>_f<frame>_<face>' for video.

    `stem` defaults to the file's own (see `unique_stems` for inputs whose stems clash).
    """
    stem = path.stem if stem is None else stem
    if frame is None:
        return f"{stem}_{index}{suffix}"
    return f"{stem}_f{frame:06d}_{index}{suffix}"


STEM_BYTES = 200  # the longest stem a crop name keeps of its input's, in bytes


def unique_stems(paths: list[Path]) -> dict[Path, str]:
    """A stem per input for naming its crops, unique even where file stems are not.

    `a/frame.jpg` and `b/frame.jpg`, or `photo.bmp` and `photo.webp`, would otherwise write
    the same crop names and overwrite each other. The first keeps its stem, later ones get
    '-2', '-3', ... Compared without case: some file systems ignore it.
    """
    stems, taken = {}, set()
    for path in paths:
        # A name near the system's 255-byte limit leaves no room for '_f000123_0.jpg': cut it.
        base = os.fsencode(path.stem)[:STEM_BYTES].decode("utf-8", errors="ignore")
        stem, number = base, 1
        while stem.casefold() in taken:
            number += 1
            stem = f"{base}-{number}"
        taken.add(stem.casefold())
        stems[path] = stem
    return stems


# alignments.json is rewritten after 1, 2, 4, ... kept faces and at least this often
# (seconds), so a full disk or a kill loses few records, at little cost for long runs.
ALIGNMENTS_EVERY = 30.0


def _remove_extraction(output: Path) -> None:
    """Delete an earlier extraction in `output`: its alignments.json and every image beside it.

    Training reads every image in the folder, so crops left from an earlier run (maybe of
    another person) would be trained on as if they were this run's.
    """
    removed = 0
    for path in output.iterdir():
        if path.name == alignments.FILENAME or (path.is_file() and media.is_image(path)) \
                or (path.name.startswith(".") and ".tmp-" in path.name):
            path.unlink()
            removed += 1
    log.info("%s: removed %d files of the earlier extraction", output, removed)


def _drop_undescribed(output: Path, written: list[str], described: int) -> None:
    """Delete the crops written after the last alignments.json that could be written.

    A crop that no record describes would still be trained on, and nothing would say where
    it came from.
    """
    for name in written[described:]:
        (output / name).unlink(missing_ok=True)
    if len(written) > described:
        log.warning("%s: removed %d crops that %s could not record", output, len(written) - described,
                    alignments.FILENAME)


def extract(inputs: list[str | Path], output: str | Path, settings: ExtractSettings = ExtractSettings(),
            identity: faces.IdentityFilter | None = None, progress: bool = True,
            overwrite: bool = False) -> ExtractReport:
    """Extract aligned faces from image files, folders and videos into `output`.

    Unreadable files are skipped and listed in the report, never fatal. Raises MediaError
    for a missing input, and ValueError when the output would overwrite an input, when
    another extraction is writing there, or, unless `overwrite`, when it holds an earlier
    extraction (which `overwrite` deletes first: crops and records).
    """
    output = Path(output)
    inputs = [Path(p) for p in inputs]
    paths = media.list_inputs(inputs)
    _check_output(paths, inputs, output)
    with files.lock_folder(output, "swapface extract"):
        if (output / alignments.FILENAME).exists():
            if not overwrite:
                raise ValueError(f"{output}: already holds extracted faces ({alignments.FILENAME}); "
                                 "use --overwrite to replace them, or another folder")
            _remove_extraction(output)
        return _extract(paths, output, settings, identity, progress)


def _extract(paths: list[Path], output: Path, settings: ExtractSettings, identity: faces.IdentityFilter | None,
             progress: bool) -> ExtractReport:
    report = ExtractReport(output=output)
    records, written, taken = [], [], set()
    described, last_write = 0, time.monotonic()  # records in the alignments.json on disk, and when
    stems = unique_stems(paths)
    face_settings = settings.face_settings
    seen_files: set[Path] = set()
    total = sum(1 for p in paths if not media.is_video(p)) + sum(_frame_estimate(p, settings.every) for p in paths
                                                              if media.is_video(p))
    bar = tqdm(total=total, unit="frame", desc="extract", disable=not progress)
    failure = None
    try:
        for path, frame, image in media.prefetch(_frames_of(paths, settings.every)):
            bar.update(1)
            if isinstance(image, media.MediaError):
                report.skipped.append((str(path), image.reason))
                log.warning("%s", image)
                continue
            if path not in seen_files:
                seen_files.add(path)
                report.files_read += 1
            report.frames_read += 1
            for index, face in enumerate(faces.find_faces(image, face_settings)):
                report.faces_found += 1
                crop = geometry.align(image, face.matrix, face_settings.size)
                reason = _rejection(face, crop, image, settings, identity)
                if reason:
                    report.rejected[reason] += 1
                    continue
                name = face_name(path, frame, index, settings.suffix, stems[path])
                if name.casefold() in taken:  # an image named like another input's video frame
                    name = f"{Path(name).stem}-{len(written)}{settings.suffix}"
                media.write_image(output / name, crop, settings.quality)
                written.append(name)
                taken.add(name.casefold())
                report.faces_kept += 1
                records.append(alignments.record(name, path, output, frame, index, face))
                if len(records) & (len(records) - 1) == 0 or time.monotonic() - last_write > ALIGNMENTS_EVERY:
                    alignments.write(output, records, face_settings.size, face_settings.coverage)
                    described, last_write = len(records), time.monotonic()
            bar.set_postfix(kept=report.faces_kept, refresh=False)
    except BaseException as err:
        failure = err
        raise
    finally:
        bar.close()  # also on errors, so the message after it starts on a line of its own
        try:  # interrupted too: the crops written stay usable
            alignments.write(output, records, face_settings.size, face_settings.coverage)
            described = len(records)
        except OSError as err:  # a full disk: keep crops and records in step, report the first error
            log.warning("%s: cannot write %s (%s)", output, alignments.FILENAME, err.strerror or err)
            _drop_undescribed(output, written, described)
            if failure is None:
                raise
            # else the first error (the crop that did not fit) goes on up
    for path in paths:  # a video that opened but gave no frame, or a file never reached
        if path not in seen_files and not any(name == str(path) for name, _ in report.skipped):
            report.skipped.append((str(path), "no frames could be read"))
    return report


def _frame_estimate(path: Path, every: int) -> int:
    try:
        return -(-max(videoio.video_info(path).frames, 1) // every)
    except media.MediaError:
        return 1


def _rejection(face: faces.Face, crop: np.ndarray, image: np.ndarray, settings: ExtractSettings,
               identity: faces.IdentityFilter | None) -> str | None:
    """Why a face is dropped ('too small', 'blurry', 'other identity'), or None to keep it."""
    if face.width < settings.min_face:
        return "too small"
    if diagnose.blur_score(crop) < settings.blur_threshold:
        return "blurry"
    if identity is not None and not identity.accepts(faces.descriptor(image, face.landmarks)):
        return "other identity"
    return None
