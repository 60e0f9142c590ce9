"""The conditional GAN trainer: one `keras.Model` whose losses are written once in keras.ops.

The gradient mechanics live in three small files, `_tensorflow.py`, `_jax.py` and
`_torch.py`, the way Keras keeps its own trainers apart. Each runs the model's `phases()`
in order: a `Phase` names the sub-models it updates, the optimiser that updates them, the
loss to minimise and a function `loss(batch, carry) -> (losses, carry)`; the carry (e.g. the
fake images) is passed on, detached, to the next phase. ConditionalGAN has two phases:

1. generator step: fake = G(condition); losses from `generator_losses`; update G;
2. discriminator step on the same (detached) fake and the discriminator of step 1;
   losses from `discriminator_losses`, which go through the discriminator's compiled loss
   (`discriminator.compile(loss="mse")` for LSGAN) via `discriminator.compute_loss`; update D.

Both updates use the networks as they were at the start of the step, i.e. simultaneous
gradient descent as in the TensorFlow pix2pix tutorial, and G runs forward once per step.
Subclasses for other systems (attention, MixLC, Pix2PixHD, ...) override the two loss
methods and `loss_names`; losses are returned as named dicts and logged by name.
"""

import dataclasses
from typing import Callable

import keras
from keras import ops

from cig_k3.evaluation import metrics as image_metrics
from cig_k3.losses import adversarial
from cig_k3.training import backend
from cig_k3.training.optimizer import GANOptimizer


@dataclasses.dataclass(frozen=True)
class Phase:
    """One gradient update of a GAN step, as the per-backend step files run it.

    Args:
        name: for messages ("generator", "critic", ...).
        owners: the sub-models whose trainable variables this phase updates.
        optimizer: the key of the optimiser in the model's GANOptimizer.
        loss_name: the entry of the losses dict that is minimised.
        loss: `loss(batch, carry) -> (losses, carry)`; batch is (condition, target) and carry
            whatever the previous phase returned (None for the first), detached.
        repeat: updates in a row (WGAN-GP's n_critic); each gets the carry of the last.
    """

    name: str
    owners: tuple
    optimizer: str
    loss_name: str
    loss: Callable
    repeat: int = 1

    @property
    def variables(self):
        return [v for owner in self.owners for v in owner.trainable_variables]


class PhasedGAN(keras.Model):
    """What every CIG GAN shares: loss and validation trackers, named optimisers in one
    GANOptimizer, and the per-backend step that runs `phases()`.

    Subclasses define `phases()`, `loss_names`, `validation_names`, `validation_metrics` and,
    when they are not "generator" and "discriminator", which sub-models each optimiser
    updates (`optimizer_owners`: optimiser name -> attribute names).
    """

    loss_names = ()
    validation_names = ()
    optimizer_owners = {"generator": ("generator",), "discriminator": ("discriminator",)}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.loss_names}
        self.validation_trackers = {name: keras.metrics.Mean(name=name) for name in self.validation_names}
        self._step = backend.step_module()

    def owners(self, optimizer):
        return tuple(getattr(self, name) for name in self.optimizer_owners[optimizer])

    def compile(self, generator_optimizer, discriminator_optimizer, **kwargs):
        """Both optimisers in one container, each built on the variables it updates."""
        optimizer = GANOptimizer({"generator": generator_optimizer, "discriminator": discriminator_optimizer})
        optimizer.build_for({
            name: [v for owner in self.owners(name) for v in owner.trainable_variables]
            for name in self.optimizer_owners
        })
        super().compile(optimizer=optimizer, **kwargs)

    @property
    def generator_optimizer(self):
        return self.optimizer["generator"]

    @property
    def discriminator_optimizer(self):
        return self.optimizer["discriminator"]

    @property
    def metrics(self):
        return [*self.trackers.values(), *self.validation_trackers.values()]

    def train_step(self, *args):
        return backend.train_step(self._step, self, *args)

    def test_step(self, *args):
        return backend.test_step(self._step, self, *args)

    def phases(self):
        raise NotImplementedError

    def display_outputs(self, condition):
        """Extra named (N, H, W, C) outputs for sample grids (e.g. attention masks)."""
        return []

    def update_trackers(self, values, trackers=None):
        trackers = self.trackers if trackers is None else trackers
        for name, tracker in trackers.items():
            tracker.update_state(values[name])
        return {name: tracker.result() for name, tracker in trackers.items()}


