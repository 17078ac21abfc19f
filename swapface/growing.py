"""Growing a model: more pixels from trained weights (lite -> lite2x: 64 px faces to 128 px).

A bigger-faced preset that keeps the small one's encoder and only adds upscales at the end
of its decoders can start from the small model's trained weights instead of from noise: the
new upscales begin as nearest-neighbour copies, and training only has to add the detail.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

from swapface.model import FaceSwapModel, ModelSettings, build, get_preset

log = logging.getLogger(__name__)


def can_grow(small: ModelSettings, big: ModelSettings) -> bool:
    """Whether `grow` can start `big` from `small`: the same encoder on the same view, and
    decoders that only add upscales at the end (lite -> lite2x)."""
    same_encoder = all(getattr(small, key) == getattr(big, key)
                       for key in ("encoder_filters", "encoder_dim", "dense_channels", "encoder_upscale"))
    extra = big.decoder_filters[len(small.decoder_filters):]
    return (same_encoder and small.view_size == big.view_size and big.image_size > small.image_size
            and big.decoder_filters[:len(small.decoder_filters)] == small.decoder_filters
            and all(filters == small.decoder_filters[-1] for filters in extra))


def _copy_upscale(filters: int) -> np.ndarray:
    """Kernel (3, 3, C, 4C) of an upscale that, with the pixel shuffle after it, repeats each
    pixel's C features into its 2x2 block: a nearest-neighbour upscale, so a new stage starts
    as a no-op and the trained layers around it keep doing what they learned."""
    kernel = np.zeros((3, 3, filters, 4 * filters), np.float32)
    for block in range(4):  # PixelShuffle: channel (2i + j) * C + c is pixel (i, j)'s channel c
        kernel[1, 1, np.arange(filters), block * filters + np.arange(filters)] = 1
    return kernel


def grow(small: FaceSwapModel, settings: ModelSettings | str) -> FaceSwapModel:
    """A bigger-faced model started from a trained one (`can_grow`): e.g. lite -> lite2x.

    Every layer both share keeps its weights (the encoder and the decoders' first
    upscales, and the output conv, now on a grid twice as fine); each new upscale starts as
    a nearest-neighbour copy (`_copy_upscale`). The grown model so starts by drawing about
    the small model's faces at twice the size (averaged back to 64 px they differ by ~3% of
    the range on the demo weights: the copy's second LeakyReLU shrinks negative features,
    and the output conv now reads a 2.5 px neighbourhood), and training only adds detail.
    Coverage, mask head and names come from `small`.

    Example:
        >>> big = grow(build("lite"), "lite2x")
        >>> big.settings.image_size, big.settings.view_size
        (128, 64)
    """
    settings = dataclasses.replace(get_preset(settings), coverage=small.settings.coverage,
                                   learned_mask=small.settings.learned_mask)
    if not can_grow(small.settings, settings):
        raise ValueError(f"a {settings.name!r} model cannot grow from a {small.settings.name!r} one")
    big = build(settings)
    for part in ("encoder", "decoder_a", "decoder_b"):
        source, target = getattr(small, part), getattr(big, part)
        for layer in target.layers:
            if not layer.weights:
                continue
            try:
                old = source.get_layer(layer.name).get_weights()
            except ValueError:  # a new upscale: starts as a copy of the pixels below it
                layer.set_weights([_copy_upscale(layer.weights[0].shape[2]), np.zeros(layer.weights[1].shape, np.float32)])
                continue
            layer.set_weights(old)
    log.info("grew a %s model into %s", small.settings.name, settings.name)
    return dataclasses.replace(big, names=small.names)
