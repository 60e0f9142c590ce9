"""Adversarial losses for both players, in one place, as SPADE's `GANLoss`.

The discriminator's side always goes through the Keras loss it is compiled with
(`AdversarialLoss.compile(discriminator)`), computed by `discriminator.compute_loss` against
all-real (1) or all-fake (0) targets: the same code on every backend. The generator's side
is written here in keras.ops.

| mode        | discriminator compiled with               | generator term            |
|-------------|-------------------------------------------|---------------------------|
| lsgan       | "mse" (targets 1 real / 0 fake)           | mse(D(fake), 1)           |
| bce         | BinaryCrossentropy(from_logits=True)      | bce(D(fake), 1)           |
| hinge       | "hinge" (Keras maps 0/1 targets to -1/+1) | -mean(D(fake))            |
| wasserstein | `WassersteinLoss`: -mean(D) real, +mean(D) fake | -mean(D(fake))      |

The Wasserstein critic needs a Lipschitz constraint besides its loss: the gradient penalty
of `cig_k3.losses.gradient_penalty`, which the WGAN-GP GAN adds. "wgan-gp", the name older
configs gave this mode, still reads as "wasserstein".

References: Mao et al., LSGAN, ICCV 2017; Goodfellow et al., NeurIPS 2014; Lim & Ye,
Geometric GAN, 2017 (hinge); Arjovsky et al., WGAN, ICML 2017; Park et al., SPADE, CVPR 2019
(GANLoss).
"""

import keras
from keras import ops

ADVERSARIAL_LOSSES = ("lsgan", "bce", "hinge", "wasserstein")
# Names that configs and model files written before this module still hold.
ALIASES = {"wgan-gp": "wasserstein"}


def canonical(name):
    """The mode `name` stands for (an alias read as its mode); ValueError for an unknown one."""
    mode = ALIASES.get(name, name)
    if mode not in ADVERSARIAL_LOSSES:
        raise ValueError(f"unknown adversarial loss {name!r}; choose one of {ADVERSARIAL_LOSSES}")
    return mode


@keras.saving.register_keras_serializable(package="cig_k3")
class WassersteinLoss(keras.losses.Loss):
    """The critic's side of the Wasserstein loss as a Keras loss: -score for real targets
    (1), +score for fake ones (0), so that compute_loss(real) + compute_loss(fake) is
    E[f(fake)] - E[f(real)], what the critic minimises (WGAN, eq. 3).

    Example:
        >>> critic.compile(loss=WassersteinLoss())
    """

    def __init__(self, name="wasserstein", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        y_pred = ops.convert_to_tensor(y_pred)
        sign = 1.0 - 2.0 * ops.cast(y_true, y_pred.dtype)  # real (1) -> -1, fake (0) -> +1
        return sign * y_pred


def discriminator_loss(name):
    """The Keras loss to compile a discriminator with for adversarial mode `name`."""
    mode = canonical(name)
    if mode == "lsgan":
        return "mse"
    if mode == "bce":
        return keras.losses.BinaryCrossentropy(from_logits=True)
    if mode == "hinge":
        return "hinge"
    return WassersteinLoss()


class AdversarialLoss:
    """One adversarial mode for the discriminator and the generator.

    Args:
        mode: "lsgan", "bce", "hinge" or "wasserstein" (see the module's table).

    Example:
        >>> loss = AdversarialLoss("hinge")
        >>> loss.compile(discriminator)
        >>> d_real = loss.discriminator_term(discriminator, discriminator(real), real=True)
        >>> g_adv = loss.generator_term(discriminator, discriminator(fake))

    Reference: Park et al., SPADE, CVPR 2019 (`GANLoss`, one object for every mode).
    """

    def __init__(self, mode):
        self.mode = canonical(mode)

    def compile(self, discriminator):
        """Compile `discriminator` with this mode's loss, and build that loss eagerly, outside
        any traced step."""
        discriminator.compile(loss=discriminator_loss(self.mode))
        discriminator.compute_loss(y=ops.ones((1, 2, 2, 1)), y_pred=ops.zeros((1, 2, 2, 1)))

    def discriminator_term(self, discriminator, logits, real):
        """The discriminator's loss on `logits`, labelled real (True) or fake (False), through
        its compiled loss."""
        if not getattr(discriminator, "compiled", False):
            raise RuntimeError(f"discriminator {discriminator.name!r} is not compiled with its adversarial loss: "
                               "call the GAN's compile() (or AdversarialLoss.compile) first")
        targets = ops.ones_like(logits) if real else ops.zeros_like(logits)
        return discriminator.compute_loss(y=targets, y_pred=logits)

    def generator_term(self, discriminator, fake_logits):
        """The generator's adversarial term for the discriminator's logits on its images."""
        if self.mode in ("hinge", "wasserstein"):
            return -ops.mean(ops.cast(fake_logits, "float32"))
        # LSGAN and BCE: the generator wants its images called real, through the same
        # compiled loss the discriminator is trained with (the non-saturating form).
        return self.discriminator_term(discriminator, fake_logits, real=True)