class ConditionalGAN(PhasedGAN):
    """Generator + discriminator trained together with `fit` on any Keras backend.

    Args:
        generator: maps a condition batch to an image batch in [-1, 1].
        discriminator: maps [condition, image] to real/fake logits.
        adversarial: "lsgan" (default, discriminator compiled with "mse"), "bce" or "hinge".
        l1_weight: gamma in  g_total = g_adv + gamma * MAE(fake, target)  (seed 000: 100).

    Example:
        >>> gan = ConditionalGAN(UNetGenerator(3, 1, 8, 3), PatchGANDiscriminator(3, 1, 8, 3))
        >>> gan.compile(keras.optimizers.Adam(2e-4, 0.5), keras.optimizers.Adam(2e-4, 0.5))
        >>> gan.fit(batches, steps_per_epoch=10)

    Reference: Isola et al., "Image-to-Image Translation with Conditional Adversarial
    Networks", CVPR 2017.
    """

    loss_names = ("d_loss", "d_real", "d_fake", "g_adv", "g_l1", "g_total")
    validation_names = ("l1", "psnr", "ssim")

    def __init__(self, generator, discriminator, adversarial="lsgan", l1_weight=100.0, **kwargs):
        super().__init__(**kwargs)
        if adversarial not in adversarial_losses():
            raise ValueError(f"unknown adversarial loss {adversarial!r}; choose one of {adversarial_losses()}")
        self.generator = generator
        self.discriminator = discriminator
        self.adversarial = adversarial
        self.l1_weight = float(l1_weight)
        self.built = True  # both networks are functional models, built at construction

    # -- Keras plumbing -------------------------------------------------------------------
    def call(self, condition, training=False):
        return self.generator(condition, training=training)

    def compile(self, generator_optimizer, discriminator_optimizer, discriminator_loss=None, **kwargs):
        """Compile D with its own loss, and the GAN with both optimisers in one container."""
        self.discriminator.compile(loss=discriminator_loss or adversarial.discriminator_loss(self.adversarial))
        # Build the compiled loss eagerly, outside any traced step.
        self.discriminator.compute_loss(y=ops.ones((1, 2, 2, 1)), y_pred=ops.zeros((1, 2, 2, 1)))
        super().compile(generator_optimizer, discriminator_optimizer, **kwargs)

    def phases(self):
        """G on a fresh fake, then D on that fake (detached): see the module docstring."""
        return [
            Phase("generator", (self.generator,), "generator", "g_total",
                  lambda batch, carry: self.generator_losses(*batch, training=True)),
            Phase("discriminator", (self.discriminator,), "discriminator", "d_loss",
                  lambda batch, fake: (self.discriminator_losses(*batch, fake, training=True), fake)),
        ]

    # -- The losses, once, in keras.ops -----------------------------------------------------
    def generator_losses(self, condition, target, training=True):
        """Return ({"g_adv", "g_l1", "g_total"}, fake)."""
        fake = self.generator(condition, training=training)
        fake_logits = self.discriminator([condition, fake], training=training)
        g_adv = adversarial.generator_adversarial(self.adversarial, self.discriminator, fake_logits)
        g_l1 = ops.mean(ops.abs(ops.cast(target, fake.dtype) - fake))
        return {"g_adv": g_adv, "g_l1": g_l1, "g_total": g_adv + self.l1_weight * g_l1}, fake

    def discriminator_losses(self, condition, target, fake, training=True):
        """Return {"d_real", "d_fake", "d_loss"} through the discriminator's compiled loss."""
        real_logits = self.discriminator([condition, target], training=training)
        fake_logits = self.discriminator([condition, fake], training=training)
        d_real = self.discriminator.compute_loss(y=adversarial.real_targets(real_logits), y_pred=real_logits)
        d_fake = self.discriminator.compute_loss(y=adversarial.fake_targets(fake_logits), y_pred=fake_logits)
        # Halved as in pix2pix, to slow D relative to G.
        return {"d_real": d_real, "d_fake": d_fake, "d_loss": 0.5 * (d_real + d_fake)}

    def validation_metrics(self, condition, target):
        fake = self.generator(condition, training=False)
        target = ops.cast(target, fake.dtype)
        return {
            "l1": ops.mean(ops.abs(target - fake)),
            "psnr": ops.mean(image_metrics.psnr(target, fake)),
            "ssim": ops.mean(image_metrics.ssim(target, fake)),
        }

    # -- Saving -----------------------------------------------------------------------------
    def get_config(self):
        return {
            "name": self.name,
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "adversarial": self.adversarial,
            "l1_weight": self.l1_weight,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        generator = keras.saving.deserialize_keras_object(config.pop("generator"), custom_objects=custom_objects)
        discriminator = keras.saving.deserialize_keras_object(config.pop("discriminator"), custom_objects=custom_objects)
        return cls(generator, discriminator, **config)


def adversarial_losses():
    return adversarial.ADVERSARIAL_LOSSES

