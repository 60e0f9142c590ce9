import keras
import numpy as np

from cig_k3.models import SPADEGenerator


def test_shapes_and_blocks_per_resolution():
    generator = SPADEGenerator(3, 1, base_filters=4, num_upsamples=2, hidden_filters=4)
    label = np.eye(3, dtype="float32")[np.random.default_rng(0).integers(0, 3, (2, 32, 32))]
    out = keras.ops.convert_to_numpy(generator(label, training=False))
    assert out.shape == (2, 32, 32, 1) and np.abs(out).max() <= 1
    strides = [generator.get_layer(f"spade_block{i}").label_stride for i in range(3)]
    assert strides == [4, 2, 1] and generator.size_multiple == 4
