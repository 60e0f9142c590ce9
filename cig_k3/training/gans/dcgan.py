"""DCGAN: noise -> image, trained on unconditional field crops (the data's condition is ignored)."""

import keras
from keras import ops

from cig_k3.training.gan import GAN, Phase


def intensity_gap(real, fake):
    """|mean difference| + |std difference| of pixel values: a crude distribution check."""
    real = ops.cast(real, "float32")
    fake = ops.cast(fake, "float32")
    return ops.abs(ops.mean(real) - ops.mean(fake)) + ops.abs(ops.std(real) - ops.std(fake))


@keras.saving.register_keras_serializable(package="cig_k3")
class DCGAN(GAN):
    """Generator G(z) and discriminator D(x) trained with the non-saturating GAN loss.

    Each step updates G on fresh noise, then D on real crops and the same (detached) fakes.
    D returns logits; sigmoid(D(x)) is the probability that x is real, and the losses are
    binary cross-entropy from logits ("bce", default) or least squares ("lsgan"), through
    D's compiled loss. z ~ N(0, I) is drawn from `noise_seed`, a SeedGenerator owned by this
    model (its state is a non-trainable variable: checkpointed, and threaded through the JAX
    step). Sample grids show three samples from fixed seeds.

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
    adversarial_losses = ("bce", "lsgan")

    def __init__(self, generator, discriminator, adversarial="bce", seed=0, **kwargs):
        super().__init__(adversarial=adversarial, **kwargs)
        self.seed = seed
        self.noise_seed = keras.random.SeedGenerator(seed)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(generator.latent_dim)
        self.built = True

    @classmethod
    def build(cls, networks, l1_weight=0.0, **settings):
        """`l1_weight` is ignored: these GANs draw from noise, with no target to compare a
        fake with."""
        return cls(*cls.build_networks(networks), seed=networks.seed, **settings)

    @staticmethod
    def build_networks(networks, **shared):
        """Generator and discriminator for the crop size; `shared` arguments (num_classes,
        latent_dim) go to both."""
        generator = networks.make_generator(out_channels=networks.target_channels, image_size=networks.image_size,
                                            **shared)
        discriminator = networks.make_discriminator(image_channels=networks.target_channels,
                                                    image_size=networks.image_size, **shared)
        return generator, discriminator

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

    def generator_losses(self, batch, carry=None, training=True):
        condition, real = batch
        label = self.class_of(condition)
        fake = self.generate(self.noise(ops.shape(real)[0]), label, training=training)
        fake_logits = self.judge(fake, label, training=training)
        return {"g_loss": self.adversarial_loss.generator_term(self.discriminator, fake_logits)}, fake

    def discriminator_losses(self, batch, carry, training=True):
        condition, real = batch
        fake = carry  # the generator phase's fake, detached
        label = self.class_of(condition)
        term = self.adversarial_loss.discriminator_term
        d_real = term(self.discriminator, self.judge(real, label, training=training), real=True)
        d_fake = term(self.discriminator, self.judge(fake, label, training=training), real=False)
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

    def grid_columns(self, condition, target, num_samples):
        """Three samples from the fixed seeds 0, 1, 2 (`num_samples` is for dropout samples)."""
        count = target.shape[0]
        return [(f"sample {k + 1}", ops.convert_to_numpy(self.sample(count, seed=k))) for k in range(3)]

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}
