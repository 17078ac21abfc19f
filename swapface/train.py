"""Stage 2: train the shared encoder and the two decoders on two folders of aligned faces.

Each iteration takes a batch of faces of A and one of B (uint8 BGR 256 px crops from
`swapface extract`), warps them (`swapface.warp`) into (warped, target) float32 pairs in
[0, 1] of shape (batch, 64, 64, 3), and takes one Adam step on autoencoder A with A's pairs
and one on autoencoder B with B's, as the 2017 code did.

Augmentation runs in worker processes (`BatchStream`) so the accelerator never waits for it.
Batch k is always made from the same random numbers (child k of `SeedSequence(seed)`),
whichever worker makes it: a run resumed at iteration k sees the batches an uninterrupted
run would have seen.

Checkpoints live in MODEL_DIR (see `save_checkpoint` for why a kill cannot corrupt them):

    MODEL_DIR/checkpoints/<iteration>/   encoder, decoder_a, decoder_b .weights.h5, config.json,
                                         adam_a.npz, adam_b.npz, state.json: one complete snapshot
    MODEL_DIR/latest -> checkpoints/<iteration>   swapped atomically: the commit point
    MODEL_DIR/config.json, *.weights.h5, state.json -> latest/...   so `model.load(MODEL_DIR)` works
    MODEL_DIR/preview.png, loss.png      the latest preview grid and loss plot

Example:
    >>> history = train("faces/obama", "faces/trump", "models/ot", TrainSettings(preset="lite"))
    >>> len(history["a"])  # one loss per iteration and side
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
import multiprocessing
import os
import shutil
import signal
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import cv2
import numpy as np
from tqdm.auto import tqdm

from swapface import media, warp

# Keras, TensorFlow and matplotlib are imported inside the functions that need them: worker
# processes import this module too, and must start in a second, not in ten.
if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from swapface.model import FaceSwapModel

log = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"  # folder of complete snapshots, one per saved iteration
LATEST = "latest"  # symlink to the newest complete snapshot
STATE_FILE = "state.json"  # iteration, losses, seed: written into each snapshot
OPTIMIZER_FILES = {"a": "adam_a.npz", "b": "adam_b.npz"}
PREVIEW_FILE, LOSS_FILE = "preview.png", "loss.png"

Batch = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # warped_a, target_a, warped_b, target_b


@dataclass(frozen=True)
class TrainSettings:
    """How to train (the 2017 choices by default)."""

    preset: str | None = None  # model preset; None: the saved one when resuming, else "original"
    batch_size: int = 64  # faces per side per step, as 2017; 16 is a fair choice on a CPU
    iterations: int = 100_000  # total steps to reach; a resumed run counts from its checkpoint
    save_every: int = 500  # steps between checkpoints (each rewrites ~1.5 GB for "original")
    seed: int = 0  # seeds each batch's augmentation, the held-out faces, fresh weights (Keras' global seed)
    workers: int | None = None  # augmentation processes; None: one per core but one (1-8); 0: inline
    prefetch: int = 2  # batches each worker keeps ready: bounded, so memory stays fixed
    warp_settings: warp.WarpSettings = warp.WarpSettings()  # how training pairs are distorted
    match_colour: bool = False  # 2017 trick: shift A's mean colour onto B's (helps the blend)
    preview_faces: int = 4  # faces per side in preview.png, held out when there are plenty
    freeze_encoder_for: int = 0  # steps with the encoder frozen, when starting from --pretrained
    distribute: bool = False  # tf.distribute: mirrored over local GPUs, multi-worker with TF_CONFIG
    mixed_precision: bool = False  # float16 maths on GPUs (~2x faster); pointless on a CPU
    names: tuple[str, str] | None = None  # the two people; None: saved names, else folder names


# --- Faces ----------------------------------------------------------------------------------------

def face_files(folder: str | Path) -> list[Path]:
    """The image files of an extraction folder, sorted (alignments.json and others ignored)."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and media.is_image(p))


