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
# Arguments come in threes (model, inputs, output): one process checks several models.
for model_path, data_path, out_path in zip(*[iter(sys.argv[1:])] * 3):
    model = keras.saving.load_model(model_path, safe_mode=True)
    data = np.load(data_path)
    inputs = data["x"] if "x" in data.files else {key: data[key] for key in data.files}
    np.save(out_path, keras.ops.convert_to_numpy(model(inputs, training=False)))
    print(type(model).__name__)
"""


@pytest.fixture
def fresh_process_roundtrip(tmp_path):
    """save(model) here, load_model + predict in a new process (same KERAS_BACKEND); the
    outputs must match. Returns the loaded class name. `check(models, inputs)` with lists
    checks several models in one process (its start-up, with JAX's, dominates) and returns
    their class names."""

    def check(model, inputs, atol=1e-5):
        models, batches = (model, inputs) if isinstance(model, list) else ([model], [inputs])
        arguments, expected = [], []
        for index, (each, batch) in enumerate(zip(models, batches)):
            path, data, out = tmp_path / f"model{index}.keras", tmp_path / f"inputs{index}.npz", tmp_path / f"out{index}.npy"
            each.save(path)
            if isinstance(batch, dict):
                np.savez(data, **batch)
            else:
                np.savez(data, x=batch)
            expected.append(keras.ops.convert_to_numpy(each(batch, training=False)))
            arguments += [str(path), str(data), str(out)]
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        result = subprocess.run([sys.executable, "-c", LOAD_AND_PREDICT, *arguments], env=env,
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-3000:]
        for index, values in enumerate(expected):
            np.testing.assert_allclose(np.load(tmp_path / f"out{index}.npy"), values, atol=atol)
        names = result.stdout.strip().splitlines()[-len(models):]
        return names if isinstance(model, list) else names[0]

    return check
