"""Adversarial losses. The discriminator's side goes through its compiled Keras loss; the
generator's side is written here in keras.ops.

| name  | discriminator compiled with                 | generator term           |
|-------|---------------------------------------------|--------------------------|
| lsgan | "mse" (targets 1 real / 0 fake)             | mse(D(fake), 1)          |
| bce   | BinaryCrossentropy(from_logits=True)        | bce(D(fake), 1)          |
| hinge | "hinge" (Keras maps 0/1 targets to -1/+1)   | -mean(D(fake))           |

References: Mao et al., LSGAN, ICCV 2017; Goodfellow et al. 2014; Lim & Ye, Geometric GAN 2017.
"""

import keras
from keras import ops

ADVERSARIAL_LOSSES = ("lsgan", "bce", "hinge")


def discriminator_loss(name):
    """The loss to compile the discriminator with, for `discriminator.compile(loss=...)`."""
    if name == "lsgan":
        return "mse"
    if name == "bce":
        return keras.losses.BinaryCrossentropy(from_logits=True)
    if name == "hinge":
        return "hinge"
    raise ValueError(f"unknown adversarial loss {name!r}; choose one of {ADVERSARIAL_LOSSES}")


def real_targets(logits):
    return ops.ones_like(logits)


def fake_targets(logits):
    return ops.zeros_like(logits)


def generator_adversarial(name, discriminator, fake_logits):
    """The generator's adversarial term for logits of D on generated images."""
    if name == "hinge":
        return -ops.mean(fake_logits)
    # LSGAN and BCE: the generator wants D to call its images real, through the same
    # compiled loss the discriminator is trained with.
    return discriminator.compute_loss(y=real_targets(fake_logits), y_pred=fake_logits)
