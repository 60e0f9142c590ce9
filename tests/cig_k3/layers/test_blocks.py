"""Blocks by hand: fusion arithmetic, dilated field of view, residual identity, SPADE."""

import keras
import numpy as np
import pytest

from cig_k3.layers.attention import AttentionFusion
from cig_k3.layers.blocks import conv_block, residual_block
from cig_k3.layers.dilated import dilated_bottleneck, receptive_field
from cig_k3.layers.spade import SPADE, NearestDownsample, SPADEResBlock


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def test_attention_fusion_by_hand():
    source = np.array([1.0, -1.0, 0.5, 0.0], "float32").reshape(1, 2, 2, 1)
    prediction = np.array([-1.0, 1.0, 0.0, 0.25], "float32").reshape(1, 2, 2, 1)
    attention = np.array([0.0, 1.0, 0.5, 0.25], "float32").reshape(1, 2, 2, 1)
    fused = numpy(AttentionFusion()([source, prediction, attention]))
    np.testing.assert_allclose(fused.ravel(), [1.0, 1.0, 0.25, 0.0625], atol=1e-7)


def test_dilated_bottleneck_field_of_view_is_31_pixels():
    assert receptive_field((1, 2, 4, 8)) == 31
    inputs = keras.Input((None, None, 1))
    model = keras.Model(inputs, dilated_bottleneck(inputs, 1, (1, 2, 4, 8), norm="none", act="none"))
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            layer.set_weights([np.ones((3, 3, 1, 1), "float32"), np.zeros(1, "float32")])
    impulse = np.zeros((1, 41, 41, 1), "float32")
    impulse[0, 20, 20, 0] = 1.0
    response = numpy(model(impulse))[0, :, :, 0]
    rows = np.nonzero(response.any(axis=1))[0]
    assert rows.max() - rows.min() + 1 == 31
    # All-ones 3x3 kernels multiply the mass by 9 per stage, and the four stages are summed.
    assert response.sum() == pytest.approx(9 + 81 + 729 + 6561)


def test_residual_block_is_identity_when_its_branch_is_zero():
    inputs = keras.Input((None, None, 2))
    model = keras.Model(inputs, residual_block(inputs, 2, norm="none"))
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    x = np.random.default_rng(0).normal(size=(1, 4, 4, 2)).astype("float32")
    np.testing.assert_allclose(numpy(model(x)), x)
    y = conv_block(keras.Input((8, 8, 2)), 3, strides=2, norm="batch", dropout=0.5, seed=0)
    assert tuple(y.shape) == (None, 4, 4, 3)


def test_spade_is_plain_normalisation_when_gamma_beta_are_zero_and_affine_otherwise():
    features = np.random.default_rng(0).normal(2.0, 3.0, (1, 4, 4, 2)).astype("float32")
    label = np.ones((1, 8, 8, 3), "float32")
    spade = SPADE(hidden_filters=2, label_stride=2, norm="instance")
    spade([features, label])
    for conv in (spade.gamma, spade.beta):
        conv.set_weights([np.zeros_like(w) for w in conv.get_weights()])
    mean = features.mean(axis=(1, 2), keepdims=True)
    normalized = (features - mean) / np.sqrt(features.var(axis=(1, 2), keepdims=True) + 1e-5)
    np.testing.assert_allclose(numpy(spade([features, label])), normalized, atol=1e-4)
    # gamma bias 1, beta bias 0.5: out = norm * (1 + 1) + 0.5.
    spade.gamma.set_weights([spade.gamma.get_weights()[0], np.ones(2, "float32")])
    spade.beta.set_weights([spade.beta.get_weights()[0], np.full(2, 0.5, "float32")])
    np.testing.assert_allclose(numpy(spade([features, label])), 2 * normalized + 0.5, atol=1e-4)
    assert not [w for w in spade.normalize.weights if w.trainable]


def test_spade_resblock_shapes_and_nearest_downsample():
    block = SPADEResBlock(6, hidden_filters=4, label_stride=2)
    out = block([np.zeros((2, 4, 4, 3), "float32"), np.zeros((2, 8, 8, 3), "float32")])
    assert tuple(out.shape) == (2, 4, 4, 6) and block.learned_shortcut
    grid = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    np.testing.assert_array_equal(numpy(NearestDownsample(2)(grid)).ravel(), [0, 2, 8, 10])