def load_faces(folder: str | Path) -> np.ndarray:
    """Decode every aligned face in `folder` once: uint8 BGR (N, S, S, 3).

    Decoded once, not per batch, which would add ~1 ms per face to every step (1,000 faces
    hold 200 MB and load in ~1 s). A
    file that cannot be read, or is not square like the first face, is skipped with a
    warning naming it. A missing folder, or one without a usable face, raises MediaError.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise media.MediaError(folder, "no such folder of aligned faces")
    files = face_files(folder)
    faces, count = None, 0
    for path in files:
        try:
            face = media.read_image(path)
        except media.MediaError as err:
            log.warning("skipping %s", err)
            continue
        if faces is None and face.shape[0] == face.shape[1]:
            faces = np.empty((len(files), *face.shape), np.uint8)  # filled in place: no second copy
        if faces is None or face.shape != faces.shape[1:]:
            log.warning("skipping %s: %dx%d, not an aligned face like the others", path, *face.shape[1::-1])
            continue
        faces[count] = face
        count += 1
    if not count:
        raise media.MediaError(folder, f"no usable face among {len(files)} image file(s); "
                                       "run `swapface extract` into it first")
    log.info("loaded %d faces from %s", count, folder)
    return faces[:count] if count == len(faces) else faces[:count].copy()


def colour_shift(faces_a: np.ndarray, faces_b: np.ndarray) -> np.ndarray:
    """float32 (3,): B's mean BGR minus A's, on the [0, 1] scale of the network's inputs.

    The 2017 trick: adding it to A's pairs gives both people the same mean colour, so
    the swapped face needs less colour correction. (2017 added it to A's whole float
    dataset; adding it after the warp is the same, since the warp interpolates linearly.)
    """
    mean = lambda faces: faces.reshape(-1, 3).mean(axis=0, dtype=np.float64)  # noqa: E731
    return ((mean(faces_b) - mean(faces_a)) / 255).astype(np.float32)


def split_preview(count: int, preview: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(preview indices, training indices) of `count` faces.

    With at least 4 faces per preview face, the preview faces are held out of training, so
    the preview shows how the model does on faces it never saw; otherwise they also train.
    """
    shown = np.sort(rng.choice(count, size=min(preview, count), replace=False))
    if count >= 4 * preview:
        return shown, np.setdiff1d(np.arange(count), shown)
    return shown, np.arange(count)


def preview_inputs(faces: np.ndarray | list[np.ndarray], settings: warp.WarpSettings = warp.WarpSettings()) -> np.ndarray:
    """uint8 crops (N, S, S, 3) to unwarped network inputs, float32 (N, 64, 64, 3) in [0, 1].

    The same central region the warp samples for training, only without distortion.
    """
    still = dataclasses.replace(settings, jitter=0.0)
    inputs = [warp.warp_with_grid(face, warp.warp_grid(face.shape, np.random.default_rng(0), still),
                                  settings.size)[1] for face in faces]
    return np.stack(inputs) if inputs else np.zeros((0, settings.size, settings.size, 3), np.float32)


# --- Batches --------------------------------------------------------------------------------------

def batch_rng(seed: int, index: int) -> np.random.Generator:
    """The Generator of batch `index`: from child `index` of `np.random.SeedSequence(seed)`.

    Equal to `SeedSequence(seed).spawn(index + 1)[index]`: independent streams, and batch k
    is the same whichever worker makes it and whenever, so resuming changes nothing.
    """
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))


def make_batch(faces_a: np.ndarray, faces_b: np.ndarray, index: int, seed: int, batch_size: int,
               settings: warp.WarpSettings = warp.WarpSettings(), shift: np.ndarray | None = None,
               out: Batch | None = None) -> Batch:
    """Training batch `index`: (warped_a, target_a, warped_b, target_b), float32 (B, 64, 64, 3).

    Faces are drawn without replacement (with, if a side has fewer than `batch_size`), then
    warped as `warp.warp_batch` does, straight into `out` if given (a worker's shared slot).
    `shift` (float32 (3,), see `colour_shift`) is added to A's pairs, unclipped as in 2017.
    """
    rng = batch_rng(seed, index)
    shape = (batch_size, settings.size, settings.size, 3)
    out = out if out is not None else tuple(np.empty(shape, np.float32) for _ in range(4))
    for faces, warped, target in ((faces_a, *out[:2]), (faces_b, *out[2:])):
        chosen = rng.choice(len(faces), size=batch_size, replace=len(faces) < batch_size)
        for row, face in enumerate(chosen):
            warped[row], target[row] = warp.warp_pair(faces[face], rng, settings)
    if shift is not None:
        for array in out[:2]:
            array += shift
    return out


