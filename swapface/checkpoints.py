"""Training checkpoints: complete snapshots of the model, both Adam states and state.json.

    MODEL_DIR/checkpoints/<iteration>/   encoder, decoder_a, decoder_b .weights.h5, config.json,
                                         adam_a.npz, adam_b.npz, state.json: one complete snapshot
    MODEL_DIR/latest -> checkpoints/<iteration>   swapped atomically: the commit point
    MODEL_DIR/config.json, *.weights.h5, state.json -> latest/...   so `saving.load(MODEL_DIR)` works

See `save_checkpoint` for why a kill at any moment cannot corrupt them, and `exclusive` for
why two trainers never share a folder.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import zipfile
from pathlib import Path

import keras
import numpy as np
from keras import ops

from swapface import files
from swapface import saving
from swapface.model import FaceSwapModel

log = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"  # folder of complete snapshots, one per saved iteration
LATEST = "latest"  # symlink to the newest complete snapshot
STATE_FILE = "state.json"  # iteration, losses, seed: written into each snapshot
OPTIMIZER_FILES = {"a": "adam_a.npz", "b": "adam_b.npz"}
SOURCES_FILE = "sources.json"  # the face folders of sides a and b, to catch them swapped on resume

# What training reads from state.json, and the type each must have.
STATE_KEYS = {"iteration": int, "seed": int, "losses": dict, "names": list, "frozen_until": int}


def load_state(model_dir: str | Path) -> dict | None:
    """The state.json of MODEL_DIR's latest complete checkpoint, or None if it has none.

    A damaged or hand-edited file raises ValueError naming it and the problem, rather than
    a KeyError in the middle of resuming.
    """
    folder = latest_checkpoint(model_dir)
    if folder is None:
        return None
    path = folder / STATE_FILE
    state = files.read_json(path, "training state")
    for key, kind in STATE_KEYS.items():
        if key not in state:
            raise ValueError(f"{path}: training state is missing {key!r}")
        if not isinstance(state[key], kind) or isinstance(state[key], bool):
            raise ValueError(f"{path}: {key!r} is a {type(state[key]).__name__}, not a {kind.__name__}")
    losses, names = state["losses"], state["names"]
    if not all(isinstance(losses.get(side), list) for side in "ab") or len(names) != 2 or state["iteration"] < 0:
        raise ValueError(f"{path}: training state has malformed 'losses', 'names' or 'iteration'")
    return state


def new_state(seed: int, pretrained: str | Path | None = None, freeze_for: int = 0) -> dict:
    """The state.json of a run before its first step; the encoder stays frozen `freeze_for` steps
    when the run starts from `pretrained` weights (a fresh encoder has nothing to keep)."""
    return {"version": 1, "iteration": 0, "seed": seed, "pretrained": None if pretrained is None else str(pretrained),
            "frozen_until": freeze_for if pretrained is not None else 0, "losses": {"a": [], "b": []}}


def newest_snapshot(model_dir: str | Path) -> Path | None:
    """The newest complete snapshot in checkpoints/ (none of the .tmp ones), or None.

    For a folder whose `latest` went missing (killed between the two renames that replace
    a copied `latest` folder): the snapshot that was about to become `latest`.
    """
    root = Path(model_dir) / CHECKPOINTS
    if not root.is_dir():
        return None
    complete = [folder for folder in root.iterdir() if not folder.name.endswith((".tmp", ".old"))
                and (folder / STATE_FILE).is_file()]
    return max(complete, key=lambda folder: folder.name, default=None)


def latest_checkpoint(model_dir: str | Path) -> Path | None:
    """The folder of MODEL_DIR's latest complete checkpoint (loadable by `model.load`), or None.

    `latest` is a symlink as we write it, but a real folder in a copy made with `cp -rL` or
    by tools that follow links; both work.
    """
    link = Path(model_dir) / LATEST
    if (link / STATE_FILE).is_file():
        return link.resolve()
    return None if os.path.lexists(link) else newest_snapshot(model_dir)


def inner_optimizer(optimizer):
    # Mixed precision wraps Adam in a LossScaleOptimizer; save Adam itself, so a checkpoint
    # resumes with or without --mixed-precision (the loss scale re-adapts in a few steps).
    return getattr(optimizer, "inner_optimizer", optimizer)


def _write_snapshot(net: FaceSwapModel, folder: Path, state: dict, extra=None) -> None:
    """Every file of one checkpoint into `folder`, each written atomically and fsynced."""
    saving.save(net, folder, extra={"iteration": state["iteration"]})
    if extra is not None:
        extra(folder)
    for side, name in OPTIMIZER_FILES.items():
        save_optimizer(inner_optimizer(net.autoencoder(side).optimizer), folder / name)
    text = json.dumps(state) + "\n"
    files.write_text_atomic(folder / STATE_FILE, text)


def _point_latest(model_dir: Path, target: str) -> None:
    """Atomically make MODEL_DIR/latest a symlink to `target`: a new link renamed over it.

    A real `latest` folder (a `cp -rL` copy) cannot be renamed over; it is first moved into
    checkpoints/ (one atomic rename), where the old-snapshot clean-up deletes it. `target`
    is complete by then, and `newest_snapshot` finds it should we be killed in between.
    """
    latest = model_dir / LATEST
    if latest.is_dir() and not latest.is_symlink():
        moved = model_dir / CHECKPOINTS / f"{LATEST}-copied.old"
        shutil.rmtree(moved, ignore_errors=True)  # left by a run killed right after moving it
        os.replace(latest, moved)
    temporary = model_dir / f".{LATEST}.tmp"
    temporary.unlink(missing_ok=True)
    os.symlink(target, temporary)
    os.replace(temporary, latest)
    files.fsync_folder(model_dir)


def _link_top_level(model_dir: Path) -> None:
    """MODEL_DIR/<file> -> latest/<file> for the model's files: `saving.load(MODEL_DIR)` works.

    A plain file there (from a copy that followed the links) is replaced by the link,
    atomically: it is a stale copy of an older checkpoint.
    """
    for name in (saving.CONFIG_FILE, STATE_FILE, *(f"{part}.weights.h5" for part in saving.PARTS)):
        link = model_dir / name
        if link.is_symlink():
            continue
        if link.exists():
            temporary = model_dir / f".{name}.link.tmp"
            temporary.unlink(missing_ok=True)
            os.symlink(f"{LATEST}/{name}", temporary)
            os.replace(temporary, link)
        else:
            os.symlink(f"{LATEST}/{name}", link)


def _snapshot_name(root: Path, iteration: int, live: Path | None) -> str:
    """Folder name for a snapshot of `iteration`: never that of the live one (saving twice)."""
    name = f"{iteration:08d}"
    return f"{name}-1" if live is not None and (root / name).resolve() == live else name


def save_checkpoint(net: FaceSwapModel, model_dir: str | Path, state: dict, extra=None) -> Path:
    """Write a complete checkpoint of `net` and `state` (with "iteration"); returns its folder.

    `extra(folder)`, if given, writes more files into it (the discriminators of
    `swapface.adversarial`), inside the same all-or-nothing commit.

    Why a SIGKILL at any moment leaves a loadable checkpoint: files go into
    checkpoints/<iteration>.tmp, each fsynced; the folder is then renamed to
    checkpoints/<iteration>; only then does one atomic rename swap the `latest` symlink to
    it. Until that rename, `latest` names the previous complete checkpoint; after it, the
    new one. Older checkpoints (and leftovers of killed saves) are deleted last.
    """
    model_dir = Path(model_dir)
    root = model_dir / CHECKPOINTS
    root.mkdir(parents=True, exist_ok=True)
    name = _snapshot_name(root, state["iteration"], latest_checkpoint(model_dir))
    final, temporary = root / name, root / f"{name}.tmp"
    shutil.rmtree(temporary, ignore_errors=True)
    _write_snapshot(net, temporary, state, extra)
    if final.exists():
        shutil.rmtree(final)  # a complete but uncommitted snapshot of a killed run (never the live one)
    os.replace(temporary, final)
    files.fsync_folder(root)
    _point_latest(model_dir, f"{CHECKPOINTS}/{name}")
    _link_top_level(model_dir)
    for old in root.iterdir():
        if old.name != name:
            shutil.rmtree(old, ignore_errors=True)
    log.info("checkpoint at iteration %d in %s", state["iteration"], final)
    return final


@contextlib.contextmanager
def exclusive(model_dir: Path):
    """Hold a lock on MODEL_DIR while training: a second trainer there would delete our snapshots.

    flock: the system drops it when the process ends, even by SIGKILL (spawned workers do not
    inherit it). Where there is no fcntl (Windows), nothing is locked.
    """
    with files.lock_folder(model_dir, "swapface train"):
        yield


def _folder(source) -> Path | None:
    return None if source is None or not isinstance(source, (str, os.PathLike)) else Path(source).resolve()


def record_sources(model_dir: str | Path, faces_a, faces_b) -> None:
    """Write MODEL_DIR/sources.json: the face folders of sides a and b (arrays are not recorded).

    Written when training starts afresh; `check_sources` reads it when it resumes.
    """
    folders = {"a": _folder(faces_a), "b": _folder(faces_b)}
    if None in folders.values():
        return
    Path(model_dir).mkdir(parents=True, exist_ok=True)
    text = json.dumps({side: str(folder) for side, folder in folders.items()}, indent=1) + "\n"
    files.write_text_atomic(Path(model_dir) / SOURCES_FILE, text)


def check_sources(model_dir: str | Path, state: dict | None, faces_a, faces_b,
                  names: tuple[str, str] | None = None) -> None:
    """ValueError if a resumed run was given the face folders of a and b the other way round.

    The decoder of each side would then learn the other person (the "obama" decoder trained
    on Trump), silently. Caught by the folders recorded in sources.json, or, for a model
    without one, by folder names that match the saved names of the other side (unless
    `names` are given anew). Nothing is checked for a fresh run or for arrays.
    """
    if state is None:
        return
    given = (_folder(faces_a), _folder(faces_b))
    if None in given or given[0] == given[1]:
        return
    path = Path(model_dir) / SOURCES_FILE
    swapped = False
    if path.is_file():
        try:
            saved = files.read_json(path, "record of the face folders")
            swapped = (str(given[0]), str(given[1])) == (saved["b"], saved["a"])
        except (ValueError, KeyError, TypeError) as err:
            log.warning("%s: unreadable (%s); the face folders are not checked", path, err)
    if not swapped and names is None:
        saved_names = tuple(state["names"])
        swapped = saved_names[0] != saved_names[1] and (given[0].name, given[1].name) == saved_names[::-1]
    if swapped:
        a, b = state["names"]
        raise ValueError(f"{model_dir}: the face folders are swapped: {faces_a} holds the faces of side b "
                         f"({b!r}) and {faces_b} those of side a ({a!r}); resuming would train each decoder "
                         "on the other person. Give them in the saved order")


def check_model_dir(model_dir: Path, state: dict | None) -> None:
    config = model_dir / saving.CONFIG_FILE
    if state is None and config.exists() and not config.is_symlink():
        raise ValueError(f"{model_dir}: holds a saved model but no training checkpoint; "
                         "pass it as --pretrained and train into a new folder")


# --- Adam state ----------------------------------------------------------------------------------

def save_optimizer(optimizer: keras.optimizers.Optimizer, path: str | os.PathLike) -> Path:
    """Write an optimiser's variables (step count, moments) to an .npz file, atomically.

    For resuming training: e.g. `save_optimizer(net.autoencoder_a.optimizer, dir / "adam_a.npz")`.
    """
    arrays = {f"{index:04d}": ops.convert_to_numpy(variable)
              for index, variable in enumerate(optimizer.variables)}

    def write(temporary):
        with open(temporary, "wb") as file:
            np.savez(file, **arrays)
    return files.atomic_write(path, write)


def load_optimizer(optimizer: keras.optimizers.Optimizer, variables: list,
                   path: str | os.PathLike) -> None:
    """Restore `save_optimizer`'s file into `optimizer`, first built for `variables`.

    `variables` is the model's `trainable_variables`. ValueError if the file does not fit.
    """
    if not optimizer.built:
        optimizer.build(variables)
    try:
        with np.load(path, allow_pickle=False) as arrays:
            values = [arrays[key] for key in sorted(arrays.files)]
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{path}: optimiser state is missing") from err
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, KeyError) as err:
        raise ValueError(f"{path}: corrupt or truncated optimiser state ({type(err).__name__}: {err})") from err
    targets = optimizer.variables
    if [v.shape for v in values] != [tuple(t.shape) for t in targets]:
        raise ValueError(f"{path}: optimiser state does not fit this model "
                         f"({len(values)} arrays saved, {len(targets)} expected)")
    for target, value in zip(targets, values):
        target.assign(value)
