"""Tests of saving and loading models (swapface.saving): round trips, wrong presets, the 2017
Keras 2 files, and every way a model folder can be damaged."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from swapface import model as sm, saving


def test_save_load_round_trip(tiny, faces, tmp_path):
    saving.save(tiny, tmp_path, names=("obama", "trump"), extra={"step": 12})
    loaded = saving.load(tmp_path)
    assert loaded.names == ("obama", "trump")
    assert loaded.settings == tiny.settings
    for side, name in (("a", "obama"), ("b", "trump")):
        np.testing.assert_array_equal(sm.encode_decode(loaded, faces, name),
                                      sm.encode_decode(tiny, faces, side))
    config = saving.read_config(tmp_path)
    assert config["preset"] == "tiny" and config["names"] == {"a": "obama", "b": "trump"}
    assert config["extra"] == {"step": 12}
    assert sorted(p.name for p in tmp_path.iterdir()) == [  # no temporary files left
        "config.json", "decoder_a.weights.h5", "decoder_b.weights.h5", "encoder.weights.h5"]


def test_load_wrong_preset_names_both(tiny, tmp_path):
    saving.save(tiny, tmp_path)
    saving.load(tmp_path, "tiny")
    with pytest.raises(ValueError, match="'tiny'.*'lite'") as error:
        saving.load(tmp_path, "lite")
    assert str(tmp_path) in str(error.value)


def test_load_weights_of_another_preset(tiny, tmp_path):
    # A config that says lite over weights from tiny (say, a botched copy).
    saving.save(tiny, tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config.update(preset="lite", settings=dataclasses.asdict(sm.PRESETS["lite"]))
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="'tiny' preset.*'lite' preset") as error:
        saving.load(tmp_path)
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
    for part, filename in saving.LEGACY_FILES.items():
        entries = []
        for layer in getattr(reference, part).layers:
            arrays = [rng.normal(0, 0.02, w.shape).astype(np.float32) for w in layer.weights]
            layer.set_weights(arrays) if arrays else None
            # Keras 2 named layers by type and a global counter; unweighted layers are listed too.
            entries.append((f"{type(layer).__name__.lower()}_{next(counter)}", arrays))
        _write_keras2_weights(tmp_path / filename, entries)
    loaded = saving.load_legacy(tmp_path, names=("trump", "cage"))
    faces = rng.uniform(0, 1, (2, 64, 64, 3)).astype(np.float32)
    for side in "ab":
        np.testing.assert_array_equal(sm.encode_decode(loaded, faces, side),
                                      sm.encode_decode(reference, faces, side))
    assert loaded.names == ("trump", "cage")


def test_corrupt_weight_files_are_clear_errors(tmp_path):
    net = sm.build("tiny")
    saving.save(net, tmp_path)
    data = (tmp_path / "decoder_b.weights.h5").read_bytes()
    (tmp_path / "decoder_b.weights.h5").write_bytes(data[: len(data) // 3])
    with pytest.raises(ValueError, match="decoder_b.weights.h5: corrupt or truncated"):
        saving.load(tmp_path)
    (tmp_path / "decoder_b.weights.h5").write_bytes(b"\0" * 100)
    with pytest.raises(ValueError, match="decoder_b.weights.h5: corrupt"):
        saving.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="encoder.h5 is missing"):
        saving.load_legacy(tmp_path)


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
    # Absurd but well-typed: refused before Keras builds (and TensorFlow runs out of memory on) them.
    (lambda c: {**c, "settings": {**c["settings"], "image_size": 2 ** 20}},
     "malformed model folder: setting 'image_size'"),
    (lambda c: {**c, "settings": {**c["settings"], "encoder_filters": [8, -16, 32, 64]}},
     "malformed model folder: setting 'encoder_filters' is [8, -16, 32, 64]"),
    (lambda c: {**c, "settings": {**c["settings"], "encoder_dim": 10 ** 8}},
     "malformed model folder: the settings describe"),
    (lambda c: {**c, "names": {"a": "sam", "b": "sam"}}, "malformed model folder: both people are named 'sam'"),
    (lambda c: [c], "not a model config (a JSON list"),
    (lambda c: "{", "corrupt model config"),
])
def test_malformed_config_is_one_error_naming_the_file(tiny, tmp_path, edit, problem):
    saving.save(tiny, tmp_path)
    path = tmp_path / "config.json"
    config = edit(json.loads(path.read_text()))
    path.write_text(config if isinstance(config, str) else json.dumps(config))
    with pytest.raises(ValueError) as error:
        saving.load(tmp_path)
    assert str(error.value).startswith(f"{path}: ") and problem in str(error.value)


def test_config_of_an_older_version_still_loads(tiny, tmp_path):
    saving.save(tiny, tmp_path)
    path = tmp_path / "config.json"
    config = json.loads(path.read_text())
    del config["sha256"], config["settings"]["coverage"]  # as saved before checksums and coverage
    path.write_text(json.dumps(config))
    assert saving.load(tmp_path).settings == tiny.settings
    assert saving.load(Path(__file__).resolve().parents[1] / "weights").names == ("obama", "trump")  # the demo weights


def test_a_damaged_byte_range_inside_a_weights_file_is_caught(tiny, tmp_path):
    saving.save(tiny, tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert set(config["sha256"]) == {f"{part}.weights.h5" for part in saving.PARTS}
    path = tmp_path / "encoder.weights.h5"
    data = bytearray(path.read_bytes())
    data[len(data) // 2: len(data) // 2 + 64] = bytes(64)  # inside the arrays: HDF5 itself notices nothing
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="encoder.weights.h5: damaged or replaced since it was saved"):
        saving.load(tmp_path)


def test_float16_storage_halves_the_files_and_loads_as_float32(tiny, faces, tmp_path):
    saving.save(tiny, tmp_path / "full")
    saving.save(tiny, tmp_path / "half", float16=True)
    sizes = {kind: sum(f.stat().st_size for f in (tmp_path / kind).glob("*.weights.h5")) for kind in ("full", "half")}
    assert sizes["half"] < 0.6 * sizes["full"]
    assert saving.read_config(tmp_path / "half")["storage"] == "float16"
    loaded = saving.load(tmp_path / "half")
    for before, after in zip(tiny.encoder.weights, loaded.encoder.weights):
        assert after.dtype == "float32"
        np.testing.assert_allclose(np.asarray(after), np.asarray(before), rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(sm.encode_decode(loaded, faces, "a"), sm.encode_decode(tiny, faces, "a"), atol=2e-3)