def default_workers() -> int:
    """One augmentation process per core but one (left to the training loop), 1 to 8."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 2
    return max(1, min(8, cores - 1))


def _shared(context, shape: tuple[int, ...], dtype) -> tuple[object, np.ndarray]:
    """A block of shared memory and a numpy view of it: workers map it, nothing is copied."""
    raw = context.RawArray("b", int(np.prod(shape)) * np.dtype(dtype).itemsize)
    return raw, np.frombuffer(raw, dtype=dtype).reshape(shape)


def _view(raw, shape, dtype) -> np.ndarray:
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


def _worker(conn, faces, slots, worker: int, workers: int, start: int, seed: int, batch_size: int,
            settings: warp.WarpSettings, shift) -> None:
    """Worker process `worker` of `workers`: makes batches start + worker, + workers, ...

    `faces` is ((raw, shape) of A, of B) and `slots` (raw, shape): shared memory handed over
    once at start. The main process sends a free slot number (None: stop); we answer with
    that number once the slot holds our next batch. EOF means the main process died.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    cv2.setNumThreads(1)  # one core per worker: cv2's own threads would fight the others
    faces_a, faces_b = (_view(raw, shape, np.uint8) for raw, shape in faces)
    out = _view(*slots, np.float32)[worker]
    index = start + worker
    try:
        while (slot := conn.recv()) is not None:
            make_batch(faces_a, faces_b, index, seed, batch_size, settings, shift, out=tuple(out[slot]))
            conn.send(slot)
            index += workers
    except (EOFError, BrokenPipeError):
        pass  # the main process is gone: nothing left to feed
    except BaseException:  # noqa: BLE001 - any failure is reported, then the worker ends
        with contextlib.suppress(OSError):
            conn.send(("error", traceback.format_exc()))


class BatchStream:
    """Training batches from batch `start` on, made by worker processes, in batch order.

    Worker w makes batches start + w, start + w + n, ...; each has `prefetch` slots of shared
    memory, so at most workers * prefetch batches wait (bounded memory). The faces are
    copied into shared memory once. 'spawn' processes: fork is unsafe once TensorFlow's
    threads run. Each batch returned is a fresh copy (its slot is refilled at once). With
    `workers=0` the batches are made in the calling thread (the naive baseline). As with any
    'spawn' pool, a script must create it under `if __name__ == "__main__":`.

    Use it as a context manager (or call `close`) so the workers end.
    """

    def __init__(self, faces_a: np.ndarray, faces_b: np.ndarray, settings: TrainSettings = TrainSettings(),
                 start: int = 0, shift: np.ndarray | None = None):
        self.settings, self.start, self.index, self.shift = settings, start, start, shift
        self.workers = default_workers() if settings.workers is None else settings.workers
        self._faces = (faces_a, faces_b)
        self._procs, self._conns, self._slots = [], [], None
        if self.workers > 0:
            self._start_workers()

    def _start_workers(self) -> None:
        context = multiprocessing.get_context("spawn")
        settings = self.settings
        faces = []
        for array in self._faces:
            raw, view = _shared(context, array.shape, np.uint8)
            view[...] = array
            faces.append((raw, array.shape))
        size = settings.warp_settings.size
        shape = (self.workers, settings.prefetch, 4, settings.batch_size, size, size, 3)
        raw, self._slots = _shared(context, shape, np.float32)
        for worker in range(self.workers):
            ours, theirs = context.Pipe()
            process = context.Process(
                target=_worker, name=f"swapface-augment-{worker}", daemon=True,
                args=(theirs, faces, (raw, shape), worker, self.workers, self.start, settings.seed,
                      settings.batch_size, settings.warp_settings, self.shift))
            process.start()
            theirs.close()  # so a dead worker reads as EOF here, as a dead main does there
            for slot in range(settings.prefetch):
                ours.send(slot)
            self._procs.append(process)
            self._conns.append(ours)
        log.info("augmenting in %d worker processes", self.workers)

    def __iter__(self) -> BatchStream:
        return self

    def __next__(self) -> Batch:
        if self.workers == 0:
            batch = make_batch(*self._faces, self.index, self.settings.seed, self.settings.batch_size,
                               self.settings.warp_settings, self.shift)
            self.index += 1
            return batch
        if not self._procs:
            raise RuntimeError("the batch stream is closed")
        worker = (self.index - self.start) % self.workers
        conn, process = self._conns[worker], self._procs[worker]
        try:
            while not conn.poll(1.0):  # sleeps until data; wakes each second to notice a dead worker
                if not process.is_alive():
                    raise EOFError
            message = conn.recv()
        except (EOFError, OSError):
            process.join(1.0)
            raise RuntimeError(f"augmentation worker {worker} died (exit code {process.exitcode}); a script "
                               "that trains must do so under `if __name__ == '__main__':`, as each "
                               "spawned worker imports it") from None
        if isinstance(message, tuple):
            raise RuntimeError(f"augmentation worker {worker} failed:\n{message[1]}")
        batch = tuple(np.array(part) for part in self._slots[worker, message])
        conn.send(message)
        self.index += 1
        return batch

    def close(self) -> None:
        """Stop the workers (about a second at most); safe to call twice."""
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.send(None)
        for process in self._procs:
            process.join(1.0)
            if process.is_alive():
                process.terminate()
                process.join()
        for conn in self._conns:
            conn.close()
        self._procs, self._conns = [], []

    def __enter__(self) -> BatchStream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --- Checkpoints ----------------------------------------------------------------------------------

