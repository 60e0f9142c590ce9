import keras
import numpy as np

from cig_k3.layers.moments import SpatialMoments
from cig_k3.models import MultiScaleDiscriminator, Pix2PixHDGenerator
from cig_k3.models.pix2pixhd import copy_global_weights

ARGS = {"base_filters": 4, "global_downsamples": 1, "global_blocks": 1, "local_blocks": 1}


def test_coarse_to_fine_shapes_and_global_only():
    x = np.random.default_rng(0).uniform(-1, 1, (1, 32, 32, 13)).astype("float32")
    full = Pix2PixHDGenerator(13, 3, **ARGS)
    assert tuple(full(x).shape) == (1, 32, 32, 3) and full.size_multiple == 4
    assert full.get_layer("local_plus_global") is not None
    coarse = Pix2PixHDGenerator(13, 3, global_only=True, **ARGS)
    assert tuple(coarse(x).shape) == (1, 32, 32, 3)
    assert not any(layer.name.startswith("local_") for layer in coarse.layers)
    copied = copy_global_weights(coarse, full)
    assert "global_in_conv" in copied
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(full.get_layer("global_in_conv").kernel),
                                  keras.ops.convert_to_numpy(coarse.get_layer("global_in_conv").kernel))


def test_three_scales_with_features():
    d = MultiScaleDiscriminator(13, 3, base_filters=4, num_downsamples=2, num_scales=3)
    outputs = d([np.zeros((1, 64, 64, 13), "float32"), np.zeros((1, 64, 64, 3), "float32")])
    assert len(outputs) == 3 and all(len(scale) == 4 for scale in outputs)
    assert [tuple(scale[-1].shape)[1:] for scale in outputs] == [(16, 16, 1), (8, 8, 1), (4, 4, 1)]


def test_image_head_sees_what_instance_norm_divides_away(tmp_path):
    """Grain twice as strong: the instance-normed features do not change, the image-level
    logit does; the head round-trips through .keras, and a config without it (older
    files) builds pix2pixHD's discriminator."""
    d = MultiScaleDiscriminator(2, 1, base_filters=4, num_downsamples=2, num_scales=2, image_head=True)
    grain = np.random.default_rng(0).normal(0, 1.0, (2, 32, 32, 1)).astype("float32")
    condition = np.zeros((2, 32, 32, 2), "float32")
    weak, strong = d([condition, grain]), d([condition, 2 * grain])
    assert len(weak) == 3 and [len(scale) for scale in weak] == [4, 4, 1]
    assert tuple(weak[-1][0].shape) == (2, 1, 1, 1)
    numpy = keras.ops.convert_to_numpy
    # block 1 follows instance norm: a scaled input (zero-initialised biases) leaves it unchanged
    np.testing.assert_allclose(numpy(weak[0][1]), numpy(strong[0][1]), atol=1e-3)
    assert np.all(np.abs(numpy(weak[-1][0]) - numpy(strong[-1][0])) > 1e-4)
    d.save(tmp_path / "d.keras")
    loaded = keras.saving.load_model(tmp_path / "d.keras")
    np.testing.assert_allclose(numpy(loaded([condition, grain])[-1][0]), numpy(weak[-1][0]), rtol=1e-5, atol=1e-6)
    config = {k: v for k, v in d.get_config().items() if k != "image_head"}
    assert len(MultiScaleDiscriminator.from_config(config)([condition, grain])) == 2


def test_spatial_moments():
    """Log standard deviation, then the mean in standard deviations; scaling the map shifts
    the first by the log of the factor and leaves the second."""
    x = np.random.default_rng(1).normal(0.3, 2.0, (2, 16, 16, 3)).astype("float32")
    moments = keras.ops.convert_to_numpy(SpatialMoments()(x))
    variance = x.var(axis=(1, 2)) + 1e-6
    np.testing.assert_allclose(moments[:, :3], 0.5 * np.log(variance), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(moments[:, 3:], x.mean(axis=(1, 2)) / np.sqrt(variance), rtol=1e-4, atol=1e-5)
    scaled = keras.ops.convert_to_numpy(SpatialMoments()(10 * x))
    np.testing.assert_allclose(scaled[:, :3] - moments[:, :3], np.log(10), rtol=1e-4)
    np.testing.assert_allclose(scaled[:, 3:], moments[:, 3:], rtol=1e-4, atol=1e-5)
