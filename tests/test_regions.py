"""Face regions (swapface.regions): hulls, the outline with its forehead, eyes and mouth, on real landmarks."""

import numpy as np
import pytest

from swapface import geometry, regions


@pytest.fixture(scope="module")
def points(face):
    """(68, 2) dlib landmarks of the bundled Obama frame (480x854)."""
    return face.landmarks


def at(image, point):
    """The value of `image` at the (x, y) `point`, rounded to a pixel."""
    x, y = np.round(point).astype(int)
    return image[y, x]


def test_region_weights_cover_the_forehead_above_the_brows(frame, points):
    weights = regions.region_weights(frame.shape, points)
    brow_top = int(points[geometry.BROWS, 1].min())
    column = int(points[27, 0])
    assert weights[brow_top - 10, column] == regions.FACE_WEIGHT  # forehead: face
    assert at(weights, points[66]) == regions.FEATURE_WEIGHT  # inside the mouth
    assert weights[5, 5] == 0


def test_eyes_and_mouth_weigh_more_than_the_cheeks(frame, points):
    weights = regions.region_weights(frame.shape, points)
    assert weights.dtype == np.uint8 and weights.shape == frame.shape[:2]
    for centre in geometry.eye_centres(points):
        assert at(weights, centre) == 255
    assert at(weights, points[geometry.MOUTH].mean(axis=0)) == 255
    cheek = (points[2] + points[31]) / 2  # between the jaw line and the nose
    assert at(weights, cheek) == 128
    assert set(np.unique(weights)) == {0, 128, 255}
    assert (weights == 255).sum() < (weights == 128).sum()  # features are the smaller part of the face


def test_nothing_outside_the_outline_has_weight(frame, points):
    weights = regions.region_weights(frame.shape, points)
    outline = regions.hull_mask(frame.shape, regions.face_outline(points))
    assert not weights[outline == 0].any()
    assert (weights[outline == 1] > 0).all()  # and all of the inside counts


def test_features_grow_with_the_face(points):
    small = regions.features_mask((480, 854), points).sum()
    big = regions.features_mask((960, 1708), points * 2).sum()
    assert big / small == pytest.approx(4, rel=0.1)  # the same share of a face twice the size


def test_outline_raises_the_brows_along_the_face_not_the_image(points):
    outline = regions.face_outline(points, forehead=0.25)
    assert outline.shape == (78, 2)
    assert (outline[68:, 1] < points[geometry.BROWS, 1]).all()  # upright face: straight up the image
    turned = points[:, ::-1]  # x and y swapped: the face lies on its side
    raised = regions.face_outline(turned, forehead=0.25)[68:]
    assert (raised[:, 0] < turned[geometry.BROWS, 0]).all()  # "up" is now towards the image's left
    np.testing.assert_allclose(raised[:, 1], turned[geometry.BROWS, 1], atol=0.3 * np.ptp(turned[:, 1]))


def test_hull_mask_is_the_union_of_the_hulls():
    square = np.array([[10, 10], [20, 10], [20, 20], [10, 20]], float)
    one = regions.hull_mask((40, 40), square)
    two = regions.hull_mask((40, 40), [square, square + 15])
    assert one.dtype == np.uint8 and set(np.unique(one)) == {0, 1}
    assert two.sum() == 2 * one.sum() and two[15, 15] == two[30, 30] == 1 and two[15, 30] == 0
