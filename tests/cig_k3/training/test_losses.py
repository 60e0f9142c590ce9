"""Pix2PixGAN's loss dicts on hand-made inputs. The discriminator is a fixed 1x1 convolution
that returns the image channel of its input as logits, so every number can be checked by
hand (each adversarial mode alone: tests/cig_k3/losses/test_adversarial.py)."""

import keras
import numpy as np
import pytest

from cig_k3.losses import discriminator_loss
from cig_k3.training.gans import Pix2PixGAN


def identity_discriminator(adversarial):
    condition = keras.Input((None, None, 1))
    image = keras.Input((None, None, 1))
    pair = keras.layers.Concatenate()([condition, image])
    conv = keras.layers.Conv2D(1, 1, use_bias=False)
    model = keras.Model([condition, image], conv(pair))
    conv.set_weights([np.array([0.0, 1.0], "float32").reshape(1, 1, 2, 1)])
    model.compile(loss=discriminator_loss(adversarial))
    return model


class ConstantGenerator(keras.Model):
    """Returns the condition itself: fake == condition."""

    def call(self, condition, training=False):
        return condition


def numbers(values):
    return {k: float(keras.ops.convert_to_numpy(v)) for k, v in values.items()}


CONDITION = np.zeros((1, 2, 2, 1), "float32")
TARGET = np.array([0.5, -1.0, 2.0, 0.0], "float32").reshape(1, 2, 2, 1)
FAKE = np.array([0.0, 1.0, -0.5, 0.5], "float32").reshape(1, 2, 2, 1)


def sigmoid_bce(logits, label):
    return np.mean(np.log1p(np.exp(-logits)) if label else np.log1p(np.exp(logits)))


@pytest.mark.parametrize("adversarial", ["lsgan", "bce", "hinge"])
def test_discriminator_losses_by_hand(adversarial):
    gan = Pix2PixGAN(ConstantGenerator(), identity_discriminator(adversarial), adversarial=adversarial)
    condition, target, fake = [keras.ops.convert_to_tensor(x) for x in (CONDITION, TARGET, FAKE)]
    losses, carry = gan.discriminator_losses((condition, target), fake)
    assert carry is fake  # the fake goes on to a next phase unchanged
    losses = numbers(losses)
    if adversarial == "lsgan":
        real, fake = np.mean((TARGET - 1) ** 2), np.mean(FAKE**2)
    elif adversarial == "bce":
        real, fake = sigmoid_bce(TARGET, 1), sigmoid_bce(FAKE, 0)
    else:
        real, fake = np.mean(np.maximum(1 - TARGET, 0)), np.mean(np.maximum(1 + FAKE, 0))
    assert losses["d_real"] == pytest.approx(real, rel=1e-5)
    assert losses["d_fake"] == pytest.approx(fake, rel=1e-5)
    assert losses["d_loss"] == pytest.approx(0.5 * (real + fake), rel=1e-5)


@pytest.mark.parametrize("adversarial", ["lsgan", "bce", "hinge"])
def test_generator_losses_by_hand(adversarial):
    gan = Pix2PixGAN(ConstantGenerator(), identity_discriminator(adversarial), adversarial=adversarial,
                     l1_weight=100.0)
    condition = keras.ops.convert_to_tensor(FAKE)  # the constant generator returns its condition
    losses, fake = gan.generator_losses((condition, keras.ops.convert_to_tensor(TARGET)))
    losses = numbers(losses)
    # D sees concat([condition, fake]) and returns the fake channel.
    if adversarial == "lsgan":
        adv = np.mean((FAKE - 1) ** 2)
    elif adversarial == "bce":
        adv = sigmoid_bce(FAKE, 1)
    else:
        adv = -np.mean(FAKE)
    l1 = np.mean(np.abs(TARGET - FAKE))
    assert losses["g_adv"] == pytest.approx(adv, rel=1e-5)
    assert losses["g_l1"] == pytest.approx(l1, rel=1e-6)
    assert losses["g_total"] == pytest.approx(adv + 100.0 * l1, rel=1e-5)

