"""An adversarial term: a small patch discriminator per side, as faceswap-GAN added (2018).

L1 and DSSIM pay for every pixel that differs from the target. Where the fine detail of a
face (pores, iris rims, the gaps between teeth) cannot be predicted exactly from the
warped input, the cheapest answer under them is the average of the possibilities: a smooth
face. A discriminator does not compare with one target; it learns what real faces of
this person look like, window by window (~80 px of a 128 px face), and the decoder is paid
for windows it cannot tell from real ones, so drawing plausible texture pays even where its
exact place is a guess (Isola et al. 2017, "Image-to-image translation with conditional adversarial
networks": PatchGAN; Mao et al. 2017: the least-squares loss used here, steadier than
log-loss).

One training step of a side, with `LossSettings.adversarial` the term's weight next to the pixel loss:

1. the discriminator takes one Adam step on the side's real target faces (label 1) and
   the decoder's current drawings of them (label 0), both masked to the face (the blend
   throws the background away, so the discriminator should not look at it);
2. the autoencoder takes one step on its pixel loss plus that weight x the discriminator's
   squared distance from "real" on its drawings, the discriminator frozen.

Faces are BGR float32 in [0, 1], (N, S, S, 3); targets may carry the weight channel of
`swapface.batches.face_weights` as a 4th channel (its face mask is used). Written with Keras
layers; the steps are Keras' own `train_on_batch`, so any backend works.

Example:
    >>> from swapface import model as sm
    >>> net = sm.build("tiny")
    >>> sides = build(net, losses.LossSettings(adversarial=0.1))
    >>> faces = np.random.default_rng(0).random((2, 64, 64, 3), dtype=np.float32)
    >>> loss = step(sides["a"], faces, faces)  # one discriminator and one autoencoder step
    >>> loss > 0
    True
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from keras import layers

from swapface import checkpoints, files, losses

log = logging.getLogger(__name__)

FILTERS = (32, 64, 128)  # the discriminator's first 4x4 stride-2 convs: narrow, since each step runs it three times
LEARNING_RATE = 1e-4  # the discriminator's Adam (beta_1 0.5, as DCGAN): half the decoders', so it does not win outright


def build_discriminator(image_size: int, name: str) -> keras.Model:
    """Face (N, S, S, 3) float32 in [0, 1] -> (N, S/16, S/16, 1) "real" scores, one per patch.

    Each score sees a window of about 80 px (PatchGAN's is 70): big enough for an eye or a
    mouth, small enough that it judges texture, not who the face is. Least-squares targets:
    1 real, 0 drawn.
    """
    face = keras.Input((image_size, image_size, 3), name="face")
    x = layers.Rescaling(2.0, offset=-1.0, name="centre")(face)  # [-1, 1]: zero-centred inputs train faster
    for index, filters in enumerate(FILTERS, start=1):
        x = layers.Conv2D(filters, 4, strides=2, padding="same", name=f"conv_{index}")(x)
        x = layers.LeakyReLU(negative_slope=0.2, name=f"conv_{index}_act")(x)
    x = layers.Conv2D(FILTERS[-1], 4, strides=2, padding="same", name="conv_last")(x)
    x = layers.LeakyReLU(negative_slope=0.2, name="conv_last_act")(x)
    score = layers.Conv2D(1, 3, padding="same", name="score", dtype="float32")(x)
    return keras.Model(face, score, name=name)


@dataclass(frozen=True)
class Side:
    """What one side's adversarial step needs: its models, all sharing weights."""

    autoencoder: keras.Model  # the side's autoencoder (encoder + decoder), as trained without the term
    discriminator: keras.Model  # face -> patch scores, compiled with its own Adam (mean squared error)
    combined: keras.Model  # [face, mask] -> [autoencoder output, scores of its masked drawing]


def _combined(autoencoder: keras.Model, discriminator: keras.Model, loss_settings: losses.LossSettings) -> keras.Model:
    size = autoencoder.input_shape[1]
    face = keras.Input((size, size, 3), name="face")
    mask = keras.Input((size, size, 1), name="mask")
    drawn = autoencoder(face)
    scores = discriminator(layers.Multiply(name="masked")([drawn[..., :3], mask]))
    combined = keras.Model([face, mask], [drawn, scores], name=f"{autoencoder.name}_adversarial")
    discriminator.trainable = False  # the autoencoder's step leaves the discriminator alone
    # The autoencoder's own Adam: the trainable variables are the same, so its moments carry on.
    combined.compile(optimizer=autoencoder.optimizer, loss=[losses.make_loss(loss_settings), "mean_squared_error"],
                     loss_weights=[1.0, loss_settings.adversarial])
    discriminator.trainable = True
    return combined


def new_discriminator(image_size: int, side: str) -> keras.Model:
    """A fresh discriminator for faces of `image_size` px, compiled with its own Adam (built)."""
    discriminator = build_discriminator(image_size, f"discriminator_{side}")
    discriminator.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE, beta_1=0.5), loss="mean_squared_error")
    discriminator.optimizer.build(discriminator.trainable_variables)
    return discriminator


