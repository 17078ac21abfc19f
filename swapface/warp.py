"""Training augmentation of the 2017 deepfakes code: a random affine, then a random warp.

Each training pair is made from one aligned crop (uint8 BGR (H, W, 3), 256 px from
`swapface extract`): the crop is rotated, zoomed, shifted and maybe mirrored
(`random_transform`), then a 5x5 grid of control points over the face is jittered and
the crop is resampled twice at 64 px (`random_warp`):

* `warped`, through the jittered grid: a smoothly distorted face, the network's input;
* `target`, through the similarity transform that best fits the jittered grid: the same
  face undistorted, what the network must draw.

So the autoencoder cannot just copy pixels: it must learn what a face looks like.

`warp_pair` does both steps in one resampling of the original crop (the affine is folded
into the sampling maps), which is ~3x faster and a little sharper; `warp_batch` is the
top-level function the training pipeline runs in its worker processes.

Example:
    >>> rng = np.random.default_rng(0)
    >>> crop = np.zeros((256, 256, 3), np.uint8)
    >>> warped, target = warp_pair(crop, rng)
    >>> warped.shape, warped.dtype
    ((64, 64, 3), dtype('float32'))
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from swapface.geometry import CROP_COVERAGE, umeyama

log = logging.getLogger(__name__)

GRID_POINTS = 5  # control points per side of the warp grid, as in 2017


@dataclass(frozen=True)
class WarpSettings:
    """How much each training pair is distorted (the 2017 values by default)."""

    rotation: float = 10.0  # largest rotation, degrees, either way
    zoom: float = 0.05  # largest relative change of scale, either way
    shift: float = 0.05  # largest shift, as a fraction of the crop's side, either way
    flip: float = 0.4  # probability of a left-right mirror (faces are nearly symmetric)
    coverage: float = CROP_COVERAGE  # share of the crop's side the grid spans: the model's view (see view_coverage)
    jitter: float = 5.0  # std of the control points' noise, in pixels of a 256 px crop
    size: int = 64  # side of the warped and target images (the network's input)


def to_float(image: np.ndarray) -> np.ndarray:
    """uint8 (H, W, C) in [0, 255] to float32 in [0, 1]; float input is only cast to float32.

    One pass over the pixels: the multiply writes float32 directly.
    """
    if image.dtype == np.uint8:
        return np.multiply(image, np.float32(1 / 255), dtype=np.float32)
    return np.asarray(image, dtype=np.float32)


def transform_matrix(shape: tuple[int, ...], rng: np.random.Generator,
                     settings: WarpSettings = WarpSettings()) -> np.ndarray:
    """A random 3x3 float64 affine for a crop of `shape` (H, W, ...), mirror included.

    Rotation about the centre, zoom, shift, then (with probability `flip`) a left-right
    mirror, drawn in the 2017 order. It maps crop pixels to transformed pixels; 3x3 so
    that it composes with the warp (see `warp_pair`).
    """
    height, width = shape[:2]
    rotation = rng.uniform(-settings.rotation, settings.rotation)
    scale = rng.uniform(1 - settings.zoom, 1 + settings.zoom)
    tx = rng.uniform(-settings.shift, settings.shift) * width
    ty = rng.uniform(-settings.shift, settings.shift) * height
    matrix = np.eye(3)
    matrix[:2] = cv2.getRotationMatrix2D((width // 2, height // 2), rotation, scale)
    matrix[:2, 2] += (tx, ty)
    if rng.random() < settings.flip:
        # 2017 mirrored with result[:, ::-1]: column x takes column (width - 1 - x).
        mirror = np.array([[-1.0, 0.0, width - 1], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        matrix = mirror @ matrix
    return matrix


def random_transform(image: np.ndarray, rng: np.random.Generator,
                     settings: WarpSettings = WarpSettings()) -> np.ndarray:
    """The 2017 `random_transform`: `image` (H, W, C) rotated, zoomed, shifted, maybe mirrored.

    Same shape and dtype as `image`. Borders repeat the edge pixels so no black wedges appear.

    Example:
        >>> random_transform(np.zeros((256, 256, 3), np.uint8), np.random.default_rng(0)).shape
        (256, 256, 3)
    """
    height, width = image.shape[:2]
    matrix = transform_matrix(image.shape, rng, settings)
    return cv2.warpAffine(image, matrix[:2], (width, height), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def warp_grid(shape: tuple[int, ...], rng: np.random.Generator,
              settings: WarpSettings = WarpSettings()) -> np.ndarray:
    """Jittered control points, float64 (5, 5, 2) as (x, y) pixels of a crop of `shape`.

    An even 5x5 grid over the central `coverage` of the crop (where the mean face is), each
    point moved by Gaussian noise: grid[i, j] is row i, column j. Draw it over a crop to
    see the distortion.

    Example:
        >>> warp_grid((256, 256), np.random.default_rng(0), WarpSettings(jitter=0))[0, :, 0]
        array([ 48.,  88., 128., 168., 208.])
    """
    height, width = shape[:2]
    # x noise first, then y, as 2017 drew them; the scale follows the crop's size.
    noise = rng.normal(size=(2, GRID_POINTS, GRID_POINTS))
    scale = settings.jitter / 256 * np.array([width, height])
    return _even_grid(height, width, settings.coverage) + np.moveaxis(noise, 0, -1) * scale


# The helpers below are cached: a training run asks for the same few sizes millions of times.

@functools.lru_cache(maxsize=8)
def _even_grid(height: int, width: int, coverage: float) -> np.ndarray:
    """The unjittered control points, float64 (5, 5, 2), over the central `coverage`."""
    half = coverage / 2
    xs = np.linspace(width * (0.5 - half), width * (0.5 + half), GRID_POINTS)
    ys = np.linspace(height * (0.5 - half), height * (0.5 + half), GRID_POINTS)
    return _read_only(np.stack(np.meshgrid(xs, ys), axis=-1))


@functools.lru_cache(maxsize=8)
def _pixel_mesh(size: int) -> tuple[np.ndarray, np.ndarray]:
    """x and y of every output pixel, float64 (size, size) each."""
    x, y = np.meshgrid(np.arange(size, dtype=np.float64), np.arange(size, dtype=np.float64))
    return _read_only(x), _read_only(y)


@functools.lru_cache(maxsize=8)
def _output_points(size: int, points: int) -> np.ndarray:
    """Where the control points land in the output, float64 (points**2, 2), row by row."""
    step = np.arange(points) * size / (points - 1)
    return _read_only(np.stack(np.meshgrid(step, step), axis=-1).reshape(-1, 2))


def _read_only(array: np.ndarray) -> np.ndarray:
    # Cached arrays are shared between calls: make accidental writes fail loudly.
    array.setflags(write=False)
    return array


@functools.lru_cache(maxsize=8)
def _interp_weights(size: int, points: int) -> np.ndarray:
    """(size, points) float64 linear-interpolation weights from a grid to `size` pixels.

    Output pixel j sits at grid coordinate j * (points - 1) / size, so control point k lands
    on pixel k * size / (points - 1): the same places the target's similarity maps them to,
    which makes warped == target when there is no jitter. (2017 used cv2.resize, whose
    half-pixel centres put the warped image half an output pixel off the target.)
    """
    position = np.arange(size) * (points - 1) / size
    return _read_only(np.maximum(0.0, 1.0 - np.abs(position[:, None] - np.arange(points)[None, :])))


def _apply(matrix: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Apply a 3x3 affine to coordinate arrays; returns float32 maps for cv2.remap."""
    return ((matrix[0, 0] * x + matrix[0, 1] * y + matrix[0, 2]).astype(np.float32),
            (matrix[1, 0] * x + matrix[1, 1] * y + matrix[1, 2]).astype(np.float32))


