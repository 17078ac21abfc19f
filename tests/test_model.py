"""Tests of the 2017 autoencoder (swapface.model), on the `tiny` preset where possible."""

import dataclasses
import json
from pathlib import Path

import keras
import numpy as np
import pytest

from swapface import model as sm


@pytest.fixture(scope="module")
def tiny():
    return sm.build("tiny")


@pytest.fixture(scope="module")
def faces():
    return np.random.default_rng(0).random((4, 64, 64, 3), dtype=np.float32)


def _param_count(model):
    return model.encoder.count_params() + model.decoder_a.count_params() + model.decoder_b.count_params()


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
    model = sm.build("tiny")
    assert model.autoencoder_a.get_layer("encoder") is model.encoder
    assert model.autoencoder_b.get_layer("encoder") is model.encoder
    before = sm.encode_decode(model, faces, "b")
    decoder_b = [w.copy() for w in model.decoder_b.get_weights()]
    model.autoencoder_a.train_on_batch(faces, faces)
    # Training side A moved side B's output, and only through the encoder.
    assert not np.array_equal(sm.encode_decode(model, faces, "b"), before)
    for old, new in zip(decoder_b, model.decoder_b.get_weights()):
        np.testing.assert_array_equal(old, new)


def test_encode_decode(tiny, faces):
    out = sm.encode_decode(tiny, faces, "a", batch_size=3)  # two calls, 3 + 1
    assert out.shape == faces.shape and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 1
    np.testing.assert_allclose(out, sm.encode_decode(tiny, faces, "a"), atol=1e-6)
    assert sm.encode_decode(tiny, faces[:0], "b").shape == (0, 64, 64, 3)
    with pytest.raises(ValueError, match="unknown side"):
        sm.encode_decode(tiny, faces, "c")


def test_save_load_round_trip(tiny, faces, tmp_path):
    sm.save(tiny, tmp_path, names=("obama", "trump"), extra={"step": 12})
    loaded = sm.load(tmp_path)
    assert loaded.names == ("obama", "trump")
    assert loaded.settings == tiny.settings
    for side, name in (("a", "obama"), ("b", "trump")):
        np.testing.assert_array_equal(sm.encode_decode(loaded, faces, name),
                                      sm.encode_decode(tiny, faces, side))
    config = sm.read_config(tmp_path)
    assert config["preset"] == "tiny" and config["names"] == {"a": "obama", "b": "trump"}
    assert config["extra"] == {"step": 12}
    assert sorted(p.name for p in tmp_path.iterdir()) == [  # no temporary files left
        "config.json", "decoder_a.weights.h5", "decoder_b.weights.h5", "encoder.weights.h5"]


def test_load_wrong_preset_names_both(tiny, tmp_path):
    sm.save(tiny, tmp_path)
    sm.load(tmp_path, "tiny")
    with pytest.raises(ValueError, match="'tiny'.*'lite'") as error:
        sm.load(tmp_path, "lite")
    assert str(tmp_path) in str(error.value)


def test_load_weights_of_another_preset(tiny, tmp_path):
    # A config that says lite over weights from tiny (say, a botched copy).
    sm.save(tiny, tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config.update(preset="lite", settings=dataclasses.asdict(sm.PRESETS["lite"]))
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="'tiny' preset.*'lite' preset") as error:
        sm.load(tmp_path)
    assert str(tmp_path) in str(error.value)


def _write_keras2_weights(path, layers_and_arrays):
    """Write arrays in the layout of Keras 2's `Model.save_weights(...h5)`, as 2017 did."""
    import h5py

    with h5py.File(path, "w") as file:
        file.attrs["layer_names"] = [name.encode() for name, _ in layers_and_arrays]
        file.attrs["backend"] = b"tensorflow"
        file.attrs["keras_version"] = b"2.0.8"
        for name, arrays in layers_and_arrays:
            group = file.create_group(name)
            weight_names = [f"{name}/{kind}:0" for kind in ("kernel", "bias")][: len(arrays)]
            group.attrs["weight_names"] = [w.encode() for w in weight_names]
            for weight_name, array in zip(weight_names, arrays):
                group.create_dataset(weight_name, data=array)


