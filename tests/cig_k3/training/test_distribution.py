"""Data parallelism through Keras' distribution API: the same result as plain fit."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from cig_k3.training import train
from cig_k3.training.run import distribution_setting

from .test_run import generator_weights, tiny_config

on_jax = pytest.mark.skipif(keras.backend.backend() != "jax", reason="Keras' distribution API is JAX's")


def test_data_parallel_is_refused_off_jax_and_auto_stays_plain():
    assert distribution_setting("none", 4) is None
    if keras.backend.backend() != "jax":
        with pytest.raises(ValueError, match="KERAS_BACKEND=jax"):
            distribution_setting("data_parallel", 4)
        assert distribution_setting("auto", 4) is None
    else:
        devices = len(keras.distribution.list_devices())
        assert (distribution_setting("auto", 4) is None) == (devices < 2)
        assert isinstance(distribution_setting("data_parallel", 4), keras.distribution.DataParallel)


def _max_difference(first, second):
    assert first.keys() == second.keys()
    return max(float(np.max(np.abs(first[key].astype("float64") - second[key]))) for key in first
               if first[key].dtype.kind == "f")


@on_jax
def test_data_parallel_on_one_device_equals_plain_fit(synthetic_shards, tmp_path):
    plain = tiny_config(synthetic_shards, tmp_path / "plain", epochs=1, distribute="none")
    parallel = tiny_config(synthetic_shards, tmp_path / "parallel", epochs=1, distribute="data_parallel")
    train(plain)
    train(parallel)
    assert keras.distribution.distribution() is None  # train() leaves no global distribution behind
    assert _max_difference(generator_weights(tmp_path / "plain"), generator_weights(tmp_path / "parallel")) < 1e-6


@on_jax
def test_data_parallel_on_two_host_devices_matches_plain_fit(synthetic_shards, tmp_path):
    # XLA can split the CPU into several devices; the batch of 2 is then split 1 + 1 and the
    # gradients all-reduced, which must give the single-device result up to float rounding.
    script = textwrap.dedent(f"""
        import json, keras, logging
        logging.basicConfig(level=logging.INFO)
        from tests.cig_k3.training.test_run import tiny_config
        from cig_k3.training import train
        assert len(keras.distribution.list_devices()) == 2, keras.distribution.list_devices()
        for name, mode in (("plain", "none"), ("parallel", "auto")):
            train(tiny_config({str(synthetic_shards)!r}, {str(tmp_path)!r} + "/" + name, epochs=1, distribute=mode))
        print(json.dumps("done"))
    """)
    env = {**os.environ, "KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    process = subprocess.run([sys.executable, "-c", script], env=env, cwd=root, capture_output=True, text=True,
                             timeout=600)
    assert process.returncode == 0, process.stderr[-2000:]
    assert json.loads(process.stdout.strip().splitlines()[-1]) == "done"
    assert "data parallel over 2 devices" in process.stderr
    difference = _max_difference(generator_weights(tmp_path / "plain"), generator_weights(tmp_path / "parallel"))
    assert difference < 1e-4, difference


@pytest.mark.skipif(keras.backend.backend() == "jax", reason="data_parallel is accepted on JAX")
def test_data_parallel_off_jax_fails_before_writing(synthetic_shards, tmp_path):
    with pytest.raises(ValueError, match="KERAS_BACKEND=jax"):
        train(tiny_config(synthetic_shards, tmp_path / "run", distribute="data_parallel"))
    assert not (tmp_path / "run").exists()
