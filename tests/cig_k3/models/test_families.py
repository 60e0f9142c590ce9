"""The networks of the GAN families (issue 9): shapes, no dense layers, save/load, the image pool."""

import keras
import numpy as np
import pytest

from cig_k3.layers.image_pool import ImagePool
from cig_k3.models import (
    CUSTOM_OBJECTS,
    DCGANDiscriminator,
    DCGANEncoder,
    DCGANGenerator,
    ImagePatchGANDiscriminator,
)

NOISE = np.random.default_rng(0).normal(size=(2, 4)).astype("float32")
IMAGES = np.random.default_rng(1).uniform(-1, 1, size=(2, 32, 32, 1)).astype("float32")
CLASSES = np.eye(3, dtype="float32")[[0, 2]]


def networks():
    return {
        "generator": (DCGANGenerator(4, 1, 32, base_filters=4), NOISE, (2, 32, 32, 1)),
        "class_generator": (DCGANGenerator(4, 1, 32, base_filters=4, num_classes=3), [NOISE, CLASSES], (2, 32, 32, 1)),
        "discriminator": (DCGANDiscriminator(1, 32, base_filters=4), IMAGES, (2, 1)),
        "class_discriminator": (DCGANDiscriminator(1, 32, base_filters=4, num_classes=3), [IMAGES, CLASSES], (2, 1)),
        "joint_discriminator": (DCGANDiscriminator(1, 32, base_filters=4, latent_dim=4), [IMAGES, NOISE], (2, 1)),
        "critic": (DCGANDiscriminator(1, 32, base_filters=4, norm="layer"), IMAGES, (2, 1)),
        "encoder": (DCGANEncoder(1, 32, latent_dim=4, base_filters=4), IMAGES, (2, 4)),
        "patch": (ImagePatchGANDiscriminator(1, base_filters=4, num_downsamples=2), IMAGES, (2, 8, 8, 1)),
    }


# One save/load round trip per class (and per optional input); eager calls are slow on JAX.
ROUND_TRIPS = ("class_generator", "joint_discriminator", "class_discriminator", "encoder", "patch")


def test_shapes_no_dense_layers_and_round_trip(tmp_path):
    for name, (model, inputs, shape) in networks().items():
        output = keras.ops.convert_to_numpy(model(inputs, training=False))
        assert output.shape == shape, name
        assert not any(isinstance(layer, keras.layers.Dense) for layer in model._flatten_layers()), name
        if name not in ROUND_TRIPS:
            continue
        path = tmp_path / f"{name}.keras"
        model.save(path)
        loaded = keras.saving.load_model(path, custom_objects=CUSTOM_OBJECTS)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(inputs, training=False)), output, atol=1e-5,
                                   err_msg=name)
        assert loaded.get_config() == model.get_config(), name


def test_generator_output_is_in_range_and_uses_the_class():
    generator = DCGANGenerator(4, 1, 32, base_filters=4, num_classes=3)
    first = keras.ops.convert_to_numpy(generator([NOISE, np.eye(3, dtype="float32")[[0, 0]]]))
    other = keras.ops.convert_to_numpy(generator([NOISE, np.eye(3, dtype="float32")[[2, 2]]]))
    assert np.abs(first).max() <= 1.0
    assert np.abs(first - other).max() > 1e-6


def test_bad_sizes_fail_loudly():
    with pytest.raises(ValueError, match="power of two"):
        DCGANGenerator(4, 1, 48)
    with pytest.raises(ValueError, match="not both"):
        DCGANDiscriminator(1, 32, num_classes=3, latent_dim=4)


def test_image_pool_fills_then_swaps_half():
    pool = ImagePool(4, (2, 2, 1), seed=0)
    first = np.full((3, 2, 2, 1), 1.0, "float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(pool(first)), first)  # filling: returned as given
    assert int(keras.ops.convert_to_numpy(pool.count)) == 3
    second = np.full((3, 2, 2, 1), 2.0, "float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(pool(second)), second)  # the 4th fills the pool
    stored = keras.ops.convert_to_numpy(pool.images)[:, 0, 0, 0]
    assert sorted(stored.tolist()) == [1.0, 1.0, 1.0, 2.0]
    assert int(keras.ops.convert_to_numpy(pool.count)) == 4
    swapped = 0
    for _ in range(6):
        out = keras.ops.convert_to_numpy(pool(np.full((8, 2, 2, 1), 9.0, "float32")))[:, 0, 0, 0]
        swapped += int((out != 9.0).sum())
    assert 0 < swapped < 48  # about half the fakes come back as older images
    assert any(v is pool.seed_generator.state for v in pool.non_trainable_variables)
