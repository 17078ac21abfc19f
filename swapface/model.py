"""The 2017 deepfakes autoencoder: one shared encoder, one decoder per identity.

Both autoencoders (face A -> encoder -> decoder A, face B -> encoder -> decoder B) are
trained to redraw their own faces. Because the encoder is shared, it has to describe both
people with the same code (pose, expression, light); each decoder learns to draw its own
person from that code. The swap is then: encode a face of A, decode it with decoder B.

Faces are BGR float32 in [0, 1], shape (N, 64, 64, 3), as `swapface.warp` makes them.
Everything is written with Keras 3 layers and `keras.ops`, so any backend works.

Example:
    >>> net = build("tiny")
    >>> faces = np.zeros((2, 64, 64, 3), np.float32)
    >>> encode_decode(net, faces, "b").shape
    (2, 64, 64, 3)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterator

import keras
import numpy as np
from keras import layers, ops

from swapface.geometry import COVERAGE_2017

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSettings:
    """Architecture and optimiser of one model (the 2017 model by default)."""

    name: str = "original"  # preset name, written to config.json so `load` can check it
    image_size: int = 64  # side of the input and output faces
    encoder_filters: tuple[int, ...] = (128, 256, 512, 1024)  # one 5x5 stride-2 conv each
    encoder_dim: int = 1024  # width of the dense bottleneck: all a face is reduced to
    dense_channels: int = 1024  # channels of the 4x4 map the bottleneck is expanded to
    encoder_upscale: int = 512  # filters of the encoder's upscale: the decoders' input channels
    decoder_filters: tuple[int, ...] = (256, 128, 64)  # one x2 upscale each
    learning_rate: float = 5e-5  # Adam; small, as 2017: the swap needs ~100k steady steps
    beta_1: float = 0.5  # Adam's momentum; 0.5 (not 0.9), as 2017
    beta_2: float = 0.999  # Adam's second-moment decay (Keras default)
    # Share of the model's square that the mean face (brows to mouth) spans. 2017: 1.0, a
    # tight crop that leaves jaw, cheeks and forehead (much of what makes a face look like
    # someone) to the original person. 0.8 shows the model those too (benchmarks/quality.md).
    coverage: float = COVERAGE_2017
    # A fourth output channel: where the decoder's face is, learned against the landmark hull
    # (faceswap's and DeepFaceLab's learned masks), so conversion can blend along the new
    # face's own outline (`--mask learned`) rather than the old face's landmarks.
    learned_mask: bool = False
    # Side of the face the encoder looks at (0: image_size). Smaller, the input is averaged
    # down to it first: faceswap's DFaker layout, a 64 px view for the encoder and decoders
    # that draw 128 px. Who someone is and how they look fit in a 64 px code; the decoder's
    # extra upscale adds the detail, and the 64 px weights carry over (`grow`).
    encoder_size: int = 0

    def __post_init__(self):
        if not 0.5 <= self.coverage <= 1.0:
            raise ValueError(f"coverage {self.coverage} is outside 0.5 to 1.0")
        view = self.view_size
        if not 0 < view <= self.image_size or self.image_size % view:
            raise ValueError(f"preset {self.name!r}: the encoder's view ({view} px) must divide "
                             f"the face's {self.image_size} px")
        # Four stride-2 convs reach 4x4; one encoder and three decoder upscales get back to 64.
        bottom = view // 2 ** len(self.encoder_filters)
        out = bottom * 2 ** (1 + len(self.decoder_filters))
        if bottom < 1 or bottom * 2 ** len(self.encoder_filters) != view or out != self.image_size:
            raise ValueError(f"preset {self.name!r}: {len(self.encoder_filters)} convs and "
                             f"{len(self.decoder_filters)} decoder upscales do not map "
                             f"{view} px to {self.image_size} px")

    @property
    def view_size(self) -> int:
        """Side in px of the face the encoder's convs see."""
        return self.encoder_size or self.image_size

    @property
    def code_size(self) -> int:
        """Side of the encoder's output map, the decoders' input (8 for 64 px views)."""
        return self.view_size // 2 ** len(self.encoder_filters) * 2


