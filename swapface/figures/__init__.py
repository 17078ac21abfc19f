"""Figures for the notebooks and the CLI: every function returns a `matplotlib.figure.Figure`.

One module per stage, all reached as `figures.<name>`: `data` (notebook 1: faces, landmarks,
alignment, diagnostics), `training` (notebook 2: warp, model, previews, losses), `results`
(notebooks 3 and 4: swap settings, the evaluation report, identity, stability); `common`
holds the colours, BGR to RGB and atomic saving.

Nothing here opens a window or prints. The figures are made with `Figure()` directly, not
through pyplot, so they are never "current" and are freed like any object; a notebook
shows one by leaving it as a cell's last expression, a script saves it with
`fig.savefig(path)`.

Images are uint8 BGR arrays (H, W, 3) as `swapface.media` reads them (or gray (H, W));
they are converted to RGB for display. Where a function takes images, a file path is
accepted too and read with `media.read_image`.

Example:
    >>> from swapface import faces, figures, media
    >>> image = media.read_image("data/obama/c000_f00000.jpg")
    >>> fig = figures.landmarks_figure(image, faces.find_faces(image))
    >>> fig.savefig("landmarks.png")
"""

from swapface.figures.common import DPI, mark_synthetic, number, rgb, save
from swapface.figures.data import (alignment_errors, alignment_figure, coverage_figure, diagnostics_figure, face_grid,
                                   identity_figure, landmarks_figure, mean_face_figure)
from swapface.figures.results import (evidence_figure, flicker_figure, identity_map_figure, landmark_shift_figure,
                                      report_figure, swap_settings_figure)
from swapface.figures.training import (architecture_figure, feature_maps_figure, learning_curve_figure,
                                       loss_comparison_figure, loss_figure, loss_weights_figure, preview_figure,
                                       warp_figure, warp_strength_figure)

__all__ = ["DPI", "alignment_errors", "alignment_figure", "architecture_figure", "coverage_figure",
           "diagnostics_figure", "evidence_figure", "face_grid", "feature_maps_figure", "flicker_figure",
           "identity_figure", "identity_map_figure", "landmark_shift_figure", "landmarks_figure",
           "learning_curve_figure", "loss_comparison_figure", "loss_figure", "loss_weights_figure",
           "mark_synthetic", "mean_face_figure", "number", "preview_figure", "report_figure", "rgb", "save",
           "swap_settings_figure", "warp_figure", "warp_strength_figure"]
