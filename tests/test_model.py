"""Tests of the 2017 autoencoder (swapface.model), on the `tiny` preset where possible."""

from pathlib import Path

import keras
import numpy as np
import pytest

from swapface import growing, model as sm

ROOT = Path(__file__).resolve().parents[1]


def _param_count(net):
    return net.encoder.count_params() + net.decoder_a.count_params() + net.decoder_b.count_params()


def test_original_has_2017_size():
    original = sm.build("original")
    count = _param_count(original)
    assert 81e6 <= count <= 83e6
    assert count == sm.count_params("original")
    assert original.encoder.output_shape == (None, 8, 8, 512)
    assert original.autoencoder_a.output_shape == (None, 64, 64, 3)


@pytest.mark.parametrize("name", ["lite", "tiny"])
def test_count_params_matches_keras(name):
    assert _param_count(sm.build(name)) == sm.count_params(name)


def test_lite_is_cheap_enough():
    assert sm.count_flops("original") >= 4 * sm.count_flops("lite")
    assert sm.weights_mb("lite") <= 30


def test_lite128_is_bundleable():
    """128 px faces, float32 weights under 30 MB (the bundle limit)."""
    assert sm.get_preset("lite128").image_size == 128 and sm.weights_mb("lite128") <= 30
    net = sm.build("lite128")
    assert net.autoencoder_a.output_shape == (None, 128, 128, 3)


def test_tiny_is_tiny():
    assert 1_000 <= sm.count_params("tiny") <= 500_000


def test_settings_reject_sizes_that_do_not_round_trip():
    with pytest.raises(ValueError, match="60 px"):
        sm.ModelSettings(image_size=60)
    with pytest.raises(ValueError, match="unknown model preset"):
        sm.get_preset("huge")


def _pixel_shuffler_2017(x):
    """The 2017 Keras 2 PixelShuffler (channels_last), in numpy."""
    batch, height, width, channels = x.shape
    out = x.reshape(batch, height, width, 2, 2, channels // 4)
    out = out.transpose(0, 1, 3, 2, 4, 5)
    return out.reshape(batch, height * 2, width * 2, channels // 4)


def test_pixel_shuffle_matches_2017():
    x = np.random.default_rng(1).random((2, 3, 5, 12), dtype=np.float32)
    out = keras.ops.convert_to_numpy(sm.PixelShuffle()(x))
    np.testing.assert_array_equal(out, _pixel_shuffler_2017(x))
    # Spelled out: output (2y + i, 2x + j), channel c is input (y, x), channel (2i + j) * 3 + c.
    assert out[1, 2 * 2 + 1, 2 * 4 + 0, 2] == x[1, 2, 4, (2 * 1 + 0) * 3 + 2]


def test_pixel_shuffle_serializes():
    layer = sm.PixelShuffle(name="shuffle")
    again = keras.layers.deserialize(keras.layers.serialize(layer))
    assert isinstance(again, sm.PixelShuffle) and again.size == 2


def test_encoder_is_shared(faces):
    net = sm.build("tiny")
    assert net.autoencoder_a.get_layer("encoder") is net.encoder
    assert net.autoencoder_b.get_layer("encoder") is net.encoder
    before = sm.encode_decode(net, faces, "b")
    decoder_b = [w.copy() for w in net.decoder_b.get_weights()]
    net.autoencoder_a.train_on_batch(faces, faces)
    # Training side A moved side B's output, and only through the encoder.
    assert not np.array_equal(sm.encode_decode(net, faces, "b"), before)
    for old, new in zip(decoder_b, net.decoder_b.get_weights()):
        np.testing.assert_array_equal(old, new)


def test_encode_decode(tiny, faces):
    out = sm.encode_decode(tiny, faces, "a", batch_size=3)  # two calls, 3 + 1
    assert out.shape == faces.shape and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 1
    np.testing.assert_allclose(out, sm.encode_decode(tiny, faces, "a"), atol=1e-6)
    assert sm.encode_decode(tiny, faces[:0], "b").shape == (0, 64, 64, 3)
    with pytest.raises(ValueError, match="unknown side"):
        sm.encode_decode(tiny, faces, "c")


def test_grown_model_starts_by_drawing_the_small_models_faces_larger(data_dir):
    """`grow` keeps what trained weights learned (the bundled base, a lite model): lite2x's
    128 px faces, averaged back to 64 px, are close to the lite model's own, far closer than
    a fresh lite2x's."""
    import cv2

    from swapface import faces, media, saving, swap

    small = saving.load(ROOT / "weights" / "base")
    grown, fresh = growing.grow(small, "lite2x"), sm.build("lite2x")
    assert grown.names == small.names and grown.settings.coverage == small.settings.coverage
    frame = media.read_image(data_dir / "obama" / "c001_f00024.jpg")
    points = faces.largest_face(frame).landmarks
    face64 = swap.model_input(frame, swap.face_job(0, points, small.settings).matrix, 64)[None]
    face128 = swap.model_input(frame, swap.face_job(0, points, grown.settings).matrix, 128)[None]
    for side in "ab":
        want = sm.encode_decode(small, face64, side)[0]
        error = {name: np.abs(cv2.resize(sm.encode_decode(net, face128, side)[0], (64, 64),
                                         interpolation=cv2.INTER_AREA) - want).mean()
                 for name, net in (("grown", grown), ("fresh", fresh))}
        assert error["grown"] < 0.05 and error["grown"] < error["fresh"] / 3, error
    with pytest.raises(ValueError, match="cannot grow"):
        growing.grow(small, "lite128")