def test_legacy_2017_weights_load_into_original(tmp_path):
    """Files laid out as the 2017 notebooks saved them load into the `original` preset."""
    reference = sm.build("original")
    rng = np.random.default_rng(0)
    counter = iter(range(1, 100))
    for part, filename in sm.LEGACY_FILES.items():
        entries = []
        for layer in getattr(reference, part).layers:
            arrays = [rng.normal(0, 0.02, w.shape).astype(np.float32) for w in layer.weights]
            layer.set_weights(arrays) if arrays else None
            # Keras 2 named layers by type and a global counter; unweighted layers are listed too.
            entries.append((f"{type(layer).__name__.lower()}_{next(counter)}", arrays))
        _write_keras2_weights(tmp_path / filename, entries)
    loaded = sm.load_legacy(tmp_path, names=("trump", "cage"))
    faces = rng.uniform(0, 1, (2, 64, 64, 3)).astype(np.float32)
    for side in "ab":
        np.testing.assert_array_equal(sm.encode_decode(loaded, faces, side),
                                      sm.encode_decode(reference, faces, side))
    assert loaded.names == ("trump", "cage")


def test_corrupt_weight_files_are_clear_errors(tmp_path):
    net = sm.build("tiny")
    sm.save(net, tmp_path)
    data = (tmp_path / "decoder_b.weights.h5").read_bytes()
    (tmp_path / "decoder_b.weights.h5").write_bytes(data[: len(data) // 3])
    with pytest.raises(ValueError, match="decoder_b.weights.h5: corrupt or truncated"):
        sm.load(tmp_path)
    (tmp_path / "decoder_b.weights.h5").write_bytes(b"\0" * 100)
    with pytest.raises(ValueError, match="decoder_b.weights.h5: corrupt"):
        sm.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="encoder.h5 is missing"):
        sm.load_legacy(tmp_path)


@pytest.mark.parametrize("edit, problem", [
    (lambda c: {k: v for k, v in c.items() if k != "settings"}, "missing 'settings'"),
    (lambda c: {k: v for k, v in c.items() if k != "names"}, "missing 'names'"),
    (lambda c: {**c, "settings": {k: v for k, v in c["settings"].items() if k != "image_size"}},
     "settings are missing 'image_size'"),
    (lambda c: {**c, "settings": {**c["settings"], "dropout": 0.5}}, "unknown setting 'dropout'"),
    (lambda c: {**c, "settings": {**c["settings"], "encoder_dim": "32"}}, "setting 'encoder_dim' is '32'"),
    (lambda c: {**c, "settings": {**c["settings"], "decoder_filters": 16}}, "setting 'decoder_filters' is 16"),
    (lambda c: {**c, "settings": {**c["settings"], "image_size": 60}}, "do not map 60 px"),
    (lambda c: {**c, "names": ["only one"]}, "'names' must be two names"),
    (lambda c: [c], "not a model config (a JSON list"),
    (lambda c: "{", "corrupt model config"),
])
def test_malformed_config_is_one_error_naming_the_file(tiny, tmp_path, edit, problem):
    sm.save(tiny, tmp_path)
    path = tmp_path / "config.json"
    config = edit(json.loads(path.read_text()))
    path.write_text(config if isinstance(config, str) else json.dumps(config))
    with pytest.raises(ValueError) as error:
        sm.load(tmp_path)
    assert str(error.value).startswith(f"{path}: ") and problem in str(error.value)


def test_config_of_an_older_version_still_loads(tiny, tmp_path):
    sm.save(tiny, tmp_path)
    path = tmp_path / "config.json"
    config = json.loads(path.read_text())
    del config["sha256"], config["settings"]["coverage"]  # as saved before checksums and coverage
    path.write_text(json.dumps(config))
    assert sm.load(tmp_path).settings == tiny.settings
    assert sm.load(Path(__file__).resolve().parents[1] / "weights").names == ("obama", "trump")  # the demo weights


def test_a_damaged_byte_range_inside_a_weights_file_is_caught(tiny, tmp_path):
    sm.save(tiny, tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert set(config["sha256"]) == {f"{part}.weights.h5" for part in sm.PARTS}
    path = tmp_path / "encoder.weights.h5"
    data = bytearray(path.read_bytes())
    data[len(data) // 2: len(data) // 2 + 64] = bytes(64)  # inside the arrays: HDF5 itself notices nothing
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="encoder.weights.h5: damaged or replaced since it was saved"):
        sm.load(tmp_path)
