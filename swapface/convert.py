"""Stage 3 as a job: swap the faces in image files, folders and videos.

Outputs mirror the input names inside the output folder (`photo.jpg` -> `OUT/photo.jpg`,
`clip.mp4` -> `OUT/clip.mp4`), are labelled synthetic, and never replace an input. An
existing output is kept unless `overwrite` is set. Each image goes through `convert_image`,
each video through `video.convert_video`; both finish their pictures with `video.finish`
(input | output side by side, the visible mark).

Example:
    >>> from swapface import convert, saving
    >>> net = saving.load("weights")
    >>> report = convert.convert(["data/trump"], "swapped", net, to="obama")
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from swapface import faces, files, media, model as models, provenance, swap, video
# The function alone: `convert` takes an argument named alignments (the landmarks it read).
from swapface.alignments import landmarks_problem

log = logging.getLogger(__name__)


@dataclass
class ConvertReport:
    """What a conversion of many inputs did, filled in as it goes.

    Images are counted here; each video written keeps its own `video.VideoReport` (frames,
    timing, notes) in `videos`, so nothing of it is copied. `skipped` lists (file, reason)
    for each input not converted, `notes` (file, what was done differently) for images.
    """

    output: Path
    images: int = 0  # images written
    image_faces: int = 0  # faces swapped in them
    videos: list[video.VideoReport] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)  # every output, images then videos
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)

    @property
    def faces(self) -> int:
        """Faces swapped in all the images and videos."""
        return self.image_faces + sum(result.faces for result in self.videos)

    def summary(self) -> str:
        counts = f"{self.images} images and {len(self.videos)} videos ({self.faces} faces)"
        lines = [f"converted {counts} into {self.output}"]
        notes = self.notes + [(str(result.source), note) for result in self.videos for note in result.notes]
        lines += [f"note {name}: {what}" for name, what in notes]
        lines += [f"skipped {name}: {why}" for name, why in self.skipped]
        return "\n".join(lines)


def resolve_side(net: models.FaceSwapModel, to: str | None = None, direction: str | None = None) -> str:
    """The decoder side ("a" or "b") to draw with, from `--to NAME` or `--direction a2b|b2a`."""
    if to is not None:
        return net.side(to)
    if direction in swap.DIRECTIONS:
        return swap.DIRECTIONS[direction][1]
    raise ValueError(f"say who to swap to: a name ({' or '.join(net.names)}) or a direction a2b or b2a")


def _output_path(source: Path, output: Path) -> Path:
    suffix = source.suffix.lower()
    if media.is_video(source):
        return output / f"{source.stem}.mp4"
    return output / (source.name if suffix in (".png", ".jpg", ".jpeg") else f"{source.stem}.png")


def output_paths(paths: list[Path], output: Path) -> list[Path]:
    """The output file of each input: its mirrored name, made unique where two would clash.

    `a/frame.jpg` and `b/frame.jpg`, or `photo.bmp` and `photo.webp` (both written as
    .png), would otherwise overwrite each other; later ones get '-2', '-3', ... before the
    suffix. Compared without case, as some file systems do.
    """
    taken, result = set(), []
    for path in paths:
        target = _output_path(path, output)
        candidate, number = target, 1
        while candidate.name.casefold() in taken:
            number += 1
            candidate = target.with_name(f"{target.stem}-{number}{target.suffix}")
        taken.add(candidate.name.casefold())
        result.append(candidate)
    return result


def _name_max(folder: Path) -> int:
    """The longest file name, in bytes, that `folder` holds (255 on every common file system)."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # no pathconf (Windows) or no answer: the common limit
        return 255


def _name_problem(dst: Path, overwrite: bool, name_max: int) -> str | None:
    """Why `dst` cannot be written, or None: its name too long for the folder, or it exists."""
    length = len(os.fsencode(dst.name))  # only the output's can be too long: inputs' fit, temporary ones are short
    if length > name_max:
        return f"output name too long ({length} bytes, {dst.parent} holds {name_max}): rename the input"
    if dst.exists() and not overwrite:
        return f"{dst} exists (use --overwrite to replace it)"
    return None


def _jobs(frame: np.ndarray, known: list[np.ndarray] | None, net: models.FaceSwapModel, settings: swap.SwapSettings,
          identity: faces.IdentityFilter | None) -> list[swap.FaceJob]:
    """The faces to swap in one image: its `known` landmarks from the alignments, else detected."""
    if known is None:
        return swap.find_jobs([frame], net.settings, settings, identity)
    return [swap.face_job(0, points, net.settings) for points in known]


