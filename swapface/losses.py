"""Training losses: the 2017 mean absolute error, and what later face-swap projects added.

* **L1** (mean absolute error): 2017's loss. Alone, it is content with a blurry average
  face: a soft edge costs little anywhere.
* **DSSIM** (structural dissimilarity, (1 - SSIM) / 2): compares local means, contrasts
  and structure in 11x11 windows, so smeared eyes and mouths cost a lot. faceswap and
  DeepFaceLab both default to it (DeepFaceLab: 10 DSSIM + 10 MSE).
* **Masked, eye and mouth priority**: targets may carry a fourth channel, a weight map
  warped with the face (`swapface.batches.face_weights`): 0 outside the face, 0.5 on the
  face, 1 on eyes and mouth. The L1 term then counts only the face, eyes and mouth
  `eye_mouth` times more, and DSSIM sees the face alone: capacity goes to what a face
  recogniser (and a person) looks at, not to the background the blend throws away.
* **Adversarial** (faceswap-GAN): a patch discriminator's verdict on the drawn face. It needs
  a second network trained alongside, so it lives in `swapface.adversarial`; `make_loss`
  is the pixel part, the same with or without it.
* **Edges** (the gradient difference loss of Mathieu et al. 2016, "Deep multi-scale video
  prediction beyond mean square error"; faceswap's "gradient loss"): L1 between the
  horizontal and vertical pixel differences of output and target. A blurred edge of
  contrast c costs about c here, where L1 on the pixels charges it a fraction: the term
  rewards detail (iris rims, teeth gaps, pores) and needs no pretrained network.

Tensors are (N, S, S, C) float32 BGR in [0, 1]; written with `keras.ops` for any backend.

Example:
    >>> loss = make_loss(LossSettings(kind="l1+dssim"))
    >>> x = np.full((1, 16, 16, 3), 0.5, np.float32)
    >>> round(float(loss(x, x)), 6)
    0.0
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
from keras import ops

KINDS = ("mae", "l1+dssim")  # --loss choices


@dataclass(frozen=True)
class LossSettings:
    """Which loss training minimises (the 2017 loss by default)."""

    kind: str = "mae"  # "mae" (2017) or "l1+dssim" (faceswap / DeepFaceLab)
    dssim_weight: float = 1.0  # DSSIM's weight next to L1's 1 (DeepFaceLab weighs them equally)
    masked: bool = False  # use the targets' weight channel: the face only, see the module text
    eye_mouth: float = 3.0  # with `masked`: eyes and mouth count this many times the rest of the face
    edges: float = 0.0  # weight of the edge (gradient difference) term; 0: none, as 2017
    adversarial: float = 0.0  # weight of a patch discriminator's verdict (`swapface.adversarial`); 0: none, as 2017

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown loss {self.kind!r}: choose one of {list(KINDS)}")


def gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    """float32 (size, size, 1, 1): the normalised Gaussian window of SSIM (Wang et al. 2004)."""
    axis = np.arange(size, dtype=np.float64) - (size - 1) / 2
    kernel = np.exp(-axis ** 2 / (2 * sigma ** 2))
    window = np.outer(kernel, kernel)
    return (window / window.sum()).astype(np.float32)[:, :, None, None]


def ssim_map(x, y, window: np.ndarray | None = None):
    """Per-pixel SSIM of two (N, S, S, C) batches in [0, 1]: (N, S-10, S-10, C), 'valid' windows.

    The same formula and constants (K1 0.01, K2 0.03) as `skimage.metrics.structural_similarity`
    with `gaussian_weights=True`; a test checks the two agree.
    """
    window = gaussian_window() if window is None else window
    channels = x.shape[-1]
    kernel = ops.convert_to_tensor(np.tile(window, (1, 1, channels, 1)))
    blur = lambda image: ops.depthwise_conv(image, kernel, strides=1, padding="valid")  # noqa: E731
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x * mu_x
    var_y = blur(y * y) - mu_y * mu_y
    cov = blur(x * y) - mu_x * mu_y
    return ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2))


def split_weights(weights, eye_mouth: float):
    """(face mask, pixel weights), each (N, S, S, 1), from a target's weight channel.

    The channel is 0 off the face, 0.5 on it and 1 on eyes and mouth (warping blends them
    linearly at the edges, and so does this mapping).
    """
    face = ops.clip(2.0 * weights, 0.0, 1.0)
    priority = ops.clip(2.0 * weights - 1.0, 0.0, 1.0)
    return face, face + (eye_mouth - 1.0) * priority


def edge_loss(target, output):
    """Mean absolute difference of the x and y pixel differences of two (N, S, S, C) batches.

    Example:
        >>> flat, edge = np.zeros((1, 4, 4, 1), np.float32), np.zeros((1, 4, 4, 1), np.float32)
        >>> edge[:, :, 2:] = 1  # one vertical edge of contrast 1, in 4 of the 12 x differences
        >>> round(float(edge_loss(flat, edge)), 4)  # (4 of 12 + 0 of 12) / 2
        0.1667
    """
    def differences(image):
        return image[:, :, 1:] - image[:, :, :-1], image[:, 1:] - image[:, :-1]
    (tx, ty), (ox, oy) = differences(target), differences(output)
    return (ops.mean(ops.abs(tx - ox)) + ops.mean(ops.abs(ty - oy))) / 2.0


def make_loss(settings: LossSettings = LossSettings()):
    """The loss function `loss(target, output)` -> scalar, for `keras.Model.compile`.

    `target` is (N, S, S, 3), or (N, S, S, 4) with the weight channel last; `output` is the
    decoder's (N, S, S, 3), or (N, S, S, 4) with a learned mask, which then learns the face
    region of the weight channel (mean absolute error).
    """
    window = gaussian_window()

    def loss(target, output):
        target, output = ops.cast(target, "float32"), ops.cast(output, "float32")
        colour, learned = target[..., :3], None
        if output.shape[-1] == 4:
            output, learned = output[..., :3], output[..., 3:4]
        if settings.masked:
            face, weights = split_weights(target[..., 3:4], settings.eye_mouth)
            total = ops.sum(weights) * 3.0 + 1e-6
            l1 = ops.sum(weights * ops.abs(colour - output)) / total
            colour, output = colour * face, output * face  # DSSIM of the face alone, as faceswap
        else:
            l1 = ops.mean(ops.abs(colour - output))
        total = l1
        if learned is not None:  # the mask head learns where the face is
            total = total + ops.mean(ops.abs(split_weights(target[..., 3:4], 1.0)[0] - learned))
        if settings.edges:  # on the face alone when masked: colour and output are masked above
            total = total + settings.edges * edge_loss(colour, output)
        if settings.kind == "mae":
            return total
        dssim = (1.0 - ops.mean(ssim_map(colour, output, window))) / 2.0
        return total + settings.dssim_weight * dssim

    loss.__name__ = f"{settings.kind}{'_masked' if settings.masked else ''}"
    return loss


def compile_model(autoencoders: list[keras.Model], settings: LossSettings = LossSettings()) -> None:
    """Compile each autoencoder with the loss of `settings`, keeping its own (built) optimizer.

    Reusing the optimizer keeps its Adam moments, so a resumed run or a recipe change does
    not restart Adam's statistics.
    """
    for autoencoder in autoencoders:
        autoencoder.compile(optimizer=autoencoder.optimizer, loss=make_loss(settings))