PRESETS = {
    settings.name: settings
    for settings in (
        ModelSettings(),  # 2017: ~82 M parameters, ~3.8 GFLOPs per face
        # ~7x fewer FLOPs, ~25 MB: trains in hours on a laptop. It takes 4x bigger Adam
        # steps (DCGAN's 2e-4 with the same beta_1 0.5): a CPU gives it thousands of steps,
        # not the 100k the 2017 rate needs.
        ModelSettings(name="lite", encoder_filters=(32, 64, 128, 256), encoder_dim=256,
                      dense_channels=256, encoder_upscale=128, decoder_filters=(128, 64, 32),
                      learning_rate=2e-4),
        # 128 px faces (DeepFaceLab's H128 and faceswap's 128 px models are what 64 px users
        # move to): one more conv and one more upscale, narrow enough that the float32
        # weights stay under 30 MB and can be bundled. Made for a GPU: ~4x lite's cost per face.
        ModelSettings(name="lite128", image_size=128, encoder_filters=(32, 64, 128, 256, 256), encoder_dim=192,
                      dense_channels=256, encoder_upscale=128, decoder_filters=(96, 64, 32, 16),
                      learning_rate=2e-4),
        # 128 px faces grown from `lite` (faceswap's DFaker layout): lite's encoder on a 64 px
        # view of the face, lite's decoders plus one upscale to 128 px. `grow` starts it from
        # trained lite weights, so a CPU spends its hours on detail, not on learning faces again.
        ModelSettings(name="lite2x", image_size=128, encoder_size=64, encoder_filters=(32, 64, 128, 256),
                      encoder_dim=256, dense_channels=256, encoder_upscale=128, decoder_filters=(128, 64, 32, 32),
                      learning_rate=2e-4),
        # A toy for tests: builds and steps in milliseconds, learns nothing useful.
        ModelSettings(name="tiny", encoder_filters=(8, 16, 32, 64), encoder_dim=32,
                      dense_channels=16, encoder_upscale=16, decoder_filters=(16, 8, 8)),
    )
}


def get_preset(name: str | ModelSettings) -> ModelSettings:
    """The settings of preset `name` (settings pass through). Raises ValueError if unknown."""
    if isinstance(name, ModelSettings):
        return name
    if name not in PRESETS:
        raise ValueError(f"unknown model preset {name!r}: choose one of {sorted(PRESETS)}")
    return PRESETS[name]


# --- Cost, counted from the architecture without building it ---------------------------------

def weighted_layers(settings: ModelSettings, part: str) -> Iterator[tuple[int, int, int, int]]:
    """(kernel area, in channels, out channels, output pixels) of each conv/dense in `part`.

    `part` is "encoder" or "decoder". Dense layers count as 1x1 convs on one pixel.
    """
    side = settings.code_size // 2
    if part == "encoder":
        channels, size = 3, settings.view_size
        for filters in settings.encoder_filters:
            size //= 2
            yield 25, channels, filters, size * size
            channels = filters
        yield 1, side * side * channels, settings.encoder_dim, 1
        yield 1, settings.encoder_dim, side * side * settings.dense_channels, 1
        yield 9, settings.dense_channels, 4 * settings.encoder_upscale, side * side
        return
    channels, size = settings.encoder_upscale, side * 2
    for filters in settings.decoder_filters:
        yield 9, channels, 4 * filters, size * size
        channels, size = filters, size * 2
    yield 25, channels, 3, size * size
    if settings.learned_mask:
        yield 25, channels, 1, size * size


def count_params(settings: ModelSettings | str) -> int:
    """Trainable parameters of the encoder and both decoders (weights and biases)."""
    settings = get_preset(settings)

    def part(name):
        return sum(k * cin * cout + cout for k, cin, cout, _ in weighted_layers(settings, name))
    return part("encoder") + 2 * part("decoder")


def count_flops(settings: ModelSettings | str) -> int:
    """Forward FLOPs for one face through encoder + one decoder (2 per multiply-add).

    Convs and dense layers only: activations and pixel shuffles are a rounding error.
    """
    settings = get_preset(settings)
    return sum(2 * k * cin * cout * pixels
               for name in ("encoder", "decoder")
               for k, cin, cout, pixels in weighted_layers(settings, name))


