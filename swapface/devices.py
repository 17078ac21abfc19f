"""Where and in which precision training runs: GPUs, mixed precision, tf.distribute.

Kept apart from the loop (`swapface.train`) because none of it changes what is learned,
only how fast and on which devices.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Callable

import keras
import numpy as np

log = logging.getLogger(__name__)


def distribution_strategy():
    """The tf.distribute strategy for --distribute (TensorFlow backend only).

    MultiWorkerMirroredStrategy when TF_CONFIG describes a cluster, else MirroredStrategy over
    the local GPUs, or over every logical CPU device when there is no GPU (one, unless set up).
    """
    if keras.backend.backend() != "tensorflow":
        raise ValueError(f"--distribute needs the TensorFlow backend, not {keras.backend.backend()!r}")
    import tensorflow as tf

    if os.environ.get("TF_CONFIG"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([device.name for device in devices])


def checked_strategy(batch_size: int):
    """`distribution_strategy()`, after checking that a batch of `batch_size` splits evenly over its replicas."""
    strategy = distribution_strategy()
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise ValueError(f"batch size {batch_size} does not split evenly over {replicas} replicas")
    log.info("training on %d replicas", replicas)
    return strategy


def is_chief() -> bool:
    """Whether this process writes checkpoints: all but the non-chief tasks of a TF_CONFIG cluster."""
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = config.get("task", {})
    if task.get("type") in (None, "chief"):
        return True
    return task.get("type") == "worker" and task.get("index", 0) == 0 and "chief" not in config.get("cluster", {})


def has_gpu() -> bool:
    """Whether the Keras backend sees a GPU."""
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


PRECISIONS = ("auto", "float32", "mixed")  # --precision choices; see `choose_policy`


def cpu_has_bf16() -> bool:
    """Whether this CPU has bfloat16 instructions (AVX512-BF16 or AMX).

    Without them TensorFlow emulates bfloat16 and `--precision mixed` falls back to float32.
    With them it may still not pay (see `choose_policy`). Read from /proc/cpuinfo: False
    where there is none (macOS, Windows), the safe answer.
    """
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    flags = set(" ".join(line for line in text.splitlines() if line.startswith("flags")).split())
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def choose_policy(precision: str = "auto", gpu: bool | None = None, bf16: bool | None = None) -> str:
    """The Keras dtype policy to build the model under, for `precision` on this machine.

    "float32": always float32. "mixed": float16 maths on a GPU (tensor cores, ~2x),
    bfloat16 on a CPU that has native bf16, else float32 with a warning. "auto" is float16
    on a GPU and float32 on a CPU: on the project's AVX512-BF16 CPU a bfloat16 training step
    measured 0.66-0.80x float32's speed (benchmarks/README.md), so bf16 stays opt-in there.
    Weights stay float32 in every case, so checkpoints do not depend on it.

    Example:
        >>> choose_policy("mixed", gpu=False, bf16=True)
        'mixed_bfloat16'
        >>> choose_policy("auto", gpu=False, bf16=True)
        'float32'
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}: choose one of {list(PRECISIONS)}")
    if precision == "float32":
        return "float32"
    gpu = has_gpu() if gpu is None else gpu
    bf16 = cpu_has_bf16() if bf16 is None else bf16
    if gpu:
        return "mixed_float16"
    if precision == "auto":
        return "float32"
    if bf16:
        return "mixed_bfloat16"
    if precision == "mixed":
        log.warning("mixed precision: no GPU and no native bfloat16 on this CPU; training in float32")
    return "float32"


@contextlib.contextmanager
def policy(name: str):
    """Build layers under the Keras dtype policy `name`, then restore the previous one.

    The policy only matters while layers are made, so it does not leak into later models.
    """
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def distributed_step(autoencoder, strategy) -> Callable[[np.ndarray, np.ndarray], float]:
    """One step of `autoencoder` with the global batch split across the strategy's replicas.

    (`train_on_batch` would hand the whole batch to every replica.) Each replica's loss
    is divided by the replica count, so the summed (all-reduced) gradients
    are those of the global batch's mean, as on one device.
    """
    import tensorflow as tf

    replicas = strategy.num_replicas_in_sync
    loss_fn = keras.losses.get(autoencoder.loss)  # the compiled loss: 2017's MAE or the recipe's
    optimizer, variables = autoencoder.optimizer, autoencoder.trainable_variables

    def replica_step(warped, target):
        with tf.GradientTape() as tape:
            output = tf.cast(autoencoder(warped, training=True), tf.float32)
            loss = tf.reduce_mean(loss_fn(target, output)) / replicas
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
