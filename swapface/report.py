"""The evaluation's report: metrics.json, a few lines for the terminal, and report.png.

`evaluate.evaluate` measures; this module writes what it measured down. The JSON is
strict (a measure with nothing to measure is `null`, not NaN), so any reader takes it;
the figure (`figures.report_figure`) shows swapped faces and is labelled synthetic.

Example:
    >>> from swapface import report
    >>> path = report.write_metrics({"a2b": {"detail_ratio": float("nan")}}, "metrics.json")
    >>> path.read_text()
    '{\\n  "a2b": {\\n    "detail_ratio": null\\n  }\\n}\\n'
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from swapface import files, figures, geometry
from swapface.figures import number

FILES = ("metrics.json", "report.png")  # what `write` puts into the report's folder
EXAMPLES = 3  # before/after faces per direction in report.png
EXAMPLE_SIZE = 128  # px of the before/after faces: wider than the model's square, so the blend's edge shows


def _jsonable(value):
    """`value` with numpy types as plain numbers and lists, and NaN (nothing measured) as None:
    strict JSON has no NaN, and other readers choke on it."""
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, (np.ndarray, np.generic)):
        return _jsonable(value.tolist())
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def write_metrics(results: dict, path: str | Path) -> Path:
    """Write `results` as indented strict JSON, atomically (a crash leaves the old file or the new)."""
    text = json.dumps(_jsonable(results), indent=2, allow_nan=False) + "\n"
    return files.write_text_atomic(path, text)


def before_after(inputs: list[np.ndarray], outputs: list[np.ndarray], jobs: list,
                 size: int = EXAMPLE_SIZE) -> list[tuple[np.ndarray, np.ndarray]]:
    """(before, after) faces of each `swap.FaceJob`, aligned as in training, uint8 BGR (size, size, 3).

    `inputs`, `outputs` and `jobs` are what `evaluate.swap_images` returns: the frames, the
    swapped frames and the faces swapped in them.
    """
    pairs = []
    for job in jobs:
        matrix = geometry.align_matrix(job.landmarks, size)
        pairs.append((geometry.align(inputs[job.frame], matrix, size), geometry.align(outputs[job.frame], matrix, size)))
    return pairs


def write(results: dict, examples: dict[str, list[tuple[np.ndarray, np.ndarray]]], folder: str | Path) -> list[Path]:
    """metrics.json and report.png (`figures.report_figure`) in `folder`; returns their paths.

    `examples` maps "a2b" and "b2a" to `before_after` faces. The figure shows swapped
    faces: `figures.save` labels it as synthetic like any other output.
    """
    folder = Path(folder)
    metrics_path, figure_path = (folder / name for name in FILES)
    return [write_metrics(results, metrics_path),
            figures.save(figures.report_figure(results, examples), figure_path)]


def check_folder(folder: str | Path, inputs: list[str | Path]) -> None:
    """ValueError if writing the report into `folder` could replace an input: the folder is
    an input folder, holds an input file, or one of its report files is an input."""
    folders = {Path(item).resolve() for item in inputs if Path(item).is_dir()}
    others = {Path(item).resolve() for item in inputs if not Path(item).is_dir()}
    where = Path(folder).resolve()
    if where in folders or any(path.parent == where for path in others) \
            or any((where / name) in others for name in FILES):
        raise ValueError(f"{folder}: holds evaluated frames or references; choose another folder "
                         f"for {' and '.join(FILES)}")


def summary(results: dict) -> str:
    """A few lines for the terminal: identity shares, geometry, reconstruction, flicker."""
    lines = []
    for key in ("a2b", "b2a"):
        r = results[key]
        ceiling = r.get("ceiling", {})
        lines.append(f"{r['from']} -> {r['to']}: {number(r['recognised'], '.0%')} of {r['frames']} swapped faces "
                     f"recognised as {r['to']} (radius {number(r['radius'], '.2f')}; ceiling "
                     f"{number(ceiling.get('recognised'), '.0%')}), {number(r['share_target'], '.0%')} nearer "
                     f"{r['to']}; median distance {number(r['median_to_target'], '.2f')} to {r['to']}, "
                     f"{number(r['median_to_source'], '.2f')} to {r['from']}; detail ratio "
                     f"{number(r.get('detail_ratio'), '.2f')} ({r['found']} found again); "
                     f"landmark error {number(r['landmark_error'], '.3f')} IOD, "
                     f"yaw {number(r['yaw_difference'], '.1f')} deg, pitch {number(r['pitch_difference'], '.1f')} deg")
    for side, name in zip("ab", results["model"]["names"]):
        r = results["reconstruction"][side]
        lines.append(f"{name} -> {name} (reconstruction): SSIM {number(r['ssim'], '.3f')}, "
                     f"MAE {number(r['mae'], '.3f')} on {r['faces']} faces")
    if "video" in results:
        v = results["video"]
        lines.append(f"video {v['clip']}: flicker ratio {number(v['flicker_ratio'], '.2f')} over {v['frames']} frames")
    lines += [f"skipped {name}: {why}" for name, why in results.get("skipped", [])]
    return "\n".join(lines)
