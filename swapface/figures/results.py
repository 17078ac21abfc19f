"""Notebooks 3 and 4's figures: swap settings, the evaluation report, identity and stability."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from swapface import faces, geometry
from swapface.figures.common import mark_synthetic, number, rgb
from swapface.figures.data import face_grid


def swap_settings_figure(frame: np.ndarray, decoded: np.ndarray, landmarks: np.ndarray, matrix: np.ndarray,
                         coverage: float = geometry.COVERAGE_2017, mask: str = "face", erode: float = 0.05, feather: float = 0.08,
                         colour: str = "lab", seamless: bool = False, width: float = 7.5) -> Figure:
    """One swap blended with the given `swap.SwapSettings` values (the defaults are its own):
    the frame's face region, the swap, and the blend mask. For live controls (`notebook.explore`)."""
    from swapface import swap

    settings = swap.SwapSettings(mask=mask, erode=erode, feather=feather, colour=colour, seamless=seamless)
    size = decoded.shape[0]
    result = swap.blend(frame, decoded, landmarks, matrix, settings, coverage)
    weights = swap.make_mask(frame.shape, landmarks, matrix, mask, erode, feather, size, coverage, settings.forehead)
    x0, y0, x1, y1 = swap.face_region(frame.shape, matrix, size)
    fig = face_grid([frame[y0:y1, x0:x1], result[y0:y1, x0:x1], (weights[y0:y1, x0:x1] * 255).astype(np.uint8)],
                    ["frame", f"{mask}, {colour}{' + seamless' if seamless else ''}", "mask"], columns=3,
                    cell=width / 3)
    return mark_synthetic(fig)


def report_figure(results: dict, examples: dict[str, list[tuple[np.ndarray, np.ndarray]]] | None = None) -> Figure:
    """One page: identity share per direction, distance histograms, before/after faces.

    `examples` maps "a2b" and "b2a" to (before, after) uint8 BGR faces (`report.before_after`).
    The dashed line is the target's recognition radius (`recognition_radius`).
    """
    examples = examples or {}
    names = results["model"]["names"]
    fig = Figure(figsize=(10, 7.5), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1, 1.1])
    share, *hists = top.subplots(1, 3)
    keys = [key for key in ("a2b", "b2a") if key in results]
    labels = [f"{results[k]['from']} -> {results[k]['to']}" for k in keys]
    x = np.arange(len(keys))
    for offset, (measure, label, colour) in enumerate((("recognised", "recognised as target", "tab:blue"),
                                                       ("share_target", "nearer target", "tab:cyan"),
                                                       ("ceiling", "ceiling (real face pasted)", "0.7"))):
        values = [results[k]["ceiling"]["recognised"] if measure == "ceiling" and "ceiling" in results[k]
                  else results[k].get(measure, float("nan")) if measure != "ceiling" else float("nan") for k in keys]
        bars = share.bar(x + (offset - 1) * 0.27, values, 0.27, color=colour, label=label)
        share.bar_label(bars, fmt="{:.0%}", fontsize=7)
    share.set_xticks(x, labels)
    share.legend(fontsize=6, loc="lower right")
    share.set_ylim(0, 1.1)
    share.set_title("identity: share of swaps", fontsize=9)
    for ax, key in zip(hists, keys):
        r = results[key]
        bins = np.linspace(0, 1.2, 25)
        ax.hist(r["to_target"], bins, alpha=0.6, label=f"to {r['to']}")
        ax.hist(r["to_source"], bins, alpha=0.6, label=f"to {r['from']}")
        ax.axvline(r["radius"], color="0.3", linewidth=0.8, linestyle="--", label=f"radius {r['radius']:.2f}")
        ax.set_title(f"{r['from']} -> {r['to']}: distance to centroids", fontsize=9)
        ax.set_xlabel("descriptor distance", fontsize=8)
        if r["found"]:
            ax.legend(fontsize=7)
        else:
            ax.text(0.5, 0.5, "no face found in the swaps", ha="center", va="center", transform=ax.transAxes)
    for ax in (share, *hists):
        ax.tick_params(labelsize=7)
    rec = results.get("reconstruction", {})
    notes = [f"{name} -> {name}: SSIM {number(rec[side]['ssim'], '.3f')}, MAE {number(rec[side]['mae'], '.3f')}"
             for side, name in zip("ab", names) if side in rec]
    notes += [f"{r['from']} -> {r['to']}: detail ratio {number(r.get('detail_ratio'), '.2f')}, landmark error "
              f"{number(r['landmark_error'], '.3f')} IOD, yaw {number(r['yaw_difference'], '.1f')} deg"
              for r in (results[k] for k in keys)]
    if "video" in results:
        notes.append(f"flicker ratio {number(results['video']['flicker_ratio'], '.2f')}")
    top.suptitle("\n".join(notes), fontsize=8)
    rows = [(key, examples[key]) for key in keys if examples.get(key)]
    if rows:
        columns = 2 * max(len(pairs) for _, pairs in rows)
        axes = bottom.subplots(len(rows), columns, squeeze=False)
        for row_axes, (key, pairs) in zip(axes, rows):
            images = [image for pair in pairs for image in pair]
            for column, ax in enumerate(row_axes):
                ax.set_axis_off()
                if column < len(images):
                    ax.imshow(rgb(images[column]))
                    ax.set_title(results[key]["from"] if column % 2 == 0 else f"-> {results[key]['to']}", fontsize=7)
    return mark_synthetic(fig)  # it shows swapped faces: `figures.save` labels it


