"""Strided and transposed convolutions by phases equal Keras' own, values and gradients, and
keep Keras' weights and saved-file layout."""

import json
import zipfile

import h5py
import keras
import numpy as np
import pytest

from cig_k3.layers import phase_conv
from cig_k3.layers.phase_conv import Conv2D, Conv2DTranspose
from cig_k3.layers.pixel_shuffle import depth_to_space, space_to_depth
from cig_k3.training.backend import step_module


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def outputs_and_gradients(layer, x, cotangent):
    """layer(x), and the gradients of sum(layer(x) * cotangent) w.r.t. x and the kernel,
    through the backend's own differentiation (the GAN's `input_gradient`)."""
    input_gradient = step_module().input_gradient
    trainable = [keras.ops.convert_to_tensor(v.value) for v in layer.trainable_variables]
    cotangent = keras.ops.convert_to_tensor(cotangent)

    def weighted_sum(kernel, inputs):
        outputs, _ = layer.stateless_call([kernel, *trainable[1:]], [], inputs)
        return keras.ops.sum(outputs * cotangent)

    x = keras.ops.convert_to_tensor(x)
    outputs = layer(x)
    input_grad = input_gradient(lambda inputs: weighted_sum(trainable[0], inputs), x)
    kernel_grad = input_gradient(lambda kernel: weighted_sum(kernel, x), trainable[0])
    return numpy(outputs), numpy(input_grad), numpy(kernel_grad)


def assert_phases_equal_keras(layer_class, keras_class, input_shape, filters, seed=0, **kwargs):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, input_shape).astype("float32")
    reference = keras_class(filters, 4, strides=2, **kwargs)
    expected_shape = reference.compute_output_shape(input_shape)
    reference.build(input_shape)
    # Non-zero biases, so that their placement is checked too.
    reference.set_weights([rng.normal(size=w.shape).astype("float32") for w in reference.get_weights()])
    phases = layer_class(filters, 4, strides=2, implementation="phases", **kwargs)
    phases.build(input_shape)
    phases.set_weights(reference.get_weights())
    assert [tuple(v.shape) for v in phases.weights] == [tuple(v.shape) for v in reference.weights]
    cotangent = rng.normal(size=expected_shape).astype("float32")
    got = outputs_and_gradients(phases, x, cotangent)
    want = outputs_and_gradients(reference, x, cotangent)
    assert got[0].shape == tuple(expected_shape)
    for name, value, target in zip(("output", "input gradient", "kernel gradient"), got, want):
        assert np.abs(target).max() > 0.1, name  # a real comparison, not of zeros
        np.testing.assert_allclose(value, target, atol=1e-5, rtol=1e-5, err_msg=name)


def test_space_to_depth_by_hand_and_inverse_of_depth_to_space():
    # A 2x2 image of 2 channels: pixel (i, j, c) goes to channel (i * 2 + j) * 2 + c.
    x = np.arange(8, dtype="float32").reshape(1, 2, 2, 2)
    np.testing.assert_array_equal(numpy(space_to_depth(x, 2))[0, 0, 0], [0, 1, 2, 3, 4, 5, 6, 7])
    x = np.random.default_rng(0).normal(size=(2, 6, 4, 3)).astype("float32")
    blocks = numpy(space_to_depth(x, 2))
    assert blocks.shape == (2, 3, 2, 12)
    np.testing.assert_array_equal(blocks[:, :, :, 3:6], x[:, ::2, 1::2, :])  # phase (0, 1)
    np.testing.assert_array_equal(numpy(depth_to_space(blocks, 2)), x)


@pytest.mark.parametrize("input_shape, filters, padding, use_bias", [
    ((2, 8, 8, 3), 5, "same", True),     # the U-Net's and PatchGAN's "same"
    ((2, 6, 10, 1), 2, "same", False),   # one input channel (the image), no bias (before norm)
    ((1, 7, 9, 4), 3, "same", True),     # odd sizes: Keras pads one more pixel at the end
    ((2, 10, 8, 3), 4, "valid", True),   # PatchGAN "pix2pix" (padding outside the layer)
    ((1, 9, 7, 2), 3, "valid", False),   # odd: the last pixel is never read
])
def test_strided_convolution_equals_keras(input_shape, filters, padding, use_bias):
    assert_phases_equal_keras(Conv2D, keras.layers.Conv2D, input_shape, filters, padding=padding, use_bias=use_bias)


