"""Depth to space by hand, the sub-pixel layer's ICNR start, and the upsampling modes by name."""

import keras
import numpy as np
import pytest

from cig_k3.layers import SubpixelUpsampling, upsample
from cig_k3.layers.upsampling import depth_to_space


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def period_two_fraction(image):
    """Share of an image's non-constant power on the Nyquist lines (a period-2 pattern)."""
    image = image - image.mean()
    power = np.abs(np.fft.fft2(image)) ** 2
    half_rows, half_cols = image.shape[0] // 2, image.shape[1] // 2
    nyquist = power[half_rows].sum() + power[:, half_cols].sum() - power[half_rows, half_cols]
    return nyquist / max(power.sum(), 1e-30)


def test_depth_to_space_by_hand():
    # One pixel, 2x2 blocks of 2 channels: channel (i * 2 + j) * 2 + c goes to (i, j, c).
    x = np.arange(8, dtype="float32").reshape(1, 1, 1, 8)
    out = numpy(depth_to_space(x, 2))
    assert out.shape == (1, 2, 2, 2)
    np.testing.assert_array_equal(out[0, :, :, 0], [[0, 2], [4, 6]])
    np.testing.assert_array_equal(out[0, :, :, 1], [[1, 3], [5, 7]])
    # A larger batch and image against a loop over the definition, and against Keras' own op.
    x = np.random.default_rng(0).normal(size=(2, 3, 5, 12)).astype("float32")
    out = numpy(depth_to_space(x, 2))
    expected = np.zeros((2, 6, 10, 3), "float32")
    for i in range(2):
        for j in range(2):
            expected[:, i::2, j::2, :] = x[..., (i * 2 + j) * 3:(i * 2 + j + 1) * 3]
    np.testing.assert_array_equal(out, expected)
    if hasattr(keras.ops, "depth_to_space"):
        np.testing.assert_array_equal(out, numpy(keras.ops.depth_to_space(x, 2, data_format="channels_last")))


def test_subpixel_starts_without_checkerboard_and_learns_independent_phases():
    constant = np.ones((1, 12, 12, 4), "float32")
    with_icnr = SubpixelUpsampling(2, icnr=True)
    out = numpy(with_icnr(constant))
    assert out.shape == (1, 24, 24, 2)
    # Away from the zero-padded border the output of a constant input is constant ...
    np.testing.assert_allclose(out[0, 2:-2, 2:-2], np.broadcast_to(out[0, 2, 2], (20, 20, 2)), atol=1e-5)
    # ... and on any input the four phases of a pixel are equal (ICNR), so no period-2 energy.
    smooth = np.random.default_rng(0).normal(size=(1, 8, 8, 4)).astype("float32")
    shuffled = numpy(with_icnr(smooth))[0, :, :, 0]
    assert period_two_fraction(shuffled) < 1e-6
    np.testing.assert_allclose(shuffled[0::2, 0::2], shuffled[1::2, 1::2], atol=1e-6)
    # Independent phases (no ICNR) paint a checkerboard on the same constant input: the
    # measure above can see one.
    keras.utils.set_random_seed(0)
    plain = numpy(SubpixelUpsampling(2, icnr=False)(constant))[0, 2:-2, 2:-2, 0]
    assert period_two_fraction(plain) > 0.3


@pytest.mark.parametrize("mode", ["transpose", "resize_conv", "subpixel"])
def test_every_mode_doubles_height_and_width(mode):
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, upsample(inputs, 5, mode, name="up"))
    assert numpy(model(np.zeros((2, 4, 6, 3), "float32"))).shape == (2, 8, 12, 5)
    assert model.get_layer("up_conv") is not None  # the conv keeps its pre-existing name


def test_unknown_mode_names_the_choices():
    with pytest.raises(ValueError, match="unknown upsample 'bicubic'; choose one of"):
        upsample(keras.Input((4, 4, 1)), 2, "bicubic")


def test_subpixel_config_round_trips():
    layer = SubpixelUpsampling(6, kernel_size=5, scale=3, use_bias=False, icnr=False, name="shuffle")
    config = layer.get_config()
    assert SubpixelUpsampling.from_config(config).get_config() == config
    assert numpy(layer(np.zeros((1, 2, 3, 4), "float32"))).shape == (1, 6, 9, 6)
    assert layer.compute_output_shape((None, None, 3, 4)) == (None, None, 9, 6)


def test_bilinear_upsampling_is_keras_bilinear_resize_by_hand():
    from cig_k3.layers import BilinearUpsampling

    # One row by the definition: half-pixel centres, edges clamped.
    row = np.array([0.0, 4.0, 8.0], "float32").reshape(1, 1, 3, 1)
    out = numpy(BilinearUpsampling()(row))[0, 0, :, 0]
    np.testing.assert_allclose(out, [0.0, 1.0, 3.0, 5.0, 7.0, 8.0])
    # An odd-sized batch against Keras' own bilinear resize (the layer this one replaced).
    x = np.random.default_rng(3).normal(size=(2, 5, 7, 3)).astype("float32")
    expected = numpy(keras.layers.UpSampling2D(2, interpolation="bilinear")(x))
    np.testing.assert_allclose(numpy(BilinearUpsampling()(x)), expected, atol=1e-5)
