"""Notebook 4's colour ablation: the same swaps blended again with each colour-matching mode.

Colour matching (`swap.SwapSettings.colour`) moves the decoded face's colours onto the
frame's. Whether it helps is measured, not assumed: how far the face's Lab colours end up
from the original frame's, and whether the swap is still recognised as the target.
Frames are uint8 BGR (H, W, 3); `swaps` are `evaluate.swap_images` results per direction.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from swapface import evaluate, metrics, model as models, swap


def _lab_inside(frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """float32 (pixels, 3) CIELAB colours of uint8 BGR `frame` where bool `mask` is set."""
    return cv2.cvtColor(frame.astype(np.float32) / 255, cv2.COLOR_BGR2Lab)[mask]  # (pixels, 3)


def colour_ablation(net: models.FaceSwapModel, swaps: dict[str, tuple[list, list, list]],
                    refs: dict[str, np.ndarray], colours: tuple[str, ...] = ("none", "avg", "lab"),
                    settings: evaluate.EvalSettings = evaluate.EvalSettings()) -> tuple[dict, dict]:
    """The same swaps blended again with each colour mode; (rows, recoloured frames).

    `swaps` maps "a2b", "b2a" to `evaluate.swap_images` results, `refs` "a", "b" to descriptors.
    Per colour mode, over both directions: the CIE76 distance (delta E) between the mean
    Lab colour inside the face mask of the swapped and of the original frame, the same
    for the colours' spreads (standard deviations), the strict `recognised` share and the
    lenient share nearer the target, and the mean distance to the target's centroid.
    `recoloured[colour][key]` are the blended frames.
    """
    size, coverage = net.settings.image_size, net.settings.coverage
    masks = {key: [swap.make_mask(frame.shape, job.landmarks, job.matrix, size=size, coverage=coverage) > 0.5
                   for frame, job in zip(inputs, jobs)] for key, (inputs, _, jobs) in swaps.items()}
    before = [_lab_inside(inputs[job.frame], mask) for key, (inputs, _, jobs) in swaps.items()
              for job, mask in zip(jobs, masks[key])]
    rows, recoloured = {}, {}
    for colour in colours:
        blend_settings = dataclasses.replace(settings.swap_settings, colour=colour)
        recoloured[colour] = {key: swap.swap_frames(inputs, net, swap.DIRECTIONS[key][1], blend_settings, jobs=jobs)
                              for key, (inputs, _, jobs) in swaps.items()}
        after = [_lab_inside(recoloured[colour][key][job.frame], mask) for key, (_, _, jobs) in swaps.items()
                 for job, mask in zip(jobs, masks[key])]
        scores = [metrics.identity_scores(recoloured[colour][key], refs[target], refs[source])
                  for key, (source, target) in swap.DIRECTIONS.items() if key in swaps]
        outputs = max(1, sum(s["outputs"] for s in scores))
        rows[colour] = {
            "colour difference (delta E)": metrics.mean_or_nan([float(np.linalg.norm(a.mean(axis=0) - b.mean(axis=0)))
                                                  for a, b in zip(after, before)]),
            "spread difference": metrics.mean_or_nan([float(np.linalg.norm(a.std(axis=0) - b.std(axis=0)))
                                        for a, b in zip(after, before)]),
            "recognised as target": sum(s["recognised"] * s["outputs"] for s in scores) / outputs,
            "share nearer target": sum(s["share_target"] * s["outputs"] for s in scores) / outputs,
            "distance to target": metrics.mean_or_nan([d for s in scores for d in s["to_target"]]),
        }
    return rows, recoloured


def table(rows: dict[str, dict]) -> str:
    """`colour_ablation`'s rows as a fixed-width text table."""
    lines = [f"{'colour':8}{'delta E':>9}{'spread':>8}{'recognised':>12}{'nearer':>8}{'to target':>11}"]
    lines += [f"{colour:8}{row['colour difference (delta E)']:9.1f}{row['spread difference']:8.1f}"
              f"{row['recognised as target']:12.0%}{row['share nearer target']:8.0%}{row['distance to target']:11.3f}"
              for colour, row in rows.items()]
    return "\n".join(lines)
