import keras
import numpy as np

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
