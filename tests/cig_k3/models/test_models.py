import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from cig_k3.layers import sampling
from cig_k3.models import CUSTOM_OBJECTS, PatchGANDiscriminator, UNetGenerator, build_generator


def test_unet_shapes_and_range():
    generator = UNetGenerator(in_channels=3, out_channels=2, base_filters=8, depth=3)
    out = keras.ops.convert_to_numpy(generator(np.random.rand(2, 32, 32, 3).astype("float32")))
    assert out.shape == (2, 32, 32, 2)
    assert out.dtype == np.float32
    assert np.all(np.abs(out) <= 1.0)
    assert generator.size_multiple == 8


def test_patchgan_cig_map_is_8x8_at_128():
    discriminator = PatchGANDiscriminator(3, 1, base_filters=4, num_downsamples=4, padding="same")
    logits = discriminator([np.zeros((2, 128, 128, 3), "float32"), np.zeros((2, 128, 128, 1), "float32")])
    assert tuple(logits.shape) == (2, 8, 8, 1)


def test_patchgan_pix2pix_has_70px_receptive_field_and_30x30_map():
    discriminator = PatchGANDiscriminator(3, 1, base_filters=4, num_downsamples=3, padding="pix2pix")
    assert discriminator.receptive_field == 70
    logits = discriminator([np.zeros((1, 256, 256, 3), "float32"), np.zeros((1, 256, 256, 1), "float32")])
    assert tuple(logits.shape) == (1, 30, 30, 1)


def test_dropout_sampling_only_when_asked():
    generator = UNetGenerator(3, 1, base_filters=8, depth=3, dropout_layers=2, seed=1)
    x = np.random.default_rng(0).random((1, 32, 32, 3)).astype("float32")
    a, b = (keras.ops.convert_to_numpy(generator(x, training=False)) for _ in range(2))
    np.testing.assert_array_equal(a, b)
    with sampling(generator) as count:
        c, d = (keras.ops.convert_to_numpy(generator(x, training=False)) for _ in range(2))
    assert count == 2
    assert np.abs(c - d).max() > 1e-4
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(generator(x, training=False)), a)


def test_unknown_generator_fails_loudly():
    with pytest.raises(ValueError, match="unknown generator 'nope'; choose one of"):
        build_generator("nope")


LOAD_AND_PREDICT = """
import sys, numpy as np, keras
from cig_k3.models import CUSTOM_OBJECTS
model = keras.saving.load_model(sys.argv[1], custom_objects=CUSTOM_OBJECTS, safe_mode=True)
x = np.load(sys.argv[2])
np.save(sys.argv[3], keras.ops.convert_to_numpy(model(x, training=False)))
"""


@pytest.mark.backend_independent
def test_generator_loads_in_fresh_process_under_every_backend(tmp_path):
    """Saved under TensorFlow, loaded in fresh processes under each backend: same outputs."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    build = (
        "import sys, numpy as np, keras\n"
        "from cig_k3.models import UNetGenerator\n"
        "g = UNetGenerator(3, 1, base_filters=8, depth=3, seed=0)\n"
        "x = np.random.default_rng(0).random((2, 32, 32, 3)).astype('float32')\n"
        "g.save(sys.argv[1]); np.save(sys.argv[2], x)\n"
        "np.save(sys.argv[3], keras.ops.convert_to_numpy(g(x, training=False)))\n"
    )
    model, x, expected = tmp_path / "g.keras", tmp_path / "x.npy", tmp_path / "expected.npy"
    subprocess.run([sys.executable, "-c", build, model, x, expected], check=True,
                   env={**env, "KERAS_BACKEND": "tensorflow"})
    for backend in ("tensorflow", "jax", "torch"):
        out = tmp_path / f"{backend}.npy"
        subprocess.run([sys.executable, "-c", LOAD_AND_PREDICT, model, x, out], check=True,
                       env={**env, "KERAS_BACKEND": backend})
        np.testing.assert_allclose(np.load(out), np.load(expected), atol=1e-5, err_msg=backend)


def test_custom_objects_cover_saved_classes(tmp_path):
    generator = UNetGenerator(3, 1, base_filters=8, depth=3)
    generator.save(tmp_path / "g.keras")
    loaded = keras.saving.load_model(tmp_path / "g.keras", custom_objects=CUSTOM_OBJECTS, safe_mode=True)
    assert isinstance(loaded, UNetGenerator)
    assert json.dumps(loaded.get_config()) == json.dumps(generator.get_config())
