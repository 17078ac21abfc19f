"""The training batch pipeline: aligned faces in, warped (input, target) pairs out.

Faces are decoded once (`load_faces`), with their region weights for the masked loss as a
fourth channel if asked (`crop_weights`), then each batch is drawn and warped by
`swapface.warp` in worker processes (`BatchStream`), so the training step never waits for
augmentation. Batch k is always made from the same random numbers (child k of
`SeedSequence(seed)`), whichever worker makes it: a run resumed at batch k sees the batches
an uninterrupted run would have seen.

Spawned workers import this module, so it imports no Keras: they start in a second, not
in the ten Keras takes.

Example:
    >>> faces = np.zeros((3, 256, 256, 3), np.uint8)
    >>> warped_a, target_a, warped_b, target_b = make_batch(faces, faces, index=0, seed=0, batch_size=2)
    >>> warped_a.shape, warped_a.dtype
    ((2, 64, 64, 3), dtype('float32'))
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from swapface import alignments, media, regions, warp
from swapface.faces import largest_face  # `faces` names the training faces here

log = logging.getLogger(__name__)

Batch = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # warped_a, target_a, warped_b, target_b


@dataclass(frozen=True)
class BatchSettings:
    """How batches are drawn and made (the training settings hand these over)."""

    batch_size: int = 64  # faces per side per batch
    seed: int = 0  # seeds batch k's random numbers (see `batch_rng`)
    workers: int | None = None  # augmentation processes; None: one per core but one (1-8); 0: inline
    prefetch: int = 2  # batches each worker keeps ready: bounded, so memory stays fixed
    warp_settings: warp.WarpSettings = warp.WarpSettings()  # how training pairs are distorted


# --- Faces ----------------------------------------------------------------------------------------

def common_side(files: list[Path]) -> int:
    """The most common side among the square images in `files`, read from their headers only
    (largest on a tie; 256 when none can be read: the caller then finds no usable face)."""
    sides = Counter()
    for path in files:
        try:
            with Image.open(path) as image:
                width, height = image.size
        except Exception:  # noqa: BLE001 - an unreadable file is reported when it is decoded
            continue
        if width == height:
            sides[width] += 1
    return max(sides, key=lambda side: (sides[side], side)) if sides else 256


def face_files(folder: str | Path) -> list[Path]:
    """The image files of an extraction folder, sorted (alignments.json and others ignored)."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and media.is_image(p))


def load_faces(folder: str | Path, weights: bool = False) -> np.ndarray:
    """Decode every aligned face in `folder` once: uint8 BGR (N, S, S, 3), or (N, S, S, 4).

    Decoded once, not per batch, which would add ~1 ms per face to every step (1,000 faces
    hold 200 MB and load in ~1 s). With `weights`, a fourth channel holds each face's
    region weights for the masked loss (`crop_weights`), so they warp with the face.
    A file that cannot be read, or is not square, is skipped with a warning naming it; a
    square face of another size than most is resized to theirs, one file at a time (one odd
    image sorted first must not decide the size of all). A missing folder, or one without a
    usable face, raises MediaError.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise media.MediaError(folder, "no such folder of aligned faces")
    files = face_files(folder)
    side = common_side(files)
    faces, kept = None, []
    for path in files:
        try:
            face = media.read_image(path)
        except media.MediaError as err:
            log.warning("skipping %s", err)
            continue
        if face.shape[0] != face.shape[1]:
            log.warning("skipping %s: %dx%d, not a square aligned face", path, *face.shape[1::-1])
            continue
        if face.shape[0] != side:
            log.warning("%s: %d px, resized to the %d px of the other faces", path, face.shape[0], side)
            face = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA if face.shape[0] > side
                              else cv2.INTER_CUBIC)
        if faces is None:
            # filled in place: no second copy
            faces = np.empty((len(files), side, side, 4 if weights else 3), np.uint8)
        faces[len(kept), ..., :3] = face
        kept.append(path)
    if not kept:
        raise media.MediaError(folder, f"no usable face among {len(files)} image file(s); "
                                       "run `swapface extract` into it first")
    faces = faces[:len(kept)] if len(kept) == len(faces) else faces[:len(kept)].copy()
    if weights:
        faces[..., 3] = crop_weights(folder, kept, faces[..., :3])
    log.info("loaded %d faces from %s", len(kept), folder)
    return faces


def face_weights(images: np.ndarray, landmarks: list[np.ndarray | None]) -> np.ndarray:
    """uint8 (N, S, S) region weights (`regions.region_weights`) of aligned faces (N, S, S, 3).

    `landmarks[i]` are face i's (68, 2) points in its pixels, or None to detect them on the
    image itself; where none is found the whole crop counts as face (weight 128), as an
    unmasked loss would.
    """
    out = np.full(images.shape[:3], regions.FACE_WEIGHT, np.uint8)
    for index, (image, points) in enumerate(zip(images, landmarks)):
        if points is None:
            found = largest_face(np.ascontiguousarray(image[..., :3]))
            points = None if found is None else found.landmarks
        if points is None:
            log.warning("aligned face %d: no landmarks; the whole crop is weighted as face", index)
            continue
        out[index] = regions.region_weights(image.shape, points)
    return out


def crop_weights(folder: str | Path, files: list[Path], images: np.ndarray) -> np.ndarray:
    """uint8 (N, S, S) region weights of the decoded faces `images` of `files` in an extraction
    folder: landmarks from its alignments.json, detected for a face without a record."""
    known = alignments.crop_landmarks(folder, images.shape[1])
    return face_weights(images, [known.get(path.name) for path in files])


def with_weights(images: np.ndarray) -> np.ndarray:
    """uint8 (N, S, S, 4): aligned faces (N, S, S, 3 or 4) with region weights from detected
    landmarks, for faces given as an array (no alignments.json beside them)."""
    if images.shape[-1] == 4:
        return images
    return np.concatenate([images, face_weights(images, [None] * len(images))[..., None]], axis=-1)


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
    """Training batch `index`: (warped_a, target_a, warped_b, target_b), float32 (B, S, S, C).

    Faces (uint8 (N, H, W, C)) are drawn without replacement (with, if a side has fewer than
    `batch_size`), then warped by `warp.warp_batch`, straight into `out` if given (a
    worker's shared slot). Targets keep all C channels (a weight channel warps with its
    face); the warped inputs are only the 3 colour channels. `shift` (float32 (3,), see
    `colour_shift`) is added to A's colours, unclipped as in 2017.
    """
    rng = batch_rng(seed, index)
    shape = (batch_size, settings.size, settings.size, faces_a.shape[-1])
    out = out if out is not None else tuple(np.empty(shape, np.float32) for _ in range(4))
    for images, warped, target in ((faces_a, *out[:2]), (faces_b, *out[2:])):
        chosen = rng.choice(len(images), size=batch_size, replace=len(images) < batch_size)
        warp.warp_batch(images[chosen], rng, settings, out=(warped, target))
    if shift is not None:
        for array in out[:2]:
            array[..., :3] += shift
    return out[0][..., :3], out[1], out[2][..., :3], out[3]


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

    def __init__(self, faces_a: np.ndarray, faces_b: np.ndarray, settings: BatchSettings = BatchSettings(),
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
        shape = (self.workers, settings.prefetch, 4, settings.batch_size, size, size, self._faces[0].shape[-1])
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
        warped_a, target_a, warped_b, target_b = self._slots[worker, message]
        batch = tuple(np.array(part) for part in (warped_a[..., :3], target_a, warped_b[..., :3], target_b))
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
