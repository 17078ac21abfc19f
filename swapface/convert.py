"""Stage 3 as a job: swap the faces in image files, folders and videos.

Outputs mirror the input names inside the output folder (`photo.jpg` -> `OUT/photo.jpg`,
`clip.mp4` -> `OUT/clip.mp4`), are labelled synthetic, and never replace an input. An
existing output is kept unless `overwrite` is set.

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

from swapface import alignments, faces, files, media, model as models, provenance, swap, video

log = logging.getLogger(__name__)


@dataclass
class ConvertReport:
    """What a conversion did; `skipped` lists (file, reason) for each input not converted."""

    output: Path
    images: int = 0  # images written
    videos: int = 0  # videos written
    faces: int = 0  # faces swapped
    written: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (file, what was done differently)

    def summary(self) -> str:
        lines = [f"converted {self.images} images and {self.videos} videos ({self.faces} faces) into {self.output}"]
        lines += [f"note {name}: {what}" for name, what in self.notes]
        lines += [f"skipped {name}: {why}" for name, why in self.skipped]
        return "\n".join(lines)


def resolve_side(net: models.FaceSwapModel, to: str | None = None, direction: str | None = None) -> str:
    """The decoder side ("a" or "b") to draw with, from `--to NAME` or `--direction a2b|b2a`."""
    if to is not None:
        return net.side(to)
    if direction in ("a2b", "b2a"):
        return direction[-1]
    raise ValueError(f"say who to swap to: a name ({' or '.join(net.names)}) or a direction a2b or b2a")


def side_by_side(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Input | output, uint8 BGR (H, 2W, 3)."""
    return np.hstack([before, after])


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


def _jobs(frame: np.ndarray, known: list[np.ndarray] | None, net: models.FaceSwapModel, settings: swap.SwapSettings,
          identity: faces.IdentityFilter | None) -> list[swap.FaceJob]:
    """The faces to swap in one image: its `known` landmarks from the alignments, else detected."""
    if known is None:
        return swap.find_jobs([frame], net.settings, settings, identity)
    return [swap.face_job(0, points, net.settings) for points in known]


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


def _convert(plan: list[tuple[Path, Path]], output: Path, net: models.FaceSwapModel, to: str,
             settings: swap.SwapSettings, video_settings: video.VideoSettings, identity: faces.IdentityFilter | None,
             overwrite: bool, progress: bool, alignments: dict[Path, list[np.ndarray]] | None) -> ConvertReport:
    report = ConvertReport(output=output)
    name_max, fitting = _name_max(output), []
    for src, dst in plan:  # only the output's name can be too long: inputs' names fit, temporary ones are short
        length = len(os.fsencode(dst.name))
        if length > name_max:
            report.skipped.append((str(src), f"output name too long ({length} bytes, {output} holds {name_max}): "
                                             "rename the input"))
        else:
            fitting.append((src, dst))
    plan = fitting
    images = [(src, dst) for src, dst in plan if not media.is_video(src)]
    videos = [(src, dst) for src, dst in plan if media.is_video(src)]
    for src, dst in tqdm(images, desc="convert images", unit="image", disable=not progress or not images):
        if dst.exists() and not overwrite:
            report.skipped.append((str(src), f"{dst} exists (use --overwrite to replace it)"))
            continue
        try:
            frame = media.read_image(src)
        except media.MediaError as err:
            report.skipped.append((str(src), err.reason))
            continue
        frames = media.frames_in(src)
        if frames > 1:  # an image output holds one picture: say what was left out
            report.notes.append((str(src), f"only the first of its {frames} frames or pages converted"))
        known = (alignments or {}).get(src.resolve())  # None: not listed, so its faces are detected
        problems = sorted({alignments.landmarks_problem(points, frame.shape) for points in known or []} - {None})
        if problems:  # a face that cannot be swapped must not count as converted
            report.skipped.append((str(src), f"alignments: {', '.join(problems)}"))
            continue
        jobs = _jobs(frame, known, net, settings, identity)
        if not jobs:
            report.skipped.append((str(src), "no face found"))
            continue
        result = swap.swap_frames([frame], net, to, settings, jobs=jobs)[0]
        if video_settings.side_by_side:
            result = side_by_side(frame, result)
        if video_settings.mark:
            result = provenance.add_mark(result)
        provenance.write_image(dst, result)
        if dst.name != _output_path(src, output).name:
            report.notes.append((str(src), f"written as {dst.name}: another input has its name"))
        report.images += 1
        report.faces += len(jobs)
        report.written.append(dst)
    for src, dst in videos:
        if dst.exists() and not overwrite:
            report.skipped.append((str(src), f"{dst} exists (use --overwrite to replace it)"))
            continue
        try:
            result = video.convert_video(src, dst, net, to, settings, video_settings, identity, progress)
        except media.MediaError as err:
            report.skipped.append((str(src), err.reason))
            continue
        report.videos += 1
        report.faces += result.faces
        report.written.append(dst)
        report.notes += [(str(src), note) for note in result.notes]
    return report
