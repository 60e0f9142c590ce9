"""One step definition, three backends: the same weights after two steps, to 1e-4."""

import os
import subprocess
import sys

import numpy as np
import pytest

WORKER = r"""
import sys, numpy as np, keras
from cig_k3.models import PatchGANDiscriminator, UNetGenerator
from cig_k3.training.backend import adam
from cig_k3.training.gans import Pix2PixGAN

init, out = sys.argv[1], sys.argv[2]
generator = UNetGenerator(3, 1, base_filters=8, depth=3, dropout_layers=0)
discriminator = PatchGANDiscriminator(3, 1, base_filters=8, num_downsamples=2, padding="same")
gan = Pix2PixGAN(generator, discriminator, adversarial="lsgan", l1_weight=100.0)
# adam(): what training uses, the backend's fused Adam on TensorFlow and torch.
gan.compile(adam(1e-3, beta_1=0.5), adam(1e-3, beta_1=0.5))
weights = [v for v in gan.variables if "seed_generator" not in v.path]
if keras.backend.backend() == "tensorflow":
    np.savez(init, *[keras.ops.convert_to_numpy(v.value) for v in weights])
with np.load(init) as data:
    for i, v in enumerate(weights):
        v.assign(data[f"arr_{i}"])
rng = np.random.default_rng(0)
condition = np.eye(3, dtype="float32")[rng.integers(0, 3, (4, 32, 32))]
target = np.tanh(rng.normal(size=(4, 32, 32, 1))).astype("float32")
gan.fit(condition, target, batch_size=2, epochs=1, shuffle=False, verbose=0)
np.savez(out, *[keras.ops.convert_to_numpy(v.value) for v in weights])
"""


@pytest.mark.backend_independent
def test_two_steps_agree_across_backends(tmp_path):
    # oneDNN changes TensorFlow's rounding; switch it off for a fair comparison.
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0", "TF_CPP_MIN_LOG_LEVEL": "3"}
    init = tmp_path / "init.npz"
    results = {}
    for backend in ("tensorflow", "jax", "torch"):  # tensorflow first: it writes init.npz
        out = tmp_path / f"{backend}.npz"
        subprocess.run([sys.executable, "-c", WORKER, init, out], check=True, env={**env, "KERAS_BACKEND": backend})
        with np.load(out) as data:
            results[backend] = [data[f"arr_{i}"] for i in range(len(data.files))]
    with np.load(init) as data:
        start = [data[f"arr_{i}"] for i in range(len(data.files))]
    moved = max(np.abs(a - b).max() for a, b in zip(results["tensorflow"], start))
    assert moved > 1e-4, "two steps should change the weights"
    for backend in ("jax", "torch"):
        for i, (a, b) in enumerate(zip(results["tensorflow"], results[backend])):
            np.testing.assert_allclose(a, b, atol=1e-4, err_msg=f"{backend} variable {i}")