def load_state(model_dir: str | Path) -> dict | None:
    """The state.json of MODEL_DIR's latest complete checkpoint, or None if it has none."""
    path = Path(model_dir) / LATEST / STATE_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def latest_checkpoint(model_dir: str | Path) -> Path | None:
    """The folder of MODEL_DIR's latest complete checkpoint (loadable by `model.load`), or None."""
    link = Path(model_dir) / LATEST
    return link.resolve() if (link / STATE_FILE).is_file() else None


def _inner(optimizer):
    # Mixed precision wraps Adam in a LossScaleOptimizer; save Adam itself, so a checkpoint
    # resumes with or without --mixed-precision (the loss scale re-adapts in a few steps).
    return getattr(optimizer, "inner_optimizer", optimizer)


def _write_snapshot(model: FaceSwapModel, folder: Path, state: dict) -> None:
    """Every file of one checkpoint into `folder`, each written atomically and fsynced."""
    from swapface import model as sm

    sm.save(model, folder, extra={"iteration": state["iteration"]})
    for side, name in OPTIMIZER_FILES.items():
        sm.save_optimizer(_inner(model.autoencoder(side).optimizer), folder / name)
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
    from swapface import model as sm

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
def _exclusive(model_dir: Path):
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


def _check_model_dir(model_dir: Path, state: dict | None) -> None:
    from swapface import model as sm

    config = model_dir / sm.CONFIG_FILE
    if state is None and config.exists() and not config.is_symlink():
        raise ValueError(f"{model_dir}: holds a saved model but no training checkpoint; "
                         "pass it as --pretrained and train into a new folder")


# --- Previews --------------------------------------------------------------------------------------

