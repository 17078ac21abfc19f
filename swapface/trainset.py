"""The training set: the two people's aligned faces, as training reads them.

Each side is a folder from `swapface extract` (or a uint8 BGR (N, S, S, 3) array). Before
hours of training go into them they are checked (`check`); then decoded, with the region
weights of the masked loss as a fourth channel (`load`), a few held out to preview
(`split`), and cut at the model's coverage (`view`, `model_view`).

Example:
    >>> from swapface import extract, trainset
    >>> _ = extract.extract(["data/obama"], "faces/obama", progress=False)
    >>> faces = trainset.load("faces/obama", masked=True)
    >>> faces.shape, faces.dtype
    ((8, 256, 256, 4), dtype('uint8'))
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import cv2
import numpy as np

from swapface import alignments, batches, geometry, media, warp
from swapface.faces import largest_face  # `faces` names the training faces here

log = logging.getLogger(__name__)

FACE_SAMPLE = 8  # images of a folder without alignments.json checked for a face before training


def check(faces_a, faces_b, model_dir: Path, names: tuple[str, str] | None = None) -> None:
    """ValueError, before hours of training, for inputs that cannot make a face swap: one folder
    as both people, both people of one name, MODEL_DIR a folder of faces, or a folder in which
    no face can be found (noise, crops of something else)."""
    folders = [Path(source).resolve() for source in (faces_a, faces_b) if not isinstance(source, np.ndarray)]
    if len(folders) == 2 and folders[0] == folders[1]:
        raise ValueError(f"{faces_a}: the same folder as person A and person B; each needs their own faces")
    if names is not None and names[0] == names[1]:
        raise ValueError(f"both people are named {names[0]!r}; give them two names")
    if model_dir.resolve() in folders or (model_dir / alignments.FILENAME).exists():
        raise ValueError(f"{model_dir}: is a folder of aligned faces; give the model a folder of its own")
    for folder in folders:
        if not (folder / alignments.FILENAME).exists():  # extract found those faces; others are checked
            _check_faces_in(folder)


def _check_faces_in(folder: Path) -> None:
    """ValueError if none of a few of `folder`'s images holds a face; a warning if most do not."""
    paths = media.list_inputs([folder])
    sample = [paths[i] for i in sorted({round(k * (len(paths) - 1) / max(FACE_SAMPLE - 1, 1))
                                        for k in range(FACE_SAMPLE)})] if paths else []
    found = 0
    for path in sample:
        try:
            image = media.read_image(path)
        except media.MediaError:
            continue  # load_faces reports it
        # At 256 px a 64 px crop's face is large enough for the detector.
        image = cv2.resize(image, (256, 256 * image.shape[0] // image.shape[1] or 1))
        found += largest_face(image) is not None
    if sample and not found:
        raise ValueError(f"{folder}: no face found in any of {len(sample)} images checked; train on aligned "
                         "faces (swapface extract)")
    if found < len(sample) / 2:
        log.warning("%s: a face was found in only %d of %d images checked", folder, found, len(sample))


def side_names(sources) -> tuple[str, str]:
    """The two people's names from their folders' names ("a" and "b" for arrays or twin names)."""
    names = tuple(side if isinstance(source, np.ndarray) else Path(source).resolve().name
                  for side, source in zip("ab", sources))
    return names if names[0] != names[1] else ("a", "b")  # two folders both called "faces"


def load(source, masked: bool) -> np.ndarray:
    """A side's faces, uint8 BGR (N, S, S, 3), or (N, S, S, 4) with region weights for the masked loss."""
    if isinstance(source, np.ndarray):
        return batches.with_weights(source) if masked else source[..., :3]
    return batches.load_faces(source, weights=masked)


def split(faces: np.ndarray, preview_faces: int, settings: warp.WarpSettings,
          seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training faces uint8, preview inputs float32 (P, size, size, 3)); see `batches.split_preview`."""
    shown, trained = batches.split_preview(len(faces), preview_faces, np.random.default_rng([seed, 1]))
    return faces[trained], warp.model_inputs(faces[shown][..., :3], settings)


def view(settings: warp.WarpSettings, size: int, coverage: float,
         source: str | Path | np.ndarray | None) -> warp.WarpSettings:
    """The warp that cuts a model's view from `source`'s crops (a folder, or crops without one):
    its `size`, and the share of the crop its `coverage` asks for (`geometry.view_coverage` of
    the crops' coverage, `alignments.crop_coverage`)."""
    crop = alignments.crop_coverage(source)
    return dataclasses.replace(settings, size=size, coverage=geometry.view_coverage(crop, coverage))


def model_view(net, crops: np.ndarray, folder: str | Path | None = None) -> np.ndarray:
    """Aligned crops (uint8 BGR (N, S, S, 3 or 4), extracted into `folder`) as the model `net`
    sees them in training: float32 (N, size, size, 3) inputs at its size and coverage, undistorted."""
    settings = view(warp.WarpSettings(), net.settings.image_size, net.settings.coverage, folder)
    return warp.model_inputs(crops[..., :3], settings)