def weights_mb(settings: ModelSettings | str) -> float:
    """Size of the float32 weights of the encoder and both decoders, in MB (10**6 bytes)."""
    return count_params(settings) * 4 / 1e6


# --- Layers and models --------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package="swapface")
class PixelShuffle(layers.Layer):
    """Sub-pixel upscaling: (N, H, W, C) -> (N, 2H, 2W, C/4), no weights.

    Channel order is that of the 2017 Keras 2 `PixelShuffler` (channels_last), so the 2017
    weights load unchanged: output pixel (2y + i, 2x + j), channel c, is input pixel (y, x),
    channel (2i + j) * C/4 + c. Height, width and channels must be known when built.
    """

    def __init__(self, size: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.size = size  # the upscale factor along each axis

    def call(self, inputs):
        _, height, width, channels = inputs.shape
        size, out = self.size, channels // (self.size * self.size)
        x = ops.reshape(inputs, (-1, height, width, size, size, out))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        return ops.reshape(x, (-1, height * size, width * size, out))

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        return batch, height * self.size, width * self.size, channels // (self.size * self.size)

    def get_config(self):
        return {**super().get_config(), "size": self.size}


def _conv(x, filters: int, name: str):
    # 2017's downscale block: strided 5x5 conv instead of pooling, leaky so no unit dies.
    x = layers.Conv2D(filters, 5, strides=2, padding="same", name=name)(x)
    return layers.LeakyReLU(negative_slope=0.1, name=f"{name}_act")(x)


def _upscale(x, filters: int, name: str):
    # 2017's upscale block: 4x the channels, then shuffle them into a 2x larger image.
    x = layers.Conv2D(filters * 4, 3, padding="same", name=f"{name}_conv")(x)
    x = layers.LeakyReLU(negative_slope=0.1, name=f"{name}_act")(x)
    return PixelShuffle(name=f"{name}_shuffle")(x)


def build_encoder(settings: ModelSettings) -> keras.Model:
    """Face (N, S, S, 3) -> code (N, V/8, V/8, encoder_upscale), float32; V is `view_size`."""
    face = keras.Input((settings.image_size, settings.image_size, 3), name="face")
    x = face
    if settings.view_size < settings.image_size:  # the mean of each block of pixels: an area resize
        x = layers.AveragePooling2D(settings.image_size // settings.view_size, name="view")(x)
    for index, filters in enumerate(settings.encoder_filters, start=1):
        x = _conv(x, filters, f"conv_{index}")
    side = x.shape[1]
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(settings.encoder_dim, name="dense_1")(x)
    x = layers.Dense(side * side * settings.dense_channels, name="dense_2")(x)
    x = layers.Reshape((side, side, settings.dense_channels), name="reshape")(x)
    x = _upscale(x, settings.encoder_upscale, "upscale")
    return keras.Model(face, x, name="encoder")


def build_decoder(settings: ModelSettings, name: str) -> keras.Model:
    """Code (N, V/8, V/8, encoder_upscale) -> face (N, S, S, 3), float32 in [0, 1].

    With `learned_mask`, (N, S, S, 4): the face, then its mask.
    """
    side = settings.code_size
    code = keras.Input((side, side, settings.encoder_upscale), name="code")
    x = code
    for index, filters in enumerate(settings.decoder_filters, start=1):
        x = _upscale(x, filters, f"upscale_{index}")
    # Sigmoid: pixels in [0, 1] like the targets.
    # float32 even under mixed precision: the sigmoid and the loss need the range.
    face = layers.Conv2D(3, 5, padding="same", activation="sigmoid", name="output", dtype="float32")(x)
    if settings.learned_mask:
        mask = layers.Conv2D(1, 5, padding="same", activation="sigmoid", name="mask", dtype="float32")(x)
        face = layers.Concatenate(name="face_and_mask", dtype="float32")([face, mask])
    return keras.Model(code, face, name=name)


@dataclass(frozen=True)
class FaceSwapModel:
    """The shared encoder, both decoders, and the two compiled autoencoders built from them."""

    settings: ModelSettings
    encoder: keras.Model
    decoder_a: keras.Model
    decoder_b: keras.Model
    autoencoder_a: keras.Model  # encoder then decoder_a, compiled (Adam, mean absolute error)
    autoencoder_b: keras.Model  # the same encoder object then decoder_b, compiled
    names: tuple[str, str] = ("a", "b")  # the people on side a and side b

    def side(self, side: str) -> str:
        """"a" or "b" for a side given as "a", "b" or a person's name."""
        if side in ("a", "b"):
            return side
        if side in self.names:
            return "ab"[self.names.index(side)]
        raise ValueError(f"unknown side {side!r}: use 'a', 'b' or one of {list(self.names)}")

    def autoencoder(self, side: str) -> keras.Model:
        return self.autoencoder_a if self.side(side) == "a" else self.autoencoder_b


def _optimizer(settings: ModelSettings) -> keras.optimizers.Optimizer:
    return keras.optimizers.Adam(learning_rate=settings.learning_rate, beta_1=settings.beta_1,
                                 beta_2=settings.beta_2)


def build(settings: ModelSettings | str = "original") -> FaceSwapModel:
    """Build and compile the two autoencoders around one shared encoder.

    Each autoencoder gets its own Adam: a Keras 3 optimiser serves one variable set. (2017
    shared one Keras 2 Adam object, which also kept separate moments per model.)

    Example:
        >>> model = build("tiny")
        >>> model.autoencoder_a.get_layer("encoder") is model.autoencoder_b.get_layer("encoder")
        True
    """
    settings = get_preset(settings)
    encoder = build_encoder(settings)
    decoders = {side: build_decoder(settings, f"decoder_{side}") for side in "ab"}
    autoencoders = {}
    for side, decoder in decoders.items():
        face = keras.Input((settings.image_size, settings.image_size, 3), name="face")
        autoencoder = keras.Model(face, decoder(encoder(face)), name=f"autoencoder_{side}")
        autoencoder.compile(optimizer=_optimizer(settings), loss="mean_absolute_error")
        autoencoders[side] = autoencoder
    log.debug("built %s model: %d parameters", settings.name, count_params(settings))
    return FaceSwapModel(settings, encoder, decoders["a"], decoders["b"],
                         autoencoders["a"], autoencoders["b"])


def encode_decode(net: FaceSwapModel, faces: np.ndarray, side: str,
                  batch_size: int = 64, mask: bool = False) -> np.ndarray:
    """Run faces (N, S, S, 3) float32 in [0, 1] through the encoder and decoder of `side`.

    `side` is "a", "b" or a person's name; decoding a face of A on side "b" is the swap.
    Uses `predict_on_batch`: `Model.predict` costs ~100 ms of set-up per call, too slow for
    a video converted frame by frame, and an eager `model(x)` is several times slower than
    the compiled function `predict_on_batch` keeps. Returns float32 (N, S, S, 3) in [0, 1];
    with `mask`, (N, S, S, 4): the learned mask last (a model without one gives ones there).
    """
    autoencoder = net.autoencoder(side)
    faces = np.asarray(faces, dtype=np.float32)
    size = net.settings.image_size
    outputs = []
    for start in range(0, len(faces), batch_size):
        chunk = faces[start:start + batch_size]
        # Pad to a power of two: each new batch shape retraces the compiled function
        # (~100 ms), and a video's face count changes from batch to batch.
        padded = 1 << (len(chunk) - 1).bit_length()
        chunk = np.concatenate([chunk, np.zeros((padded - len(chunk),) + chunk.shape[1:], np.float32)])
        outputs.append(np.asarray(autoencoder.predict_on_batch(chunk), np.float32)[:len(faces[start:start + batch_size])])
    out = np.concatenate(outputs) if outputs else np.zeros((0, size, size, 4), np.float32)
    if not mask:
        return out[..., :3]
    return out if out.shape[-1] == 4 else np.concatenate([out, np.ones_like(out[..., :1])], axis=-1)