def identity_map_figure(identity: dict[str, dict], untouched: dict[str, dict], names: dict[str, str]) -> Figure:
    """Every face as a point: its descriptor's distance to A's centroid (x) and to B's (y).

    `identity` maps "a2b", "b2a" to `identity_scores` of the swaps; `untouched` maps "a", "b"
    to `identity_scores` of the input frames with their own person as the "target". Circles
    are real frames, crosses swaps; the dashed lines are each person's recognition radius:
    a swap to B is *recognised* below B's line and under the diagonal.
    """
    from swapface.swap import DIRECTIONS  # lazily: swap imports Keras

    def coordinates(scores: dict, target: str) -> tuple[list[float], list[float]]:
        return (scores["to_target"], scores["to_source"]) if target == "a" else (scores["to_source"], scores["to_target"])

    fig = Figure(figsize=(5.6, 4.8), layout="constrained")
    ax = fig.subplots()
    colours = {"a": "tab:blue", "b": "tab:orange"}
    for side in "ab":
        ax.scatter(*coordinates(untouched[side], side), marker="o", s=40, facecolors="none", edgecolors=colours[side],
                   label=f"{names[side]}, untouched")
    for key, (source, target) in DIRECTIONS.items():
        ax.scatter(*coordinates(identity[key], target), marker="X", s=50, color=colours[source],
                   label=f"{names[source]} -> {names[target]}")
    limit = 1.2
    ax.plot([0, limit], [0, limit], color="0.5", linewidth=0.8)
    ax.axvline(identity["b2a"]["radius"], color="tab:blue", linestyle="--", linewidth=0.8)
    ax.axhline(identity["a2b"]["radius"], color="tab:orange", linestyle="--", linewidth=0.8)
    ax.set(xlim=(0, limit), ylim=(0, limit), xlabel=f"distance to {names['a']}'s centroid",
           ylabel=f"distance to {names['b']}'s centroid")
    ax.text(0.03, limit - 0.03, f"nearer {names['a']}", fontsize=8, va="top")
    ax.text(limit - 0.03, 0.03, f"nearer {names['b']}", fontsize=8, ha="right")
    ax.legend(fontsize=7, loc="lower left")
    return fig


def landmark_shift_figure(swaps: dict[str, tuple[list, list, list]], found: dict[str, list],
                          names: dict[str, str], size: int = 64) -> Figure:
    """The first swap of each direction with the input's landmarks (dots) and those found
    in the swap (crosses): how far the swap moved the eyes, brows and mouth."""
    from swapface import swap  # lazily: swap imports Keras
    from swapface.swap import DIRECTIONS

    fig = Figure(figsize=(6.4, 3.4), layout="constrained")
    ax = None
    for ax, (key, (inputs, outputs, jobs)) in zip(fig.subplots(1, len(swaps), squeeze=False)[0], swaps.items()):
        ax.set_axis_off()
        if not jobs:
            continue
        x0, y0, x1, y1 = swap.face_region(outputs[jobs[0].frame].shape, jobs[0].matrix, size)
        ax.imshow(rgb(outputs[jobs[0].frame][y0:y1, x0:x1]))
        ax.scatter(*(jobs[0].landmarks[geometry.INNER] - [x0, y0]).T, s=8, c="tab:blue", label="input's landmarks")
        if found[key][0] is not None:
            ax.scatter(*(found[key][0].landmarks[geometry.INNER] - [x0, y0]).T, s=12, c="tab:red", marker="x",
                       label="found in the swap")
        source, target = DIRECTIONS[key]
        ax.set_title(f"{names[source]} -> {names[target]}", fontsize=9)
    if ax is not None:
        fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=2, fontsize=7)
    return mark_synthetic(fig)


def flicker_figure(curves: dict[str, list[float]]) -> Figure:
    """Frame-to-frame change inside the face (`metrics.face_changes`), one curve per label:
    the input clip and its swaps."""
    fig = Figure(figsize=(6.4, 2.8), layout="constrained")
    ax = fig.subplots()
    for label, changes in curves.items():
        ax.plot(range(1, len(changes) + 1), changes, label=label)
    ax.set(xlabel="frame", ylabel="mean change inside the face (0-255)")
    ax.legend(fontsize=7)
    return fig


def evidence_figure(evidence: list[dict[str, float]], swapped: list[bool], held_out: list[bool] | None = None,
                    x: str = "detail", y: str = "seam", width: float = 5.5) -> Figure:
    """Real and swapped faces in the plane of two `metrics.swap_evidence` measures.

    Blue: real faces, red: swaps; filled: the faces a detector trained on, hollow: held out.
    """
    held_out = [False] * len(evidence) if held_out is None else held_out
    fig = Figure(figsize=(width, width * 0.75), layout="constrained")
    ax = fig.subplots()
    for is_swap, colour, label in ((False, "tab:blue", "real"), (True, "tab:red", "swapped")):
        for out, fill, kind in ((False, colour, "trained on"), (True, "none", "held out")):
            chosen = [e for e, s, h in zip(evidence, swapped, held_out) if s == is_swap and h == out]
            if chosen:
                ax.scatter([e[x] for e in chosen], [e[y] for e in chosen], s=28, facecolors=fill, edgecolors=colour,
                           marker="o" if not is_swap else "s", label=f"{label}, {kind} ({len(chosen)})")
    ax.set(xlabel=x, ylabel=y)
    ax.legend(fontsize=7)
    return fig
