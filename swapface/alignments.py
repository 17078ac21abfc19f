"""alignments.json: what extraction recorded about each face it kept, for the later stages.

`swapface extract` writes one beside its crops, so that training, diagnostics and convert
reuse each face's landmarks instead of detecting it again:

    {"version": 1, "size": 256, "coverage": 0.625,     the crops' side and CROP_COVERAGE
     "faces": [{"file": "c000_f00000_0.jpg",           the crop, in this folder
                "source": "../data/obama/c000_f00000.jpg",   relative to this folder
                "frame": null, "face": 0,              video frame (null: an image), face index
                "box": [l, t, r, b],                   the detector's box, source pixels
                "landmarks": [[x, y], ... 68],         dlib's 68 points, source pixels
                "matrix": [[a, b, c], [d, e, f]]}]}    source pixels -> crop pixels

Example:
    >>> from swapface import alignments, extract
    >>> _ = extract.extract(["data/obama"], "faces/obama", progress=False)
    >>> document = alignments.read("faces/obama")
    >>> document["size"], document["faces"][0]["landmarks"].shape
    (256, (68, 2))
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from swapface import files, geometry, media

if TYPE_CHECKING:
    from swapface.faces import Face

log = logging.getLogger(__name__)

FILENAME = "alignments.json"
MAX_COORDINATE = 1e5  # px: farther than any image's side (media.MAX_PIXELS allows 100 Mpx)
MIN_SPAN = 2.0  # px: landmarks spanning less, across or down, are one point, not a face


def record(file: str, source: Path, folder: Path, frame: int | None, index: int, face: Face) -> dict:
    """The record of one kept face: crop `file` in `folder`, cut from `source` (its `frame`)."""
    return {"file": file, "source": os.path.relpath(source.resolve(), folder.resolve()),
            "frame": frame, "face": index, "box": list(face.box),
            "landmarks": face.landmarks.round(2).tolist(), "matrix": face.matrix.tolist()}


def write(folder: Path, records: list[dict], size: int, coverage: float) -> Path:
    """Write `folder`/alignments.json atomically: the crops' `size` and `coverage`, and the records."""
    document = {"version": 1, "size": size, "coverage": coverage, "faces": records}
    return files.write_bytes_atomic(Path(folder) / FILENAME, json.dumps(document, indent=1).encode())


def read(folder: str | Path) -> dict:
    """The alignments.json of an extraction folder, landmarks and matrices as float64 arrays.

    Sources come back as paths usable from the current directory. Raises MediaError naming
    the file for a missing, corrupt or foreign one, or a record that cannot be a face.
    """
    path = Path(folder) / FILENAME
    try:
        document = files.read_json(path, "alignments file")
    except FileNotFoundError as err:
        raise media.MediaError(path, "no alignments file: is this a folder written by swapface extract?") from err
    except OSError as err:
        raise media.MediaError(path, f"cannot read ({err.strerror})") from err
    except ValueError as err:  # corrupt, or not a JSON object: a bad file, as a bad image is
        raise media.MediaError(path, str(err).removeprefix(f"{path}: ")) from err
    # A hand-edited or foreign file must fail here, naming itself, not deep in a later stage.
    for key, kind in (("size", int), ("faces", list)):
        if not isinstance(document.get(key), kind) or isinstance(document.get(key), bool):
            problem = "is missing" if key not in document else f"is not a {kind.__name__}"
            raise media.MediaError(path, f"not an alignments file: '{key}' {problem}")
    for number, face in enumerate(document["faces"]):
        try:
            if not isinstance(face["file"], str) or not isinstance(face["source"], str):
                raise TypeError("file and source must be text")
            face["landmarks"] = np.array(face["landmarks"], dtype=np.float64).reshape(68, 2)
            face["matrix"] = np.array(face["matrix"], dtype=np.float64).reshape(2, 3)
        except (KeyError, TypeError, ValueError) as err:
            why = f"no {err}" if isinstance(err, KeyError) else str(err)
            raise media.MediaError(path, f"face record {number} is malformed ({why})") from err
        # Numbers that parse but cannot be a face end later in "SVD did not converge" or a blank swap.
        problem = landmarks_problem(face["landmarks"])
        matrix = face["matrix"]
        if problem is None and not (np.isfinite(matrix).all() and abs(np.linalg.det(matrix[:, :2])) > 1e-9):
            problem = "its matrix is not finite or maps the face to a point"
        if problem:
            raise media.MediaError(path, f"face record {number} ({face['file']}): {problem}")
        face["source"] = os.path.normpath(Path(folder) / face["source"])
    return document


def landmarks_problem(points: np.ndarray, shape: tuple[int, ...] | None = None) -> str | None:
    """What makes (68, 2) float landmarks unusable, or None: not finite, beyond any image, all in
    one point; with the image's `shape`, mostly outside it (recorded from another size of it)."""
    if not np.isfinite(points).all():
        return "landmarks are not finite numbers"
    if np.abs(points).max() > MAX_COORDINATE:
        return f"landmarks lie {np.abs(points).max():.3g} px away, beyond any image"
    if np.ptp(points, axis=0).min() < MIN_SPAN:
        return f"landmarks are degenerate (the face spans under {MIN_SPAN:g} px)"
    if shape is not None:
        height, width = shape[:2]
        inside = ((points >= 0) & (points < [width, height])).all(axis=1).mean()
        if inside < 0.5:
            return f"landmarks lie outside the {width}x{height} image (recorded from another size of it?)"
    return None


def crop_landmarks(folder: str | Path, size: int) -> dict[str, np.ndarray]:
    """{file name: (68, 2) float64 landmarks in the pixels of a `size` px crop}.

    The source's landmarks through the matrix that cut the crop (and a rescale, if the
    crops were resized): no face needs detecting again. An absent or unreadable file
    gives {} (with a warning).
    """
    try:
        document = read(folder)
    except media.MediaError as err:
        log.warning("%s; faces will be found again", err)
        return {}
    scale = size / float(document["size"])
    return {face["file"]: scale * geometry.transform_points(face["landmarks"], face["matrix"])
            for face in document["faces"]}


def landmarks_by_source(path: str | Path) -> dict[Path, list[np.ndarray]]:
    """{source image: [(68, 2) landmarks of each face kept there]} from an extraction.

    `path` is an extraction folder or its alignments.json. What `swapface convert
    --alignments` swaps instead of detecting again: fix an extraction once (drop a wrong
    face, a bad landmark), convert many times. Video frames are left out (their records
    name a frame, not an image file).
    """
    path = Path(path)
    document = read(path.parent if path.name == FILENAME else path)
    found: dict[Path, list[np.ndarray]] = {}
    for face in document["faces"]:
        if media.is_image(face["source"]):
            found.setdefault(Path(face["source"]).resolve(), []).append(face["landmarks"])
    return found


def crop_coverage(source: str | Path | np.ndarray | None) -> float:
    """The share of the crops' side that the mean face spans, as extraction recorded it.

    `source` is a folder of crops, or crops without one (a uint8 (N, S, S, C) array, or
    None): those, and a folder without a readable alignments.json (with a warning), get
    extraction's default, `geometry.CROP_COVERAGE`.
    """
    if source is None or isinstance(source, np.ndarray):  # no record to read: assume extraction made them
        return geometry.CROP_COVERAGE
    try:
        return float(read(source).get("coverage", geometry.CROP_COVERAGE))
    except (media.MediaError, TypeError, ValueError) as err:
        log.warning("%s; assuming the default coverage %.3f", err, geometry.CROP_COVERAGE)
        return geometry.CROP_COVERAGE