@pytest.mark.parametrize("input_shape, filters, padding, use_bias", [
    ((2, 4, 4, 3), 5, "same", True),     # the U-Net's up-convolutions
    ((2, 1, 1, 6), 4, "same", False),    # the innermost block of a U-Net (1x1 input)
    ((1, 3, 5, 2), 1, "same", True),     # odd sizes, one output channel (the image)
    ((2, 4, 3, 3), 2, "valid", True),
])
def test_transposed_convolution_equals_keras(input_shape, filters, padding, use_bias):
    assert_phases_equal_keras(Conv2DTranspose, keras.layers.Conv2DTranspose, input_shape, filters,
                              padding=padding, use_bias=use_bias)


def test_auto_follows_the_backend_table_and_other_shapes_use_keras(monkeypatch):
    backend = keras.backend.backend()
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (1, 6, 6, 2)).astype("float32")
    layer = Conv2D(3, 4, strides=2, padding="same")
    layer.build(x.shape)
    calls = []
    monkeypatch.setattr(phase_conv, "space_to_depth", lambda *args: calls.append(args) or space_to_depth(*args))
    monkeypatch.setitem(phase_conv.PHASES_BY_DEFAULT, backend, False)
    off = numpy(layer(x))
    assert calls == []
    monkeypatch.setitem(phase_conv.PHASES_BY_DEFAULT, backend, True)
    on = numpy(layer(x))
    assert len(calls) == 1
    np.testing.assert_allclose(on, off, atol=1e-5)
    # Stride 1 (PatchGAN's last blocks) and 3x3 stride 2 are Keras' convolution, even when asked.
    for kernel_size, strides in ((4, 1), (3, 2)):
        Conv2D(3, kernel_size, strides=strides, padding="same", implementation="phases")(x)
    assert len(calls) == 1
    with pytest.raises(ValueError, match="phase_conv.py"):
        Conv2DTranspose(3, 4, strides=2, implementation="fast")


def test_config_round_trip_and_keras_names():
    layer = Conv2DTranspose(3, 4, strides=2, padding="same", implementation="keras", name="up0_conv")
    config = keras.saving.serialize_keras_object(layer)
    assert config["registered_name"] == "cig_k3>Conv2DTranspose"
    restored = keras.saving.deserialize_keras_object(config)
    assert type(restored) is Conv2DTranspose and restored.implementation == "keras"
    assert restored.get_config() == layer.get_config()
    # Keras names a saved model's weights after the class: these must read as Keras' own.
    assert (Conv2D.__name__, Conv2DTranspose.__name__) == ("Conv2D", "Conv2DTranspose")


def test_a_saved_patchgan_keeps_keras_weight_paths_and_loads_back(tmp_path):
    from cig_k3.models import PatchGANDiscriminator

    model = PatchGANDiscriminator(2, 1, base_filters=4, num_downsamples=2, padding="pix2pix")
    rng = np.random.default_rng(2)
    inputs = [rng.uniform(-1, 1, (1, 16, 16, channels)).astype("float32") for channels in (2, 1)]
    path = tmp_path / "patchgan.keras"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        assert json.loads(archive.read("config.json"))["class_name"] == "PatchGANDiscriminator"
        archive.extract("model.weights.h5", tmp_path)
    with h5py.File(tmp_path / "model.weights.h5") as weights:
        layer_names = sorted(weights["layers"].keys())
    # The four convolutions are stored as plain Keras ones would be (older files load into them).
    assert [name for name in layer_names if name.startswith("conv2d")] == ["conv2d", "conv2d_1", "conv2d_2", "conv2d_3"]
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(numpy(loaded(inputs, training=False)), numpy(model(inputs, training=False)), atol=1e-5)