def _write_figure(figure: Figure, path: Path) -> None:
    """Render a figure to PNG and write it atomically (a reader never sees half an image)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    media.write_bytes_atomic(path, buffer.getvalue())


def preview_rows(model: FaceSwapModel, inputs_a: np.ndarray, inputs_b: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """The six preview rows for faces of A and B (float32 (N, 64, 64, 3)): originals and swaps."""
    from swapface.model import encode_decode

    a, b = model.names
    return [(a, inputs_a), (f"{a}→{a}", encode_decode(model, inputs_a, "a")),
            (f"{a}→{b}", encode_decode(model, inputs_a, "b")),
            (b, inputs_b), (f"{b}→{b}", encode_decode(model, inputs_b, "b")),
            (f"{b}→{a}", encode_decode(model, inputs_b, "a"))]


# --- Model, precision, distribution ---------------------------------------------------------------

def distribution_strategy():
    """The tf.distribute strategy for --distribute (TensorFlow backend only).

    MultiWorkerMirroredStrategy when TF_CONFIG describes a cluster, else MirroredStrategy over
    the local GPUs, or over every logical CPU device when there is no GPU (one, unless set up).
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        raise ValueError(f"--distribute needs the TensorFlow backend, not {keras.backend.backend()!r}")
    import tensorflow as tf

    if os.environ.get("TF_CONFIG"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([device.name for device in devices])


def _is_chief() -> bool:
    """Whether this process writes checkpoints: all but the non-chief tasks of a TF_CONFIG cluster."""
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = config.get("task", {})
    if task.get("type") in (None, "chief"):
        return True
    return task.get("type") == "worker" and task.get("index", 0) == 0 and "chief" not in config.get("cluster", {})


def _has_gpu() -> bool:
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf
        return bool(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax
        return jax.default_backend() != "cpu"
    if backend == "torch":
        import torch
        return torch.cuda.is_available()
    return False


@contextlib.contextmanager
def _precision(mixed: bool):
    """Build under the mixed_float16 policy (float16 maths, float32 weights), then restore the old one.

    The policy only matters while layers are made, so it does not leak into later models.
    """
    if not mixed:
        yield
        return
    import keras

    if not _has_gpu():
        log.warning("--mixed-precision speeds up GPUs only; on a CPU float16 is slower")
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def open_model(model_dir: str | Path, state: dict | None, settings: TrainSettings,
               pretrained: str | Path | None = None) -> FaceSwapModel:
    """The model to train: resumed from MODEL_DIR, else loaded from `pretrained`, else fresh.

    Both optimizers are built for all trainable variables (so freezing the encoder later
    keeps their moments) and, when resuming, loaded. Call inside the strategy's scope.
    """
    import keras

    from swapface import model as sm

    model_dir = Path(model_dir)
    if state is not None:
        model = sm.load(latest_checkpoint(model_dir), preset=settings.preset)
    elif pretrained is not None:
        model = sm.load(pretrained, preset=settings.preset)
    else:
        keras.utils.set_random_seed(settings.seed)  # same seed, same starting weights
        model = sm.build(settings.preset or "original")
    for side in "ab":
        autoencoder = model.autoencoder(side)
        autoencoder.optimizer.build(autoencoder.trainable_variables)
        if state is not None:
            path = latest_checkpoint(model_dir) / OPTIMIZER_FILES[side]
            sm.load_optimizer(_inner(autoencoder.optimizer), autoencoder.trainable_variables, path)
    return model


def set_encoder_frozen(model: FaceSwapModel, frozen: bool) -> None:
    """Freeze (or thaw) the shared encoder, so that only the decoders learn.

    Both autoencoders are recompiled with their own optimizers: a compiled train step keeps
    the variables it was traced with, and reusing the (already built) optimizers keeps
    their Adam moments. Call inside the strategy's scope.
    """
    model.encoder.trainable = not frozen
    for side in "ab":
        autoencoder = model.autoencoder(side)
        autoencoder.compile(optimizer=autoencoder.optimizer, loss=autoencoder.loss)


def _train_on_batch(autoencoder) -> Callable[[np.ndarray, np.ndarray], float]:
    # Keras' own compiled step: the 2017 `train_on_batch`, on any backend.
    return lambda warped, target: float(autoencoder.train_on_batch(warped, target))


def _distributed_step(autoencoder, strategy) -> Callable[[np.ndarray, np.ndarray], float]:
    """One step of `autoencoder` with the global batch split across the strategy's replicas.

    (`train_on_batch` would hand the whole batch to every replica.) Each replica's mean
    absolute error is divided by the replica count, so the summed (all-reduced) gradients
    are those of the global batch's mean, as on one device.
    """
    import tensorflow as tf

    replicas = strategy.num_replicas_in_sync
    optimizer, variables = autoencoder.optimizer, autoencoder.trainable_variables

    def replica_step(warped, target):
        with tf.GradientTape() as tape:
            output = tf.cast(autoencoder(warped, training=True), tf.float32)
            loss = tf.reduce_mean(tf.abs(target - output)) / replicas
            scaled = optimizer.scale_loss(loss)  # mixed precision: keeps float16 gradients finite
        optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        return loss

    @tf.function
    def global_step(warped, target):
        return strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(replica_step, args=(warped, target)),
                               axis=None)

    def step(warped: np.ndarray, target: np.ndarray) -> float:
        parts = [np.array_split(array, replicas) for array in (warped, target)]
        inputs = [strategy.experimental_distribute_values_from_function(
            lambda context, part=part: part[context.replica_id_in_sync_group]) for part in parts]
        return float(global_step(*inputs))
    return step


def make_steps(model: FaceSwapModel, strategy=None) -> dict[str, Callable[[np.ndarray, np.ndarray], float]]:
    """{"a": step, "b": step}: step(warped, target) takes one Adam step, returns the batch's loss."""
    if strategy is None:
        return {side: _train_on_batch(model.autoencoder(side)) for side in "ab"}
    return {side: _distributed_step(model.autoencoder(side), strategy) for side in "ab"}


# --- Training -------------------------------------------------------------------------------------

@dataclass
class _Run:
    """What one training session carries from step to step."""

    model: FaceSwapModel
    state: dict  # iteration, losses and the rest of state.json
    model_dir: Path
    previews: tuple[np.ndarray, np.ndarray]  # unwarped held-out faces of A and B, float32 (N, 64, 64, 3)
    strategy: object | None = None  # tf.distribute strategy, or None
    writes: bool = True  # False on non-chief workers of a cluster
    frozen: bool = False  # whether the encoder is frozen now
    saved: int = -1  # iteration of the last checkpoint written (or loaded)
    steps: dict = dataclasses.field(default_factory=dict)

    def scope(self):
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    def set_frozen(self, frozen: bool) -> None:
        """Freeze or thaw the encoder and remake the steps."""
        with self.scope():
            if frozen or self.frozen:
                set_encoder_frozen(self.model, frozen)
                log.info("encoder %s at iteration %d", "frozen" if frozen else "thawed", self.state["iteration"])
            self.steps = make_steps(self.model, self.strategy)
        self.frozen = frozen

    def save(self) -> None:
        """Checkpoint, preview.png and loss.png, unless this iteration is already saved."""
        from swapface import figures

        iteration = self.state["iteration"]
        if iteration == self.saved or not self.writes:
            return
        # Trim: a Ctrl-C between the two sides' steps may have left one loss too many.
        state = {**self.state, "losses": {side: self.state["losses"][side][:iteration] for side in "ab"}}
        save_checkpoint(self.model, self.model_dir, state)
        self.saved = iteration
        preview = figures.preview_figure(preview_rows(self.model, *self.previews), title=f"iteration {iteration}")
        _write_figure(preview, self.model_dir / PREVIEW_FILE)
        _write_figure(figures.loss_figure(state["losses"], self.model.names), self.model_dir / LOSS_FILE)


def _new_state(settings: TrainSettings, pretrained: str | Path | None) -> dict:
    return {"version": 1, "iteration": 0, "seed": settings.seed,
            "pretrained": None if pretrained is None else str(pretrained),
            "frozen_until": settings.freeze_encoder_for if pretrained is not None else 0,
            "losses": {"a": [], "b": []}}


def _names(settings: TrainSettings, state: dict | None, sources) -> tuple[str, str]:
    if settings.names:
        return tuple(settings.names)
    if state is not None:
        return tuple(state["names"])
    names = tuple(side if isinstance(source, np.ndarray) else Path(source).resolve().name
                  for side, source in zip("ab", sources))
    return names if names[0] != names[1] else ("a", "b")  # two folders both called "faces"


def _prepare_faces(faces: np.ndarray, settings: TrainSettings, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training faces uint8, preview inputs float32 (P, 64, 64, 3)); see `split_preview`."""
    shown, trained = split_preview(len(faces), settings.preview_faces, np.random.default_rng([seed, 1]))
    return faces[trained], preview_inputs(faces[shown], settings.warp_settings)


def _loop(run: _Run, batches: BatchStream, settings: TrainSettings, progress: bool) -> None:
    state, losses = run.state, run.state["losses"]
    bar = tqdm(total=settings.iterations, initial=state["iteration"], unit="step", desc="train",
               disable=not progress, dynamic_ncols=True)
    if state["iteration"] >= settings.iterations:
        log.info("already at iteration %d of %d: nothing to do", state["iteration"], settings.iterations)
    try:
        while state["iteration"] < settings.iterations:
            if run.frozen and state["iteration"] >= state["frozen_until"]:
                run.set_frozen(False)
            warped_a, target_a, warped_b, target_b = next(batches)
            loss_a = run.steps["a"](warped_a, target_a)
            loss_b = run.steps["b"](warped_b, target_b)
            losses["a"].append(loss_a)
            losses["b"].append(loss_b)
            state["iteration"] += 1
            bar.update()
            bar.set_postfix(loss_a=f"{loss_a:.4f}", loss_b=f"{loss_b:.4f}", refresh=False)
            if state["iteration"] % settings.save_every == 0:
                run.save()
    except KeyboardInterrupt:
        log.warning("interrupted at iteration %d: saving a checkpoint", state["iteration"])
        run.save()
        raise
    finally:
        bar.close()
    run.save()


def train(faces_a, faces_b, model_dir: str | Path, settings: TrainSettings = TrainSettings(),
          pretrained: str | Path | None = None, progress: bool = True) -> dict[str, list[float]]:
    """Train the A/B model into MODEL_DIR, or resume it from its latest checkpoint.

    `faces_a` and `faces_b` are folders from `swapface extract` (or uint8 (N, S, S, 3) arrays).
    Runs until `settings.iterations` steps in all, checkpointing every `save_every` steps, at
    the end, and on Ctrl-C (which is then re-raised). `pretrained` (a saved model folder)
    seeds a new run's weights. Returns {"a": [...], "b": [...]}: the loss of every step since
    the run began, resumed sessions included. A script calling it with worker processes must
    do so under `if __name__ == "__main__":` (they are spawned and import the script).
    """
    model_dir = Path(model_dir)
    # Non-chief workers of a cluster write nothing, and may share the chief's folder.
    with _exclusive(model_dir) if _is_chief() else contextlib.nullcontext(), _terminate_saves():
        return _train(faces_a, faces_b, model_dir, settings, pretrained, progress)


@contextlib.contextmanager
def _terminate_saves():
    """Treat SIGTERM (a job scheduler, a cloud machine shutting down, `kill`) like Ctrl-C.

    Both then save a checkpoint before stopping. Only the main thread may set handlers.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _strategy(settings: TrainSettings):
    """The distribution strategy, or None; checks that the batch splits over its replicas."""
    if not settings.distribute:
        return None
    strategy = distribution_strategy()
    replicas = strategy.num_replicas_in_sync
    if settings.batch_size % replicas:
        raise ValueError(f"batch size {settings.batch_size} does not split evenly over {replicas} replicas")
    log.info("training on %d replicas", replicas)
    return strategy


def _train(faces_a, faces_b, model_dir: Path, settings: TrainSettings, pretrained, progress: bool) -> dict:
    state = load_state(model_dir)
    _check_model_dir(model_dir, state)
    resumed = state is not None
    if resumed:
        log.info("resuming %s from iteration %d", model_dir, state["iteration"])
        if pretrained is not None:
            log.warning("resuming %s: --pretrained %s is ignored", model_dir, pretrained)
        if settings.seed != state["seed"]:
            log.warning("resuming with the saved seed %d, not %d", state["seed"], settings.seed)
        pretrained = None
    elif settings.freeze_encoder_for and pretrained is None:
        log.warning("--freeze-encoder needs --pretrained weights: a fresh encoder is not frozen")
    names = _names(settings, state, (faces_a, faces_b))
    faces = [source if isinstance(source, np.ndarray) else load_faces(source) for source in (faces_a, faces_b)]
    strategy = _strategy(settings)
    with strategy.scope() if strategy is not None else contextlib.nullcontext(), _precision(settings.mixed_precision):
        model = open_model(model_dir, state, settings, pretrained)
    model = dataclasses.replace(model, names=names)
    state = state or _new_state(settings, pretrained)
    state.update(names=list(names), preset=model.settings.name, batch_size=settings.batch_size)
    (train_a, preview_a), (train_b, preview_b) = (_prepare_faces(f, settings, state["seed"]) for f in faces)
    run = _Run(model, state, model_dir, (preview_a, preview_b), strategy,
               writes=strategy is None or _is_chief(), saved=state["iteration"] if resumed else -1)
    run.set_frozen(state["iteration"] < state["frozen_until"])
    shift = colour_shift(train_a, train_b) if settings.match_colour else None
    stream_settings = dataclasses.replace(settings, seed=state["seed"])
    with BatchStream(train_a, train_b, stream_settings, start=state["iteration"], shift=shift) as batches:
        _loop(run, batches, settings, progress)
    return {side: list(state["losses"][side][:state["iteration"]]) for side in "ab"}
