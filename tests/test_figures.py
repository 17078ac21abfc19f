"""Figures: what each one draws, and that saving is atomic and labels generated faces."""

import numpy as np
import pytest

from swapface import figures, geometry, media, provenance


def test_face_grid_lays_out_images_and_checks_titles(frame):
    fig = figures.face_grid([frame] * 5, titles=list("abcde"), columns=3)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(fig.axes) == 6 and len(shown) == 5  # 2 rows of 3, one cell empty
    assert [ax.get_title() for ax in shown] == list("abcde")
    with pytest.raises(ValueError, match="2 titles for 5 images"):
        figures.face_grid([frame] * 5, titles=["a", "b"])
    assert figures.face_grid([]).texts[0].get_text() == "no images"


def test_images_are_shown_as_rgb(frame):
    fig = figures.face_grid([frame])
    shown = fig.axes[0].images[0].get_array()
    assert np.array_equal(np.asarray(shown), frame[..., ::-1])


def test_preview_is_saved_atomically_and_labelled_synthetic(tmp_path):
    faces = np.random.default_rng(0).uniform(0, 1, (3, 64, 64, 3)).astype(np.float32)
    fig = figures.preview_figure([("a", faces), ("a→b", faces)], title="iteration 7")
    path = figures.save(fig, tmp_path / "preview.png")
    assert media.read_image(path).shape[2] == 3
    assert provenance.read_label(path) is not None  # it shows generated faces
    assert sorted(p.name for p in tmp_path.iterdir()) == ["preview.png"]  # no temporary file left


def test_a_plain_figure_is_not_labelled_and_dpi_sets_its_size(tmp_path):
    history = {"a": list(np.linspace(0.3, 0.1, 100)), "b": list(np.linspace(0.4, 0.1, 100))}
    fig = figures.loss_figure(history, ("obama", "trump"), width=5)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and len(ax.lines) == 4  # raw and smoothed, per side
    small = media.read_image(figures.save(fig, tmp_path / "small.png", dpi=50))
    large = media.read_image(figures.save(fig, tmp_path / "large.png", dpi=100))
    assert large.shape[1] == pytest.approx(2 * small.shape[1], abs=2)
    assert provenance.read_label(tmp_path / "large.png") is None


def test_learning_curve_draws_each_direction_per_hour_with_the_aims():
    point = lambda hours, share, detail: {"hours": hours, **{key: {"recognised": share, "median_to_target": 0.5,  # noqa: E731
                                                                    "detail_ratio": detail} for key in ("a2b", "b2a")}}
    fig = figures.learning_curve_figure([point(1.0, 0.2, 0.05), point(2.0, 0.9, 0.08)],
                                        {"a2b": "Obama -> Trump", "b2a": "Trump -> Obama"}, detail_target=0.15)
    recognised, distance, detail = fig.axes
    assert [line.get_label() for line in recognised.lines] == ["Obama -> Trump", "Trump -> Obama"]
    assert list(recognised.lines[0].get_xdata()) == [1.0, 2.0] and list(recognised.lines[0].get_ydata()) == [0.2, 0.9]
    assert list(detail.lines[1].get_ydata()) == [0.05, 0.08] and detail.lines[-1].get_ydata()[0] == 0.15
    assert distance.lines[-1].get_label() == "genuine photos"


def test_coverage_figure_draws_each_model_view_and_what_the_model_sees(frame, face):
    from swapface import faces

    crop = geometry.align(frame, face.matrix, 256)
    fig = figures.coverage_figure(crop, coverages=(1.0, 0.8), size=64)
    crop_ax, *inputs = fig.axes
    views = [patch.get_width() for patch in crop_ax.patches]
    assert views == pytest.approx([160, 160, 200])  # the mean-face square, then 0.625 / 1.0 and 0.625 / 0.8 of 256 px
    assert [ax.images[0].get_array().shape for ax in inputs] == [(64, 64, 3)] * 2


def test_loss_weights_figure_reads_the_weight_channel_as_the_loss_does():
    face = np.zeros((32, 32, 4), np.uint8)
    face[8:24, 8:24, 3] = 128  # the face
    face[12:16, 12:16, 3] = 255  # an eye
    weights = np.asarray(figures.loss_weights_figure(face, eye_mouth=3.0).axes[1].images[0].get_array())
    assert (weights[0, 0], weights[10, 10], weights[13, 13]) == pytest.approx((0.0, 1.0, 3.0), abs=0.01)


def test_warp_figure_shows_the_difference_the_network_must_undo(frame, face):
    from swapface import faces

    crop = geometry.align(frame, face.matrix, 256)
    still, warped = figures.warp_strength_figure(crop, jitter=0.0), figures.warp_strength_figure(crop, jitter=10.0)
    assert len(warped.axes) == 4
    means = [float(np.asarray(fig.axes[3].images[0].get_array()).mean()) for fig in (still, warped)]
    assert means[0] < 1.0 < 5.0 < means[1]  # no jitter: the input is the target


def test_evidence_figure_separates_real_from_swapped_and_held_out():
    evidence = [{"detail": 0.0, "seam": -2.0}, {"detail": -3.0, "seam": 0.5}, {"detail": 0.1, "seam": -1.9}]
    fig = figures.evidence_figure(evidence, swapped=[False, True, False], held_out=[False, False, True])
    assert sorted(text.get_text() for text in fig.axes[0].get_legend().get_texts()) == \
        ["real, held out (1)", "real, trained on (1)", "swapped, trained on (1)"]


def test_learning_curve_aims_per_direction_and_marks_an_event():
    point = lambda hours: {"hours": hours, **{key: {"recognised": 1.0, "median_to_target": 0.5,  # noqa: E731
                                                    "detail_ratio": 0.1} for key in ("a2b", "b2a")}}
    names = {"a2b": "Obama -> Trump", "b2a": "Trump -> Obama"}
    fig = figures.learning_curve_figure([point(1.0), point(3.0)], names, detail_target={"a2b": 0.10, "b2a": 0.40},
                                        marks=[(2.0, "grown to 128 px")])
    recognised, _, detail = fig.axes
    aims = [line for line in detail.lines if line.get_label().startswith("aimed at")]
    assert [line.get_ydata()[0] for line in aims] == [0.10, 0.40]
    assert [line.get_color() for line in aims] == [line.get_color() for line in detail.lines[:2]]  # its direction's
    assert any(list(line.get_xdata()) == [2.0, 2.0] for line in recognised.lines)
    assert any(text.get_text() == "grown to 128 px" for text in recognised.texts)
