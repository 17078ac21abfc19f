"""Figures: what each one draws, and that saving is atomic and labels generated faces."""

import numpy as np
import pytest

from swapface import figures, media, provenance


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
