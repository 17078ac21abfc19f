"""Tests of the 2017 training augmentation (swapface.warp)."""

import cv2
import numpy as np
import pytest

from swapface import warp
from swapface.geometry import umeyama
from swapface.warp import WarpSettings

STILL = WarpSettings(rotation=0, zoom=0, shift=0, flip=0, jitter=0)  # no randomness at all


@pytest.fixture(scope="module")
def crop():
    """A 256 px uint8 BGR crop: smooth texture, dark left half, bright right half.

    Smooth like a face (so resampling differences stay small) and left-right asymmetric
    (so a mirror is easy to see).
    """
    rng = np.random.default_rng(42)
    texture = cv2.GaussianBlur(rng.random((256, 256, 3)).astype(np.float32), (0, 0), 4)
    texture = (texture - texture.mean()) / texture.std() * 0.08
    halves = np.where(np.arange(256) < 128, 0.25, 0.75)[None, :, None]
    return np.clip((halves + texture) * 255, 0, 255).astype(np.uint8)


def test_no_jitter_no_transform_warped_equals_target(crop):
    warped, target = warp.random_warp(crop, np.random.default_rng(0), STILL)
    np.testing.assert_allclose(warped, target, atol=1e-6)
    warped, target = warp.warp_pair(crop, np.random.default_rng(0), STILL)
    np.testing.assert_allclose(warped, target, atol=1e-6)


def test_no_jitter_warped_equals_target_after_transform(crop):
    # The affine is folded into both maps, so it cannot make them differ.
    settings = WarpSettings(jitter=0, flip=0.5)
    for seed in range(5):
        warped, target = warp.warp_pair(crop, np.random.default_rng(seed), settings)
        np.testing.assert_allclose(warped, target, atol=1e-6)


def test_shapes_dtypes_and_range(crop):
    warped, target = warp.warp_pair(crop, np.random.default_rng(0))
    for image in (warped, target):
        assert image.shape == (64, 64, 3) and image.dtype == np.float32
        assert 0.0 <= image.min() and image.max() <= 1.0
    small = cv2.resize(crop, (128, 128), interpolation=cv2.INTER_AREA)
    warped, target = warp.random_warp(small, np.random.default_rng(0), WarpSettings(size=32))
    assert warped.shape == target.shape == (32, 32, 3)
    warped, target = warp.warp_batch(np.stack([crop] * 3), np.random.default_rng(0))
    assert warped.shape == target.shape == (3, 64, 64, 3)
    assert warped.dtype == target.dtype == np.float32


def test_random_transform_keeps_shape_and_dtype(crop):
    out = warp.random_transform(crop, np.random.default_rng(0))
    assert out.shape == crop.shape and out.dtype == np.uint8


def test_same_seed_same_pairs_different_seed_different(crop):
    first = warp.warp_batch([crop, crop], np.random.default_rng(7))
    again = warp.warp_batch([crop, crop], np.random.default_rng(7))
    other = warp.warp_batch([crop, crop], np.random.default_rng(8))
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.allclose(first[0], other[0])
    assert not np.allclose(first[0][0], first[0][1])  # draws differ within a batch too


def _mirrored(target):
    # The crop is dark on the left: a mirrored pair is bright on the left.
    return target[:, :32].mean() > target[:, 32:].mean()


@pytest.mark.parametrize("flip, low, high", [(0.0, 0.0, 0.0), (0.4, 0.33, 0.47), (1.0, 1.0, 1.0)])
def test_flip_probability(crop, flip, low, high):
    rng = np.random.default_rng(3)
    settings = WarpSettings(flip=flip)
    share = np.mean([_mirrored(warp.warp_pair(crop, rng, settings)[1]) for _ in range(400)])
    assert low <= share <= high


def test_single_resampling_matches_two_steps(crop):
    # warp_pair must look like 2017's random_warp(random_transform(image)): same draws,
    # differing only by the blur of the skipped 256 px resampling.
    for seed in range(5):
        fast = warp.warp_pair(crop, np.random.default_rng(seed))
        rng = np.random.default_rng(seed)
        slow = warp.random_warp(warp.random_transform(crop, rng), rng)
        assert np.abs(fast[0] - slow[0]).mean() < 0.01
        assert np.abs(fast[1] - slow[1]).mean() < 0.01


def _random_warp_2017(image, rng):
    """The 2017 random_warp, verbatim apart from the explicit rng."""
    range_ = np.linspace(128 - 80, 128 + 80, 5)
    mapx = np.broadcast_to(range_, (5, 5))
    mapy = mapx.T
    mapx = mapx + rng.normal(size=(5, 5), scale=5)
    mapy = mapy + rng.normal(size=(5, 5), scale=5)
    interp_mapx = cv2.resize(mapx, (80, 80))[8:72, 8:72].astype("float32")
    interp_mapy = cv2.resize(mapy, (80, 80))[8:72, 8:72].astype("float32")
    warped = cv2.remap(image, interp_mapx, interp_mapy, cv2.INTER_LINEAR)
    src_points = np.stack([mapx.ravel(), mapy.ravel()], axis=-1)
    dst_points = np.mgrid[0:65:16, 0:65:16].T.reshape(-1, 2)
    mat = umeyama(src_points, dst_points, True)[0:2]
    return warped, cv2.warpAffine(image, mat, (64, 64))


def test_matches_2017_random_warp(crop):
    image = warp.to_float(crop)
    for seed in range(3):
        old = _random_warp_2017(image, np.random.default_rng(seed))
        new = warp.random_warp(image, np.random.default_rng(seed))
        np.testing.assert_allclose(new[1], old[1], atol=1e-4)  # same target
        # 2017's warped image sits half an output pixel off its target; ours does not.
        assert np.abs(new[0] - old[0]).mean() < 0.03


def test_warp_grid_spans_coverage():
    grid = warp.warp_grid((256, 256, 3), np.random.default_rng(0), STILL)
    assert grid.shape == (5, 5, 2)
    np.testing.assert_allclose(grid[0, :, 0], [48, 88, 128, 168, 208])
    np.testing.assert_allclose(grid[:, 0, 1], [48, 88, 128, 168, 208])
    jittered = warp.warp_grid((256, 256, 3), np.random.default_rng(0))
    assert 1 < np.std(jittered - grid) < 10  # ~5 px of noise
