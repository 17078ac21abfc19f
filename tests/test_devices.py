"""Devices, precision and distribution: mixed precision, MirroredStrategy, a two-worker cluster."""

import dataclasses
import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from swapface import checkpoints, devices, train
from swapface import saving

ROOT = Path(__file__).resolve().parents[1]
TINY = train.TrainSettings(preset="tiny", batch_size=4, iterations=3, save_every=2, workers=0, preview_faces=2,
                           precision="float32")

WORKER = """
import sys, json, numpy as np
from swapface import train
from swapface import model as sm, saving
faces_a, faces_b, model_dir, iterations, out = sys.argv[1:6]
settings = train.TrainSettings(preset="tiny", batch_size=4, iterations=int(iterations), save_every=2, workers=0,
                               distribute=True, preview_faces=2, precision="float32")
after_each_step = {}  # this worker's weights as they are in memory after every step

def record(net, iteration):
    after_each_step[iteration] = [float(np.asarray(w).astype(np.float64).sum())
                                  for w in net.encoder.weights + net.decoder_b.weights]

history = train.train(faces_a, faces_b, model_dir, settings, progress=False, callback=record)
json.dump({"steps": len(history["a"]), "weights": after_each_step}, open(out, "w"))
"""


def _ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _cluster(aligned, model_dir: Path, iterations: int, tmp_path: Path) -> list[dict]:
    """Run both workers of a fresh localhost cluster to `iterations`; their reports."""
    cluster = {"worker": [f"localhost:{port}" for port in _ports(2)]}
    processes = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
                   KERAS_BACKEND="tensorflow", CUDA_VISIBLE_DEVICES="")
        out = tmp_path / f"worker{index}-{iterations}.json"
        processes.append((subprocess.Popen([sys.executable, "-c", WORKER, *map(str, aligned), str(model_dir),
                                            str(iterations), str(out)], cwd=ROOT, env=env,
                                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True), out))
    reports = []
    for process, out in processes:
        log, _ = process.communicate(timeout=300)
        assert process.returncode == 0, log[-3000:]
        reports.append(json.loads(out.read_text()))
    return reports


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute needs TensorFlow")
def test_two_worker_cluster_keeps_equal_weights_and_only_the_chief_writes(aligned, tmp_path):
    model_dir = tmp_path / "m"
    first = _cluster(aligned, model_dir, 2, tmp_path)
    assert [r["steps"] for r in first] == [2, 2]
    assert list(first[0]["weights"]) == ["1", "2"]
    for step in first[0]["weights"]:  # all-reduced gradients: the workers move in step
        np.testing.assert_allclose(first[0]["weights"][step], first[1]["weights"][step], rtol=1e-6)
    assert checkpoints.load_state(model_dir)["iteration"] == 2
    # Only the chief (worker 0) wrote: one snapshot, no second lock holder's files.
    assert [p.name for p in (model_dir / checkpoints.CHECKPOINTS).iterdir()] == ["00000002"]
    resumed = _cluster(aligned, model_dir, 4, tmp_path)
    assert [r["steps"] for r in resumed] == [4, 4] and list(resumed[1]["weights"]) == ["3", "4"]
    for step in resumed[0]["weights"]:
        np.testing.assert_allclose(resumed[0]["weights"][step], resumed[1]["weights"][step], rtol=1e-6)
    assert checkpoints.load_state(model_dir)["iteration"] == 4
    saved = saving.load(model_dir)
    chief = [np.asarray(w).astype(np.float64).sum() for w in saved.encoder.weights + saved.decoder_b.weights]
    np.testing.assert_allclose(chief, resumed[0]["weights"]["4"], rtol=1e-6)


DISTRIBUTED = """
import sys
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]  # before TF initialises: two logical CPUs
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from swapface import devices, train

print("replicas", devices.distribution_strategy().num_replicas_in_sync)
settings = train.TrainSettings(preset="tiny", batch_size=4, iterations=3, save_every=2, workers=0,
                               distribute=True, preview_faces=2)
history = train.train(sys.argv[1], sys.argv[2], sys.argv[3], settings, progress=False)
print("steps", len(history["a"]), min(history["a"] + history["b"]) > 0)
"""


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute needs TensorFlow")
def test_mirrored_strategy_on_two_logical_cpus(aligned, tmp_path):
    result = subprocess.run([sys.executable, "-c", DISTRIBUTED, *map(str, aligned), str(tmp_path / "m")],
                            cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "replicas 2" in result.stdout and "steps 3 True" in result.stdout
    assert checkpoints.load_state(tmp_path / "m")["iteration"] == 3
    assert saving.load(tmp_path / "m").settings.name == "tiny"


def test_mixed_precision_picks_the_fastest_policy_and_restores_it(aligned, tmp_path, caplog):
    """float16 on a GPU, bfloat16 on a CPU with native bf16, else float32 (with a warning)."""
    assert devices.choose_policy("mixed", gpu=True, bf16=False) == "mixed_float16"
    assert devices.choose_policy("mixed", gpu=False, bf16=True) == "mixed_bfloat16"
    assert devices.choose_policy("float32", gpu=True, bf16=True) == "float32"
    assert devices.choose_policy("auto", gpu=True, bf16=False) == "mixed_float16"
    assert devices.choose_policy("auto", gpu=False, bf16=True) == "float32"  # bf16 measured slower here
    with caplog.at_level(logging.WARNING, logger="swapface.devices"):
        assert devices.choose_policy("mixed", gpu=False, bf16=False) == "float32"
    assert "no GPU" in caplog.text
    with pytest.raises(ValueError, match="unknown precision"):
        devices.choose_policy("half")
    chosen = devices.choose_policy("mixed")
    with caplog.at_level(logging.DEBUG, logger="swapface.train"):
        history = train.train(*aligned, tmp_path / "m", dataclasses.replace(TINY, iterations=1, precision="mixed"),
                              progress=False)
    assert f"training in {chosen}" in caplog.text
    assert keras.mixed_precision.global_policy().name == "float32"
    assert np.isfinite(history["a"][0])
    assert saving.load(tmp_path / "m").encoder.weights[0].dtype == "float32"  # weights stay float32