def warp_maps(grid: np.ndarray, size: int = 64, to_image: np.ndarray | None = None):
    """cv2.remap maps ((mapx, mapy), (mapx, mapy)), each float32 (size, size), for warped and target.

    `grid` (P, P, 2) holds control points in the pixels of the crop being warped; `to_image`
    (3x3, default identity) takes those pixels to the pixels of the image actually sampled,
    so an earlier affine costs no extra resampling.
    """
    to_image = np.eye(3) if to_image is None else to_image
    points = grid.shape[0]
    weights = _interp_weights(size, points)
    # Interpolating then applying the affine equals the reverse (the weights sum to one).
    warped = _apply(to_image, weights @ grid[..., 0] @ weights.T, weights @ grid[..., 1] @ weights.T)
    to_output = umeyama(grid.reshape(-1, 2), _output_points(size, points), True)
    target = _apply(to_image @ np.linalg.inv(to_output), *_pixel_mesh(size))
    return warped, target


def _remap(image: np.ndarray, maps: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    # Replicated borders, like random_transform: a strong jitter then shows smeared edges,
    # not black corners the network would learn to draw.
    return cv2.remap(image, maps[0], maps[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def warp_with_grid(image: np.ndarray, grid: np.ndarray, size: int = 64,
                   to_image: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(warped, target), each float32 (size, size, C) in [0, 1], for a given control grid.

    `image` is uint8 BGR or float in [0, 1]; see `warp_maps` for `grid` and `to_image`.
    """
    image = to_float(image)
    warped_maps, target_maps = warp_maps(grid, size, to_image)
    return _remap(image, warped_maps), _remap(image, target_maps)


def random_warp(image: np.ndarray, rng: np.random.Generator,
                settings: WarpSettings = WarpSettings()) -> tuple[np.ndarray, np.ndarray]:
    """The 2017 `random_warp`: (warped, target), each float32 (size, size, C) in [0, 1].

    `image` is an aligned crop, uint8 BGR or float in [0, 1], of any size.

    Example:
        >>> warped, target = random_warp(np.zeros((256, 256, 3), np.uint8), np.random.default_rng(0))
        >>> target.shape
        (64, 64, 3)
    """
    return warp_with_grid(image, warp_grid(image.shape, rng, settings), settings.size)


def warp_pair(image: np.ndarray, rng: np.random.Generator,
              settings: WarpSettings = WarpSettings()) -> tuple[np.ndarray, np.ndarray]:
    """`random_warp(random_transform(image))` with a single resampling of `image`.

    Same draws from `rng`, so the same distortion; the result differs only by the blur the
    intermediate 256 px resampling would have added. Returns float32 (size, size, C) pairs.
    """
    matrix = transform_matrix(image.shape, rng, settings)
    grid = warp_grid(image.shape, rng, settings)
    return warp_with_grid(image, grid, settings.size, np.linalg.inv(matrix))


def warp_batch(images: Sequence[np.ndarray] | np.ndarray, rng: np.random.Generator,
               settings: WarpSettings = WarpSettings(),
               out: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Augment a batch: (warped, target), each float32 (N, size, size, C) in [0, 1].

    `images` is (N, H, W, C) uint8 BGR (C 3, or 4 with a weight channel) or a list of such
    crops (sizes may differ). `out` receives the result in place (a worker's shared
    memory). Pure and top-level: give each worker process its own `rng`.
    """
    if out is None:
        shape = (len(images), settings.size, settings.size, images[0].shape[-1] if len(images) else 3)
        out = np.empty(shape, np.float32), np.empty(shape, np.float32)
    warped, target = out
    for index, image in enumerate(images):
        warped[index], target[index] = warp_pair(image, rng, settings)
    return warped, target


def model_inputs(crops: Sequence[np.ndarray] | np.ndarray, settings: WarpSettings = WarpSettings()) -> np.ndarray:
    """Aligned crops (uint8 BGR (N, S, S, 3)) to undistorted model inputs, float32 (N, size, size, 3).

    The same central `coverage` of the crop that training warps, only without jitter: what
    a training target shows. Previews and evaluation cut their inputs here, so they see
    faces exactly as training does.

    Example:
        >>> model_inputs(np.zeros((2, 256, 256, 3), np.uint8)).shape
        (2, 64, 64, 3)
    """
    still = dataclasses.replace(settings, jitter=0.0)
    inputs = [warp_with_grid(crop, warp_grid(crop.shape, np.random.default_rng(0), still), settings.size)[1]
              for crop in crops]
    return np.stack(inputs) if inputs else np.zeros((0, settings.size, settings.size, 3), np.float32)
