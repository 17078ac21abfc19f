"""A model on disk: `config.json` and one `.weights.h5` per part, checked when loaded.

The folder holds the architecture's settings, the two people's names and a SHA-256 of each
weights file (HDF5 loads a damaged byte range without a word). Weights files hold arrays
only, no code or pickles, so loading runs nothing. The 2017 notebooks' Keras 2 files
(`encoder.h5`, `decoder_A.h5`, `decoder_B.h5`) load too.

Example:
    >>> from swapface import saving
    >>> net = saving.load("weights")
    >>> net.settings.name, net.names
    ('lite2x', ('obama', 'trump'))
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from pathlib import Path

import h5py
import keras
import numpy as np

from swapface import files
from swapface.model import PRESETS, FaceSwapModel, ModelSettings, build, get_preset, weighted_layers

log = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
PARTS = ("encoder", "decoder_a", "decoder_b")  # the sub-models saved, one weights file each


def _names(names) -> tuple[str, str]:
    if isinstance(names, dict):
        return str(names["a"]), str(names["b"])
    first, second = names
    return str(first), str(second)


def _halve(path: str) -> None:
    """Rewrite a weights file with every float32 array stored as float16: half the bytes.

    Copied into a fresh file, since HDF5 does not give back the space of deleted arrays.
    """
    def copy(source: h5py.Group, target: h5py.Group) -> None:
        target.attrs.update(source.attrs)
        for key, item in source.items():
            if isinstance(item, h5py.Group):
                copy(item, target.create_group(key))
            else:
                values = item[()]
                target.create_dataset(key, data=values.astype(np.float16) if values.dtype == np.float32 else values)
                target[key].attrs.update(item.attrs)

    half = f"{path}.half"
    with h5py.File(path, "r") as source, h5py.File(half, "w") as target:
        copy(source, target)
    os.replace(half, path)


def save(net: FaceSwapModel, directory: str | os.PathLike, names=None,
         extra: dict | None = None, float16: bool = False) -> Path:
    """Write encoder/decoder_a/decoder_b `.weights.h5` and `config.json` into `directory`.

    `names` is ("obama", "trump") or {"a": ..., "b": ...} (default: `net.names`); `extra`
    is stored as config["extra"] (e.g. the training step). `float16` stores the arrays at
    half size, for a bundle (loading casts them back to the model's float32; each weight
    moves by at most 1/2048 of itself). The config is written last, so a directory with a
    config has all its weights. Returns the directory.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for part in PARTS:
        write = getattr(net, part).save_weights
        files.atomic_write(directory / f"{part}.weights.h5",
                           (lambda path, write=write: (write(path), _halve(path))) if float16 else write)
    first, second = _names(net.names if names is None else names)
    config = {"preset": net.settings.name, "settings": dataclasses.asdict(net.settings),
              "names": {"a": first, "b": second}, "extra": extra or {},
              "storage": "float16" if float16 else "float32",
              # HDF5 loads a file with a damaged byte range without a word: `load` checks these.
              "sha256": {f"{part}.weights.h5": file_sha256(directory / f"{part}.weights.h5") for part in PARTS}}
    text = json.dumps(config, indent=2) + "\n"
    files.write_text_atomic(directory / CONFIG_FILE, text)
    log.info("saved %s model to %s", net.settings.name, directory)
    return directory


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file, hex, read in 1 MB blocks (weights files reach 330 MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# The settings every config.json has held; keys added later (coverage, ...) default when missing.
FIRST_SETTINGS = ("name", "image_size", "encoder_filters", "encoder_dim", "dense_channels", "encoder_upscale",
                  "decoder_filters", "learning_rate", "beta_1", "beta_2")


def _fits(value, default) -> bool:
    """Whether a JSON value can stand for a setting whose default is `default`."""
    def number(v, kinds):
        return isinstance(v, kinds) and not isinstance(v, bool)
    if isinstance(default, tuple):
        return isinstance(value, list) and bool(value) and all(number(v, int) for v in value)
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return number(value, int)
    if isinstance(default, float):
        return number(value, (int, float))
    if isinstance(default, str):
        return isinstance(value, str)
    return True


MAX_IMAGE_SIZE = 1024  # px: a face model's square; beyond it the numbers are not a model's
MAX_PARAMETERS = 1_000_000_000  # 4 GB of float32 weights: 12x the 2017 model, past any machine this runs on


def _absurd(settings: dict) -> str | None:
    """Why well-typed architecture settings cannot be a model (a hand-edited config.json), or None.

    Checked before Keras builds it: an `image_size` of a million is a TensorFlow traceback or
    an exhausted memory there, one line here.
    """
    sizes = {key: value for key, value in settings.items()  # Adam's betas may be 0
             if key in FIRST_SETTINGS and key not in ("name", "beta_1", "beta_2")
             and isinstance(value, (int, float, list))}
    for key, value in sizes.items():
        values = value if isinstance(value, list) else [value]
        if not all(np.isfinite(v) and v > 0 for v in values):
            return f"setting {key!r} is {value!r}: it must be positive"
    if settings.get("image_size", 64) > MAX_IMAGE_SIZE:
        return f"setting 'image_size' is {settings['image_size']} px; the largest face model is {MAX_IMAGE_SIZE} px"
    try:
        model_settings = _settings({"settings": settings})
    except (TypeError, ValueError) as err:
        return str(err)
    count = sum(k * cin * cout + cout for part in ("encoder", "decoder", "decoder")
                for k, cin, cout, _ in weighted_layers(model_settings, part))
    if count > MAX_PARAMETERS:
        return f"the settings describe a model of {count:.3g} weights (the 2017 one has 8.2e7)"
    return None


def check_config(config, path: str | os.PathLike) -> dict:
    """Return `config` if it is a well-formed model config, else ValueError naming `path` and the problem.

    A hand-edited or damaged config.json must fail here, in one line, not as a KeyError or
    TypeError deep inside Keras.
    """
    if not isinstance(config, dict):
        raise ValueError(f"{path}: not a model config (a JSON {type(config).__name__}, expected an object)")
    for key in ("settings", "names"):
        if key not in config:
            raise ValueError(f"{path}: model config is missing {key!r}")
    settings = config["settings"]
    if not isinstance(settings, dict):
        raise ValueError(f"{path}: 'settings' is a {type(settings).__name__}, not an object")
    fields = {field.name: field.default for field in dataclasses.fields(ModelSettings)}
    for key in settings:
        if key not in fields:
            raise ValueError(f"{path}: unknown setting {key!r} (written by a newer swapface?)")
        if not _fits(settings[key], fields[key]):
            raise ValueError(f"{path}: setting {key!r} is {settings[key]!r}, not a {type(fields[key]).__name__}")
    for key in FIRST_SETTINGS:
        if key not in settings:
            raise ValueError(f"{path}: settings are missing {key!r}")
    names = config["names"]
    pair = [names.get("a"), names.get("b")] if isinstance(names, dict) else names
    if not isinstance(pair, list) or len(pair) != 2 or not all(isinstance(name, str) for name in pair):
        raise ValueError(f"{path}: 'names' must be two names, as {{\"a\": ..., \"b\": ...}}")
    if pair[0] == pair[1]:
        raise ValueError(f"{path}: malformed model folder: both people are named {pair[0]!r}, so --to cannot "
                         "tell their decoders apart")
    problem = _absurd(settings)
    if problem:
        raise ValueError(f"{path}: malformed model folder: {problem}")
    sums = config.get("sha256", {})
    if not isinstance(sums, dict) or not all(isinstance(value, str) for value in sums.values()):
        raise ValueError(f"{path}: 'sha256' must map weights files to hex digests")
    return config


def read_config(directory: str | os.PathLike) -> dict:
    """The config.json of a saved model, as a dict, checked (`check_config`).

    FileNotFoundError if there is none; ValueError naming the file if it is malformed.
    """
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{directory}: no {CONFIG_FILE}; not a saved swapface model")
    return check_config(files.read_json(path, "model config"), path)


def _settings(config: dict) -> ModelSettings:
    # JSON turned the tuples into lists; frozen settings compare equal only as tuples.
    values = {key: tuple(value) if isinstance(value, list) else value
              for key, value in config["settings"].items()}
    return ModelSettings(**values)


def _open_h5(path: Path) -> h5py.File:
    """Open a weights file, turning h5py's errors into one naming the file and the problem."""
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise ValueError(f"{path}: corrupt or truncated weights file ({err})") from err


def _file_shapes(path: Path) -> list[tuple[int, ...]]:
    """Shapes of every array in an HDF5 weights file, in file order."""
    shapes = []
    with _open_h5(path) as weights:
        weights.visititems(lambda _, item: shapes.append(item.shape)
                           if isinstance(item, h5py.Dataset) else None)
    return shapes


def _guess_preset(part: str, shapes: list[tuple[int, ...]]) -> str:
    """The preset whose `part` has weights of these sizes, or "an unknown preset"."""
    kind = "encoder" if part == "encoder" else "decoder"
    sizes = sorted(int(np.prod(shape)) for shape in shapes)
    for name, settings in PRESETS.items():
        expected = sorted(size for k, cin, cout, _ in weighted_layers(settings, kind)
                          for size in (k * cin * cout, cout))
        if expected == sizes:
            return f"the {name!r} preset"
    return "an unknown preset"


def _load_part(model: keras.Model, path: Path, directory: Path, name: str, sha256: str | None = None) -> None:
    if not path.is_file():
        raise FileNotFoundError(f"{directory}: {path.name} is missing")
    # Check shapes ourselves: Keras may only warn when a file does not fit the model.
    found = _file_shapes(path)
    wanted = [tuple(weight.shape) for weight in model.weights]
    if sorted(found) != sorted(wanted):
        raise ValueError(f"{directory}: {path.name} holds weights of {_guess_preset(model.name, found)},"
                         f" not of the {name!r} preset that config.json names")
    # After the structural checks, which name a truncated file or another preset more helpfully.
    if sha256 is not None and file_sha256(path) != sha256:
        raise ValueError(f"{path}: damaged or replaced since it was saved (its SHA-256 is not the one "
                         f"in {CONFIG_FILE})")
    try:
        model.load_weights(path)
    except (OSError, KeyError, ValueError) as err:
        raise ValueError(f"{path}: corrupt weights file ({err})") from err


def load(directory: str | os.PathLike, preset: str | ModelSettings | None = None) -> FaceSwapModel:
    """Rebuild a model saved by `save` and load its weights (and its people's names).

    If `preset` is given, the saved model must be that preset, else ValueError naming
    both. Weights files hold arrays only, no code or pickles, so loading runs nothing.
    """
    directory = Path(directory)
    config = read_config(directory)
    try:
        saved = _settings(config)
    except ValueError as err:  # an impossible architecture: say which file holds it
        raise ValueError(f"{directory / CONFIG_FILE}: {err}") from err
    wanted = saved if preset is None else get_preset(preset)
    if isinstance(preset, str):  # a preset names an architecture; coverage and the mask head come with the weights
        wanted = dataclasses.replace(wanted, coverage=saved.coverage, learned_mask=saved.learned_mask)
    if wanted != saved:
        differs = " with other settings" if wanted.name == saved.name else ""
        raise ValueError(f"{directory}: holds a {saved.name!r} model, but the "
                         f"{wanted.name!r} preset{differs} was asked for")
    model = build(saved)
    sums = config.get("sha256", {})  # models saved before checksums have none: loaded unchecked
    for part in PARTS:
        _load_part(getattr(model, part), directory / f"{part}.weights.h5", directory, saved.name,
                   sums.get(f"{part}.weights.h5"))
    log.info("loaded %s model from %s", saved.name, directory)
    return dataclasses.replace(model, names=_names(config["names"]))


# The 2017 notebooks saved `encoder.save_weights("models/encoder.h5")` and so on with Keras 2.
LEGACY_FILES = {"encoder": "encoder.h5", "decoder_a": "decoder_A.h5", "decoder_b": "decoder_B.h5"}


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def legacy_arrays(path: str | os.PathLike) -> list[np.ndarray]:
    """The weight arrays of a Keras 2 `save_weights` .h5 file, in layer order.

    Keras 2 keeps a `layer_names` list at the root (under `model_weights` for a full-model
    save) and, per layer, a `weight_names` list (kernel, then bias) naming its datasets.
    Only arrays are read: no code, no pickles.
    """
    path = Path(path)
    with _open_h5(path) as file:
        root = file["model_weights"] if "model_weights" in file else file
        if "layer_names" not in root.attrs:
            raise ValueError(f"{path}: not a Keras 2 weights file (no layer_names)")
        arrays = []
        for layer in map(_text, root.attrs["layer_names"]):
            group = root[layer]
            arrays += [np.asarray(group[_text(name)]) for name in group.attrs.get("weight_names", [])]
    return arrays


def load_legacy(directory: str | os.PathLike, names=("a", "b")) -> FaceSwapModel:
    """Load the 2017 deepfakes files (encoder.h5, decoder_A.h5, decoder_B.h5) as `original`.

    The 2017 layer names were generated (conv2d_1, ...), so weights are matched by order
    and shape; our PixelShuffle orders channels as the 2017 PixelShuffler did, so the
    loaded model computes what the old one did.
    """
    directory = Path(directory)
    model = build("original")
    for part, filename in LEGACY_FILES.items():
        path = directory / filename
        if not path.is_file():
            raise FileNotFoundError(f"{directory}: {filename} is missing (2017 layout: {', '.join(LEGACY_FILES.values())})")
        arrays = legacy_arrays(path)
        target = getattr(model, part)
        wanted = [tuple(weight.shape) for weight in target.weights]
        if [array.shape for array in arrays] != wanted:
            raise ValueError(f"{path}: {len(arrays)} arrays that do not fit the 2017 {part} "
                             f"(expected {len(wanted)} arrays of the original architecture)")
        target.set_weights(arrays)
    return dataclasses.replace(model, names=_names(names))
