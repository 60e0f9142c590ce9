"""Gram/style, feature matching and the VGG16-from-a-file path, against NumPy."""

import keras
import numpy as np
import pytest

from cig_k3.losses.perceptual import feature_list, feature_matching, gram_matrix, style_distance, vgg16_features

RNG = np.random.default_rng(0)
A = RNG.normal(size=(2, 3, 2, 4)).astype("float32")
B = RNG.normal(size=(2, 3, 2, 4)).astype("float32")


def numpy_gram(x):
    n, h, w, c = x.shape
    flat = x.reshape(n, h * w, c)
    return np.einsum("npc,npd->ncd", flat, flat) / (h * w * c)


def test_gram_matrix_by_hand():
    x = np.array([1.0, 2.0, 3.0, 4.0], "float32").reshape(1, 2, 1, 2)  # pixels (1, 2), (3, 4)
    gram = keras.ops.convert_to_numpy(gram_matrix(x))[0]
    np.testing.assert_allclose(gram, np.array([[10.0, 14.0], [14.0, 20.0]]) / 4, rtol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(gram_matrix(A)), numpy_gram(A), rtol=1e-5)


def test_style_distance_is_squared_frobenius_of_gram_difference():
    expected = np.mean(np.sum((numpy_gram(A) - numpy_gram(B)) ** 2, axis=(1, 2)))
    assert float(style_distance(A, B)) == pytest.approx(expected, rel=1e-5)
    assert float(style_distance([A, A], [B, A])) == pytest.approx(expected, rel=1e-5)


def test_feature_matching_is_mean_l1_over_layers_and_scales_without_logits():
    real = [[np.ones((1, 2, 2, 1), "float32"), np.zeros((1, 1, 1, 1), "float32"), np.full((1, 1, 1, 1), 9.0, "float32")],
            [np.zeros((1, 2, 2, 2), "float32"), np.full((1, 1, 1, 1), 9.0, "float32")]]
    fake = [[np.zeros((1, 2, 2, 1), "float32"), np.full((1, 1, 1, 1), 3.0, "float32"), np.zeros((1, 1, 1, 1), "float32")],
            [np.full((1, 2, 2, 2), 0.5, "float32"), np.zeros((1, 1, 1, 1), "float32")]]
    # Layers: |1-0| = 1, |0-3| = 3, |0-0.5| = 0.5; logits (9 vs 0) are left out.
    assert float(feature_matching(real, fake)) == pytest.approx((1 + 3 + 0.5) / 3)


def test_feature_matching_over_blocks_matches_local_means_not_where_the_grains_lie():
    """fm_scale: a checkerboard texture against the same texture shifted by one cell (what a
    paired match at the first layer penalises fully) costs nothing once each map of stride s
    is averaged over blocks of scale // s cells; a map coarser than the block is matched
    cell by cell, and a brighter texture still costs."""
    grain = np.indices((8, 8)).sum(axis=0) % 2  # stride 2 of a 16-px image: blocks of 4 // 2 = 2
    real = [[grain[None, ..., None].astype("float32"), np.zeros((1, 2, 2, 1), "float32"), np.zeros((1, 1, 1, 1))]]
    shifted = [[1.0 - real[0][0], np.full((1, 2, 2, 1), 0.5, "float32"), np.zeros((1, 1, 1, 1))]]
    assert float(feature_matching(real, shifted)) == pytest.approx((1 + 0.5) / 2)
    assert float(feature_matching(real, shifted, scale=4, image_size=16)) == pytest.approx((0 + 0.5) / 2)
    brighter = [[2.0 * (1.0 - real[0][0]), shifted[0][1], shifted[0][2]]]
    assert float(feature_matching(real, brighter, scale=4, image_size=16)) == pytest.approx((0.5 + 0.5) / 2)
    with pytest.raises(ValueError, match="image_size"):
        feature_matching(real, shifted, scale=4)


def test_vgg16_weights_are_read_from_a_file(tmp_path):
    source = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    path = tmp_path / "vgg16_notop.weights.h5"
    source.save_weights(path)
    network = vgg16_features(path, channels=1)
    loaded = network.get_layer("vgg16_features").get_layer("block3_conv3").kernel
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded),
                                  keras.ops.convert_to_numpy(source.get_layer("block3_conv3").kernel))
    features = feature_list(network(np.zeros((1, 16, 16, 1), "float32")))
    assert tuple(features[0].shape) == (1, 4, 4, 256)
    assert not network.trainable_variables
    with pytest.raises(FileNotFoundError, match="VGG16 weights file not found"):
        vgg16_features(tmp_path / "missing.weights.h5")
