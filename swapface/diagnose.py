"""What two folders of aligned faces hold, before hours of training go into them.

A swap can only draw the poses, lighting and sharpness its training faces show. These
diagnostics put A and B side by side: head-pose coverage (yaw, pitch), blur and brightness
histograms, near-duplicates (frames of one clip add little), and identity purity (how many
faces are far from the folder's typical face: a wrong person slipped in).

Example:
    >>> from swapface import diagnose, extract, figures
    >>> for person in ("obama", "trump"):
    ...     _ = extract.extract([f"data/{person}"], f"faces/{person}", progress=False)
    >>> a, b = diagnose.describe("faces/obama", progress=False), diagnose.describe("faces/trump", progress=False)
    >>> len(a["yaw"]), len(b["yaw"])
    (8, 8)
    >>> figure = figures.diagnostics_figure({"obama": a, "trump": b})
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm.auto import tqdm

from swapface import alignments, faces, geometry, media

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DiagnoseSettings:
    """Thresholds of the diagnostics."""

    duplicate_distance: float = 4.0  # mean grey-level difference of 16 px thumbnails below which faces are duplicates
    identity_threshold: float = faces.SAME_PERSON  # descriptor distance to the folder's centroid that flags a face
    identity_sample: int = 60  # faces checked for identity (a descriptor costs ~50 ms on a CPU)
    pose_bins: int = 12  # histogram bins per pose axis


def centre(crop: np.ndarray) -> np.ndarray:
    """The central half (S/2, S/2, ...) of an aligned crop (S, S, ...): the face, not its background."""
    size = crop.shape[0]
    return crop[size // 4: 3 * size // 4, size // 4: 3 * size // 4]


def blur_score(crop: np.ndarray) -> float:
    """Variance of the Laplacian of the face's centre (uint8 BGR crop): low means blurry.

    Measured on a 128 px copy of the central half, so the score does not depend on the crop
    size and the background does not count. Extraction drops faces under its threshold.
    """
    gray = cv2.resize(faces.to_gray(centre(crop)), (128, 128), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def near_duplicates(thumbs: np.ndarray, distance: float) -> int:
    """How many faces are within `distance` of an earlier one; thumbs are float32 (N, 16, 16)."""
    flat = thumbs.reshape(len(thumbs), -1)
    count = 0
    for index in range(1, len(flat)):
        if (np.abs(flat[:index] - flat[index]).mean(axis=1) < distance).any():
            count += 1
    return count


def describe(folder: str | Path, settings: DiagnoseSettings = DiagnoseSettings(), progress: bool = True,
             rng: np.random.Generator | None = None) -> dict:
    """Per-face pose, blur and brightness, duplicate count and identity purity of one folder.

    Reads the crops and `alignments.json` of a `swapface extract` folder. Returns a dict of
    float lists (yaw, pitch, blur, brightness) and counts; an unreadable crop is skipped
    and listed under "skipped".
    """
    folder = Path(folder)
    document = alignments.read(folder)
    stats = {"yaw": [], "pitch": [], "blur": [], "brightness": [], "skipped": []}
    thumbs, crops = [], []
    for record in tqdm(document["faces"], desc=f"describe {folder.name}", unit="face", disable=not progress):
        try:
            crop = media.read_image(folder / record["file"])
        except media.MediaError as err:
            stats["skipped"].append(str(err))
            continue
        yaw, pitch, _ = geometry.head_pose(record["landmarks"])
        middle = centre(faces.to_gray(crop))
        stats["yaw"].append(yaw)
        stats["pitch"].append(pitch)
        stats["blur"].append(blur_score(crop))
        stats["brightness"].append(float(middle.mean()))
        thumbs.append(cv2.resize(middle, (16, 16), interpolation=cv2.INTER_AREA).astype(np.float32))
        crops.append((crop, geometry.transform_points(record["landmarks"], record["matrix"])))
    stats["faces"] = len(thumbs)
    stats["duplicates"] = near_duplicates(np.array(thumbs), settings.duplicate_distance) if thumbs else 0
    stats.update(identity_purity(crops, settings, rng or np.random.default_rng(0)))
    return stats


def identity_purity(crops: list[tuple[np.ndarray, np.ndarray]], settings: DiagnoseSettings,
                    rng: np.random.Generator) -> dict:
    """Share of (a sample of) faces within the threshold of the folder's mean descriptor.

    `crops` are (uint8 BGR crop, (68, 2) landmarks in crop pixels). Outliers are the faces
    to look at: another person, a bad alignment, a face half hidden.
    """
    if not crops:
        return {"purity": float("nan"), "outliers": []}
    picks = rng.permutation(len(crops))[: settings.identity_sample]
    descs = np.array([faces.descriptor(crops[i][0], crops[i][1]) for i in picks])
    distances = np.linalg.norm(descs - descs.mean(axis=0), axis=1)
    outliers = [int(picks[i]) for i in np.argsort(-distances) if distances[i] >= settings.identity_threshold]
    return {"purity": float((distances < settings.identity_threshold).mean()), "outliers": outliers}


def folder_labels(folders: list[str | Path]) -> list[str]:
    """A distinct label per folder: its name, or as much of its path as tells it apart.

    `runs/1/faces` and `runs/2/faces` are '1/faces' and '2/faces', not twice 'faces' (one
    would hide the other in the report). The same folder given twice gets '#2'.
    """
    parts = [Path(folder).resolve().parts for folder in folders]
    labels, bases = [], []
    for index, mine in enumerate(parts):
        depth = 1
        while depth < len(mine) and any(other[-depth:] == mine[-depth:] for j, other in enumerate(parts)
                                        if j != index and other != mine):
            depth += 1
        label = "/".join(mine[-depth:]) or str(folders[index])
        labels.append(label if label not in bases else f"{label} #{bases.count(label) + 1}")
        bases.append(label)
    return labels


def summary(name: str, stats: dict) -> str:
    """One line of numbers for a described folder."""
    if not stats["faces"]:
        return f"{name}: no readable faces" + (f" ({len(stats['skipped'])} unreadable)" if stats["skipped"] else "")
    yaw = np.array(stats["yaw"])
    return (f"{name}: {stats['faces']} faces, yaw {np.percentile(yaw, 5):+.0f}..{np.percentile(yaw, 95):+.0f} deg "
            f"(5-95%), blur median {np.median(stats['blur']):.0f}, brightness median "
            f"{np.median(stats['brightness']):.0f}, {stats['duplicates']} near-duplicates, identity purity "
            f"{stats['purity']:.0%}" + (f", {len(stats['skipped'])} unreadable" if stats["skipped"] else ""))
