"""A .keras round trip in a fresh Python process, shared by the model families' tests."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

LOAD_AND_PREDICT = """
import sys, numpy as np, cig_k3, keras
# The Keras way, no custom_objects: importing cig_k3 registers its classes (issue 16).
model = keras.saving.load_model(sys.argv[1], safe_mode=True)
data = np.load(sys.argv[2])
inputs = data["x"] if "x" in data.files else {key: data[key] for key in data.files}
np.save(sys.argv[3], keras.ops.convert_to_numpy(model(inputs, training=False)))
print(type(model).__name__)
"""


@pytest.fixture
def fresh_process_roundtrip(tmp_path):
    """save(model) here, load_model + predict in a new process (same KERAS_BACKEND); the
    outputs must match. Returns the loaded class name."""

    def check(model, inputs, atol=1e-5):
        path, data, out = tmp_path / "model.keras", tmp_path / "inputs.npz", tmp_path / "out.npy"
        model.save(path)
        if isinstance(inputs, dict):
            np.savez(data, **inputs)
        else:
            np.savez(data, x=inputs)
        expected = keras.ops.convert_to_numpy(model(inputs, training=False))
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        result = subprocess.run([sys.executable, "-c", LOAD_AND_PREDICT, path, data, out], env=env,
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-3000:]
        np.testing.assert_allclose(np.load(out), expected, atol=atol)
        return result.stdout.strip().splitlines()[-1]

    return check
