"""Training checkpoints: complete snapshots of the model, both Adam states and state.json.

    MODEL_DIR/checkpoints/<iteration>/   encoder, decoder_a, decoder_b .weights.h5, config.json,
                                         adam_a.npz, adam_b.npz, state.json: one complete snapshot
    MODEL_DIR/latest -> checkpoints/<iteration>   swapped atomically: the commit point
    MODEL_DIR/config.json, *.weights.h5, state.json -> latest/...   so `model.load(MODEL_DIR)` works

See `save_checkpoint` for why a kill at any moment cannot corrupt them, and `exclusive` for
why two trainers never share a folder.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from pathlib import Path

from swapface import media
from swapface import model as sm
from swapface.model import FaceSwapModel

log = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"  # folder of complete snapshots, one per saved iteration
LATEST = "latest"  # symlink to the newest complete snapshot
STATE_FILE = "state.json"  # iteration, losses, seed: written into each snapshot
OPTIMIZER_FILES = {"a": "adam_a.npz", "b": "adam_b.npz"}


def load_state(model_dir: str | Path) -> dict | None:
    """The state.json of MODEL_DIR's latest complete checkpoint, or None if it has none."""
    path = Path(model_dir) / LATEST / STATE_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def latest_checkpoint(model_dir: str | Path) -> Path | None:
    """The folder of MODEL_DIR's latest complete checkpoint (loadable by `model.load`), or None."""
    link = Path(model_dir) / LATEST
    return link.resolve() if (link / STATE_FILE).is_file() else None


def inner_optimizer(optimizer):
    # Mixed precision wraps Adam in a LossScaleOptimizer; save Adam itself, so a checkpoint
    # resumes with or without --mixed-precision (the loss scale re-adapts in a few steps).
    return getattr(optimizer, "inner_optimizer", optimizer)


def _write_snapshot(model: FaceSwapModel, folder: Path, state: dict) -> None:
    """Every file of one checkpoint into `folder`, each written atomically and fsynced."""
    sm.save(model, folder, extra={"iteration": state["iteration"]})
    for side, name in OPTIMIZER_FILES.items():
        sm.save_optimizer(inner_optimizer(model.autoencoder(side).optimizer), folder / name)
    text = json.dumps(state) + "\n"
    media.atomic_write(folder / STATE_FILE, lambda path: Path(path).write_text(text))


def _point_latest(model_dir: Path, target: str) -> None:
    """Atomically make MODEL_DIR/latest a symlink to `target`: a new link renamed over it."""
    temporary = model_dir / f".{LATEST}.tmp"
    temporary.unlink(missing_ok=True)
    os.symlink(target, temporary)
    os.replace(temporary, model_dir / LATEST)
    media.fsync_folder(model_dir)


def _link_top_level(model_dir: Path) -> None:
    """MODEL_DIR/<file> -> latest/<file> for the model's files: `model.load(MODEL_DIR)` works."""
    for name in (sm.CONFIG_FILE, STATE_FILE, *(f"{part}.weights.h5" for part in sm.PARTS)):
        link = model_dir / name
        if not link.is_symlink():
            os.symlink(f"{LATEST}/{name}", link)


def _snapshot_name(root: Path, iteration: int, live: Path | None) -> str:
    """Folder name for a snapshot of `iteration`: never that of the live one (saving twice)."""
    name = f"{iteration:08d}"
    return f"{name}-1" if live is not None and (root / name).resolve() == live else name


def save_checkpoint(model: FaceSwapModel, model_dir: str | Path, state: dict) -> Path:
    """Write a complete checkpoint of `model` and `state` (with "iteration"); returns its folder.

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
    _write_snapshot(model, temporary, state)
    if final.exists():
        shutil.rmtree(final)  # a complete but uncommitted snapshot of a killed run (never the live one)
    os.replace(temporary, final)
    media.fsync_folder(root)
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
    try:
        import fcntl
    except ImportError:
        yield
        return
    model_dir.mkdir(parents=True, exist_ok=True)
    with open(model_dir / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(f"{model_dir}: another `swapface train` is using this folder") from None
        yield


def check_model_dir(model_dir: Path, state: dict | None) -> None:
    config = model_dir / sm.CONFIG_FILE
    if state is None and config.exists() and not config.is_symlink():
        raise ValueError(f"{model_dir}: holds a saved model but no training checkpoint; "
                         "pass it as --pretrained and train into a new folder")