def build(net, loss_settings: losses.LossSettings,
          discriminators: dict[str, keras.Model] | None = None) -> dict[str, Side]:
    """{"a": Side, "b": Side} for a `FaceSwapModel`, the term weighted by `loss_settings.adversarial`;
    `discriminators` reuses trained ones.

    Call again after recompiling the autoencoders (freezing the encoder): the combined
    models are compiled for the variables trainable at that moment.
    """
    sides = {}
    for side in "ab":
        discriminator = (discriminators or {}).get(side) or new_discriminator(net.settings.image_size, side)
        autoencoder = net.autoencoder(side)
        sides[side] = Side(autoencoder, discriminator, _combined(autoencoder, discriminator, loss_settings))
    return sides


def face_mask(target: np.ndarray) -> np.ndarray:
    """float32 (N, S, S, 1): the face mask of a 4-channel target, or ones for a 3-channel one."""
    if target.shape[-1] < 4:
        return np.ones(target.shape[:-1] + (1,), np.float32)
    return np.clip(2.0 * target[..., 3:4], 0.0, 1.0).astype(np.float32)  # 0.5 on the face, 1 on eyes and mouth


def step(side: Side, warped: np.ndarray, target: np.ndarray) -> float:
    """One discriminator step, then one autoencoder step; returns the autoencoder's pixel loss.

    `warped` float32 (N, S, S, 3); `target` float32 (N, S, S, 3 or 4). The pixel loss alone is
    returned, so that runs with and without the term have comparable loss curves.
    """
    mask = face_mask(target)
    drawn = np.asarray(side.autoencoder.predict_on_batch(warped), np.float32)[..., :3]
    real = target[..., :3] * mask
    scores = side.discriminator.output_shape[1:]
    labels = np.concatenate([np.ones((len(real),) + scores, np.float32), np.zeros((len(drawn),) + scores, np.float32)])
    side.discriminator.train_on_batch(np.concatenate([real, drawn * mask]), labels)
    side.discriminator.trainable = False  # read per step by some backends (JAX, PyTorch), traced once by TensorFlow
    try:
        logs = side.combined.train_on_batch([warped, mask], [target, np.ones((len(warped),) + scores, np.float32)],
                                            return_dict=True)
    finally:
        side.discriminator.trainable = True
    return float(logs[f"{side.autoencoder.name}_loss"])


# --- Checkpoints -------------------------------------------------------------------------------

def files_of(side: str) -> tuple[str, str]:
    """(weights file, Adam file) of a side's discriminator inside a checkpoint folder."""
    return f"discriminator_{side}.weights.h5", f"adam_discriminator_{side}.npz"


def save(discriminators: dict[str, keras.Model], folder: str | Path) -> None:
    """Write both discriminators and their Adam states into a checkpoint folder, atomically."""
    folder = Path(folder)
    for side, discriminator in discriminators.items():
        weights, adam = files_of(side)
        files.atomic_write(folder / weights, discriminator.save_weights)
        checkpoints.save_optimizer(discriminator.optimizer, folder / adam)


def open_discriminators(image_size: int, folder: str | Path | None) -> dict[str, keras.Model]:
    """{"a": .., "b": ..}: the trained discriminators of a checkpoint folder, or fresh ones where it
    has none (a run that takes the term up now: they catch up in a few hundred steps)."""
    saved = folder is not None and all((Path(folder) / files_of(side)[0]).exists() for side in "ab")
    if not saved:
        log.info("adversarial term: fresh discriminators")
    found = {}
    for side in "ab":
        found[side] = discriminator = new_discriminator(image_size, side)
        if saved:
            weights, adam = files_of(side)
            discriminator.load_weights(Path(folder) / weights)
            checkpoints.load_optimizer(discriminator.optimizer, discriminator.trainable_variables, Path(folder) / adam)
    return found
