"""DCGAN: noise -> image, trained on unconditional field crops (the data's condition is ignored)."""

import keras
from keras import ops

from cig_k3.training.families.base import GANFamily, adversarial_term, intensity_gap
from cig_k3.training.gan import Phase


class DCGAN(GANFamily):
    """Generator G(z) and discriminator D(x) trained with the non-saturating GAN loss.

    Each step updates G on fresh noise, then D on real crops and the same (detached) fakes.
    D returns logits; sigmoid(D(x)) is the probability that x is real, and the losses are
    binary cross-entropy from logits ("bce", default) or least squares ("lsgan").
    z ~ N(0, I) is drawn from `noise_seed`, a SeedGenerator owned by this model.

    Args:
        generator: a noise-to-image model with `latent_dim` (e.g. `DCGANGenerator`).
        discriminator: image -> one logit per image (e.g. `DCGANDiscriminator`).
        adversarial: "bce" or "lsgan".
        seed: seed of the noise SeedGenerator.

    Example:
        >>> gan = DCGAN(DCGANGenerator(16, image_size=32, base_filters=8), DCGANDiscriminator(image_size=32))
        >>> gan.compile(keras.optimizers.Adam(2e-4, 0.5), keras.optimizers.Adam(2e-4, 0.5))
        >>> images = gan.sample(8, seed=0)

    Reference: Radford et al., ICLR 2016; Goodfellow et al., NeurIPS 2014 (non-saturating loss).
    """

    loss_names = ("d_loss", "d_real", "d_fake", "g_loss")
    validation_names = ("real_probability", "fake_probability", "intensity_gap")

    def __init__(self, generator, discriminator, adversarial="bce", seed=0, **kwargs):
        adversarial_term(adversarial, ops.zeros((1,)), True)  # fails loudly on an unknown name
        super().__init__(seed=seed, **kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.adversarial = adversarial
        self.latent_dim = int(generator.latent_dim)
        self.built = True

    @classmethod
    def from_train_config(cls, config, condition_channels, target_channels, **extra):
        from cig_k3.models import build_discriminator, build_generator

        model = config.model
        generator = build_generator(model.generator, out_channels=target_channels, image_size=config.data.crop,
                                    **model.generator_args, **extra.pop("generator_extra", {}))
        discriminator = build_discriminator(model.discriminator, image_channels=target_channels,
                                            image_size=config.data.crop, **model.discriminator_args,
                                            **extra.pop("discriminator_extra", {}))
        return cls(generator, discriminator, adversarial=config.loss.adversarial, seed=config.seed,
                   **config.loss.extra, **extra)

    # -- Hooks that the conditional and bidirectional families override --------------------
    def noise(self, count, seed=None):
        return keras.random.normal((count, self.latent_dim), seed=self.noise_seed if seed is None else seed)

    def class_of(self, condition):
        """The generator's and D's extra input derived from the batch's condition (none here)."""
        return None

    def generate(self, noise, label=None, training=False):
        return self.generator(noise if label is None else [noise, label], training=training)

    def judge(self, images, label=None, training=False):
        images = ops.convert_to_tensor(images)
        return self.discriminator(images if label is None else [images, label], training=training)

    # -- The step ---------------------------------------------------------------------------
    def call(self, noise, training=False):
        return self.generator(noise, training=training)

    def phases(self):
        return [
            Phase("generator", self.owners("generator"), "generator", "g_loss", self.generator_losses),
            Phase("discriminator", self.owners("discriminator"), "discriminator", "d_loss",
                  self.discriminator_losses),
        ]

    def generator_losses(self, batch, carry=None):
        condition, real = batch
        label = self.class_of(condition)
        fake = self.generate(self.noise(ops.shape(real)[0]), label, training=True)
        fake_logits = self.judge(fake, label, training=True)
        return {"g_loss": adversarial_term(self.adversarial, fake_logits, real=True)}, fake

    def discriminator_losses(self, batch, fake):
        condition, real = batch
        label = self.class_of(condition)
        d_real = adversarial_term(self.adversarial, self.judge(real, label, training=True), real=True)
        d_fake = adversarial_term(self.adversarial, self.judge(fake, label, training=True), real=False)
        return {"d_real": d_real, "d_fake": d_fake, "d_loss": d_real + d_fake}, fake

    # -- Evaluation and display ---------------------------------------------------------------
    def sample(self, count, seed=0):
        """`count` images from noise drawn with an integer seed (reproducible, no state change)."""
        return self.generate(self.noise(count, seed=seed), training=False)

    def validation_metrics(self, condition, target):
        label = self.class_of(condition)
        # A fixed seed: the same noise at every validation, so the figures are comparable.
        fake = self.generate(self.noise(ops.shape(target)[0], seed=1234), label, training=False)
        return {
            "real_probability": ops.mean(ops.sigmoid(self.judge(target, label))),
            "fake_probability": ops.mean(ops.sigmoid(self.judge(fake, label))),
            "intensity_gap": intensity_gap(target, fake),
        }

    def grid_columns(self, condition, target):
        count = target.shape[0]
        return [(f"sample {k + 1}", ops.convert_to_numpy(self.sample(count, seed=k))) for k in range(3)]

    # -- Saving -----------------------------------------------------------------------------
    def get_config(self):
        return {
            "name": self.name,
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "adversarial": self.adversarial,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("generator", "discriminator", "encoder"):
            if key in config:
                config[key] = keras.saving.deserialize_keras_object(config[key], custom_objects=custom_objects)
        return cls(**config)
