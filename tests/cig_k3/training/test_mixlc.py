"""MixLCGAN: auxiliary cross-entropy, style, identity by hand; VGG from a file; tiny fit."""

import math

import keras
import numpy as np
import pytest

from cig_k3.training.gans import MixLCGAN
from cig_k3.training.gans.mixlc import auxiliary_cross_entropy
from tests.cig_k3.training.systems_tiny import fit_and_check
from tests.cig_k3.training.test_losses import numbers

RNG = np.random.default_rng(0)
LABEL = np.eye(3, dtype="float32")[RNG.integers(0, 3, (1, 2, 2))]
RAW = RNG.uniform(-1, 1, (1, 2, 2, 1)).astype("float32")
TARGET = RNG.uniform(-1, 1, (1, 2, 2, 1)).astype("float32")


class HalfGenerator(keras.Model):
    """G(label, raw) = raw / 2."""

    out_channels = 1

    def call(self, condition, training=False):
        return 0.5 * condition["raw"]


def stub_discriminator():
    """patch logits = the image; class logits = 0 (uniform); features = [the image]."""
    label, image = keras.Input((None, None, 3)), keras.Input((None, None, 1))
    classes = keras.layers.Conv2D(3, 1, kernel_initializer="zeros", bias_initializer="zeros")(image)
    model = keras.Model([label, image], {"patch": keras.layers.Identity()(image), "classes": classes,
                                         "features": [keras.layers.Identity()(image)]})
    model.compile(loss="mse")
    return model


def numpy_style(a, b):
    def gram(x):
        flat = x.reshape(x.shape[0], -1, x.shape[-1])
        return np.einsum("npc,npd->ncd", flat, flat) / flat[0].size

    return np.mean(np.sum((gram(a) - gram(b)) ** 2, axis=(1, 2)))


def test_auxiliary_cross_entropy_by_hand():
    logits = np.zeros((1, 2, 2, 3), "float32")
    assert float(auxiliary_cross_entropy(LABEL, logits)) == pytest.approx(math.log(3), rel=1e-6)
    logits[..., 0] = math.log(2.0)  # p(class 0) = 2/4
    expected = np.mean(np.where(LABEL[..., 0] == 1, -math.log(0.5), -math.log(0.25)))
    assert float(auxiliary_cross_entropy(LABEL, logits)) == pytest.approx(expected, rel=1e-6)


def test_generator_and_discriminator_losses_by_hand():
    gan = MixLCGAN(HalfGenerator(), stub_discriminator())
    assert gan.feature_network == "discriminator"
    tensor = keras.ops.convert_to_tensor
    condition = {"label": tensor(LABEL), "raw": tensor(RAW)}
    g, fake = gan.generator_losses((condition, tensor(TARGET)))
    g = numbers(g)
    fake = 0.5 * RAW
    adv, l1, style = np.mean((fake - 1) ** 2), np.mean(np.abs(TARGET - fake)), numpy_style(fake, TARGET)
    identity = 0.5 * np.mean(np.abs(TARGET - 0.5 * TARGET)) + 0.45 * numpy_style(0.5 * TARGET, TARGET)
    expected = {"g_adv": adv, "g_l1": l1, "g_style": style, "g_aux": math.log(3), "g_identity": identity}
    for name, value in expected.items():
        assert g[name] == pytest.approx(value, rel=1e-5), name
    total = 0.05 * adv + 0.5 * l1 + 0.45 * style + math.log(3) + identity
    assert g["g_total"] == pytest.approx(total, rel=1e-5)

    d, _ = gan.discriminator_losses((condition, tensor(TARGET)), tensor(fake))
    d = numbers(d)
    real, fake_term = np.mean((TARGET - 1) ** 2), np.mean(fake**2)
    assert d["d_aux"] == pytest.approx(math.log(3), rel=1e-5)
    assert d["d_loss"] == pytest.approx(0.5 * (real + fake_term) + math.log(3), rel=1e-5)


def test_style_uses_vgg16_from_a_weights_file(tmp_path):
    source = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    path = tmp_path / "vgg16.weights.h5"
    source.save_weights(path)
    gan = MixLCGAN(HalfGenerator(), stub_discriminator(), vgg_weights=str(path))
    assert gan.feature_network == f"vgg16:{path}"
    images = RNG.uniform(-1, 1, (1, 8, 8, 1)).astype("float32")
    other = RNG.uniform(-1, 1, (1, 8, 8, 1)).astype("float32")
    value = float(gan.style_loss(None, images, other, training=False))
    a, b = (keras.ops.convert_to_numpy(gan.vgg(x)) for x in (images, other))
    assert value == pytest.approx(numpy_style(a, b), rel=1e-4)


def test_preset_fits_on_mixing_batches(synthetic_shards, tmp_path):
    fit_and_check("mixlc", synthetic_shards, tmp_path, ["g_style", "g_aux", "g_identity", "d_aux"])