class Skipped(Exception):
    """Why one input is not converted: said in the report's summary, and the run goes on."""


def convert_image(src: Path, dst: Path, net: models.FaceSwapModel, to: str,
                  settings: swap.SwapSettings = swap.SwapSettings(),
                  video_settings: video.VideoSettings = video.VideoSettings(),
                  identity: faces.IdentityFilter | None = None, known: list[np.ndarray] | None = None) -> int:
    """Swap the faces of image file `src` to person `to` and write the labelled result to `dst`.

    `known` lists the image's (68, 2) landmarks from an extraction's alignments; without
    them its faces are detected. Returns the number of faces swapped; raises Skipped (or
    MediaError for an unreadable file) where nothing can be written.
    """
    frame = media.read_image(src)
    problems = sorted({landmarks_problem(points, frame.shape) for points in known or []} - {None})
    if problems:  # a face that cannot be swapped must not count as converted
        raise Skipped(f"alignments: {', '.join(problems)}")
    jobs = _jobs(frame, known, net, settings, identity)
    if not jobs:
        raise Skipped("no face found")
    swapped = swap.swap_frames([frame], net, to, settings, jobs=jobs)[0]
    provenance.write_image(dst, video.finish(frame, swapped, video_settings))
    return len(jobs)


def _convert(plan: list[tuple[Path, Path]], output: Path, net: models.FaceSwapModel, to: str,
             settings: swap.SwapSettings, video_settings: video.VideoSettings, identity: faces.IdentityFilter | None,
             overwrite: bool, progress: bool, alignments: dict[Path, list[np.ndarray]] | None) -> ConvertReport:
    """`convert` once its plan is checked and the output folder locked: images first, then videos."""
    report = ConvertReport(output=output)
    name_max = _name_max(output)
    writable = []
    for src, dst in plan:
        why = _name_problem(dst, overwrite, name_max)
        if why is None:
            writable.append((src, dst))
        else:
            report.skipped.append((str(src), why))
    images = [(src, dst) for src, dst in writable if not media.is_video(src)]
    videos = [(src, dst) for src, dst in writable if media.is_video(src)]
    for src, dst in tqdm(images, desc="convert images", unit="image", disable=not progress or not images):
        try:
            known = (alignments or {}).get(src.resolve())  # None: not listed, so its faces are detected
            report.image_faces += convert_image(src, dst, net, to, settings, video_settings, identity, known)
        except (media.MediaError, Skipped) as err:
            report.skipped.append((str(src), err.reason if isinstance(err, media.MediaError) else str(err)))
            continue
        frames = media.frames_in(src)
        if frames > 1:  # an image output holds one picture: say what was left out
            report.notes.append((str(src), f"only the first of its {frames} frames or pages converted"))
        if dst.name != _output_path(src, output).name:
            report.notes.append((str(src), f"written as {dst.name}: another input has its name"))
        report.images += 1
        report.written.append(dst)
    for src, dst in videos:
        try:
            result = video.convert_video(src, dst, net, to, settings, video_settings, identity, progress)
        except media.MediaError as err:
            report.skipped.append((str(src), err.reason))
            continue
        report.videos.append(result)
        report.written.append(dst)
    return report


def convert(inputs: list[str | Path], output: str | Path, net: models.FaceSwapModel, to: str,
            settings: swap.SwapSettings = swap.SwapSettings(),
            video_settings: video.VideoSettings = video.VideoSettings(),
            identity: faces.IdentityFilter | None = None, overwrite: bool = False,
            progress: bool = True, alignments: dict[Path, list[np.ndarray]] | None = None) -> ConvertReport:
    """Swap every face in `inputs` to person `to`, writing mirrored names into folder `output`.

    A bad file is skipped and reported; an output that would replace an input raises
    ValueError before anything is written. `alignments` ({image: [(68, 2) landmarks]},
    `alignments.landmarks_by_source`) gives an image's faces instead of detecting them.
    """
    output = Path(output)
    paths = media.list_inputs(inputs)
    plan = list(zip(paths, output_paths(paths, output)))
    sources = {p.resolve() for p in paths}
    clashes = [str(dst) for _, dst in plan if dst.resolve() in sources]
    if clashes:
        raise ValueError(f"{clashes[0]}: output would overwrite an input; choose another output folder")
    with files.lock_folder(output, "swapface convert"):  # two runs into one folder would mix their outputs
        return _convert(plan, output, net, to, settings, video_settings, identity, overwrite, progress, alignments)
