import keras
import numpy as np
import pytest

from cig_k3.models import AttentionGenerator, UNetDiscriminator
from cig_k3.models.attention import AttentionGenerator as Direct


def tiny(**kwargs):
    return AttentionGenerator(3, 1, base_filters=4, depth=2, max_filters=8, seed=0, **kwargs)


def test_shapes_mask_range_and_fusion():
    generator = tiny()
    condition = np.eye(3, dtype="float32")[np.random.default_rng(0).integers(0, 3, (2, 32, 32))]
    views = {k: keras.ops.convert_to_numpy(v) for k, v in generator.views(condition).items()}
    assert views["image"].shape == (2, 32, 32, 1) and views["attention"].shape == (2, 32, 32, 1)
    assert views["attention"].min() >= 0 and views["attention"].max() <= 1
    a = views["attention"]
    np.testing.assert_allclose(views["image"], (1 - a) * views["source"] + a * views["prediction"], atol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(generator(condition)), views["image"], atol=1e-6)
    identity = generator.identity(np.zeros((2, 32, 32, 1), "float32"))["image"]
    assert tuple(identity.shape) == (2, 32, 32, 1)
    assert generator.size_multiple == 4 and Direct is AttentionGenerator


def test_input_identity_path_needs_one_domain():
    with pytest.raises(ValueError, match="in_channels == out_channels"):
        AttentionGenerator(3, 1, identity_path="input")
    same = AttentionGenerator(2, 2, base_filters=4, depth=2, identity_path="input")
    x = np.random.default_rng(1).uniform(-1, 1, (1, 16, 16, 2)).astype("float32")
    views = same.views(x)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(views["source"]), x)


def test_unet_discriminator_gives_one_logit_per_pixel():
    d = UNetDiscriminator(3, 1, base_filters=4, depth=2)
    logits = d([np.zeros((2, 32, 32, 3), "float32"), np.zeros((2, 32, 32, 1), "float32")])
    assert tuple(logits.shape) == (2, 32, 32, 1)
