"""Pix2PixGAN: a conditional generator and a conditional (PatchGAN) discriminator, the GAN
of the cig and pix2pix presets and the base of the other mask -> image systems."""

import keras
from keras import ops

from cig_k3.evaluation import metrics as image_metrics
from cig_k3.layers import sampling
from cig_k3.training.gan import GAN, Phase


def fidelity_metrics(generator, condition, target):
    """Validation L1, PSNR and SSIM of the generator's deterministic output against the target."""
    fake = generator(condition, training=False)
    target = ops.cast(target, fake.dtype)
    return {
        "l1": ops.mean(ops.abs(target - fake)),
        "psnr": ops.mean(image_metrics.psnr(target, fake)),
        "ssim": ops.mean(image_metrics.ssim(target, fake)),
    }


@keras.saving.register_keras_serializable(package="cig_k3")
class Pix2PixGAN(GAN):
    """Generator + conditional discriminator, trained together with `fit` on any backend.

    Each step has two phases:
    1. generator: fake = G(condition); g_total = g_adv + l1_weight * MAE(fake, target); update G;
    2. discriminator, on the same (detached) fake: d_loss = 0.5 * (d_real + d_fake) through
       the discriminator's compiled loss (`discriminator.compile(loss="mse")` for LSGAN),
       halved as in pix2pix to slow D relative to G; update D.
    Both updates see the networks as they were at the start of the step (simultaneous
    gradient descent, as in the TensorFlow pix2pix tutorial), and G runs forward once.
    Sample grids show `num_samples` dropout (and noise) samples of G(condition).

    With `diversity_weight` > 0 the generator phase draws G(condition) a second time and
    rewards the distance between the two draws (mode seeking, as DSGAN / MSGAN):
    g_div = min(mean |G(c) - G'(c)|, diversity_cap), g_total -= diversity_weight * g_div.
    Without it pix2pix learns to ignore its noise and K samples are one image; the cap stops
    the term from rewarding noise beyond the real images' own variability.

    Args:
        generator: maps a condition batch to an image batch in [-1, 1].
        discriminator: maps [condition, image] to real/fake logits.
        adversarial: "lsgan" (default), "bce" or "hinge".
        l1_weight: gamma in  g_total = g_adv + gamma * MAE(fake, target)  (seed 000: 100).
        diversity_weight: weight of the mode-seeking term g_div (0: off, no second draw).
        diversity_cap: the distance (mean absolute difference, [-1, 1] units) above which
            two draws earn no more reward.

    Example:
        >>> gan = Pix2PixGAN(UNetGenerator(3, 1, 8, 3), PatchGANDiscriminator(3, 1, 8, 3))
        >>> gan.compile(keras.optimizers.Adam(2e-4, 0.5), keras.optimizers.Adam(2e-4, 0.5))
        >>> gan.fit(batches, steps_per_epoch=10)

    Reference: Isola et al., "Image-to-Image Translation with Conditional Adversarial
    Networks", CVPR 2017; Yang et al., "Diversity-Sensitive Conditional Generative
    Adversarial Networks", ICLR 2019; Mao et al., "Mode Seeking Generative Adversarial
    Networks for Diverse Image Synthesis", CVPR 2019.
    """

    loss_names = ("d_loss", "d_real", "d_fake", "g_adv", "g_l1", "g_div", "g_total")
    validation_names = ("l1", "psnr", "ssim")

    def __init__(self, generator, discriminator, adversarial="lsgan", l1_weight=100.0, diversity_weight=0.0,
                 diversity_cap=0.1, **kwargs):
        super().__init__(adversarial=adversarial, **kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.l1_weight = float(l1_weight)
        if float(diversity_weight) < 0 or float(diversity_cap) <= 0:
            raise ValueError(f"loss.extra diversity_weight must be >= 0 and diversity_cap > 0; "
                             f"got {diversity_weight} and {diversity_cap}")
        self.diversity_weight = float(diversity_weight)
        self.diversity_cap = float(diversity_cap)
        self.built = True  # both networks are functional models, built at construction

    @classmethod
    def build(cls, networks, **settings):
        generator = networks.make_generator(in_channels=networks.condition_channels,
                                            out_channels=networks.target_channels, seed=networks.seed)
        discriminator = networks.make_discriminator(condition_channels=networks.condition_channels,
                                                    image_channels=networks.target_channels)
        return cls(generator, discriminator, **settings)

    def call(self, condition, training=False):
        return self.generator(condition, training=training)

    def phases(self):
        return [
            Phase("generator", self.owners("generator"), "generator", "g_total", self.generator_losses),
            Phase("discriminator", self.owners("discriminator"), "discriminator", "d_loss",
                  self.discriminator_losses),
        ]

    # -- The losses, once, in keras.ops -----------------------------------------------------
    def generator_losses(self, batch, carry=None, training=True):
        """({"g_adv", "g_l1", "g_total"}, fake)."""
        condition, target = batch
        fake = self.generator(condition, training=training)
        fake_logits = self.discriminator([condition, fake], training=training)
        g_adv = self.adversarial_loss.generator_term(self.discriminator, fake_logits)
        g_l1 = ops.mean(ops.abs(ops.cast(target, fake.dtype) - fake))
        g_div = self.diversity_term(condition, fake, training)
        total = g_adv + self.l1_weight * g_l1 - self.diversity_weight * g_div
        return {"g_adv": g_adv, "g_l1": g_l1, "g_div": g_div, "g_total": total}, fake

    def diversity_term(self, condition, fake, training):
        """g_div: min(mean |fake - a second draw of G(condition)|, diversity_cap); 0 when the
        term is off or outside training (no second draw then)."""
        if not (self.diversity_weight and training):
            return ops.zeros((), "float32")
        other = self.generator(condition, training=training)
        distance = ops.mean(ops.abs(ops.cast(fake, "float32") - ops.cast(other, "float32")))
        return ops.minimum(distance, self.diversity_cap)

    def discriminator_losses(self, batch, carry, training=True):
        """({"d_real", "d_fake", "d_loss"}, fake) through the discriminator's compiled loss."""
        condition, target = batch
        fake = carry  # the generator phase's fake, detached
        real_logits = self.discriminator([condition, target], training=training)
        fake_logits = self.discriminator([condition, fake], training=training)
        d_real = self.adversarial_loss.discriminator_term(self.discriminator, real_logits, real=True)
        d_fake = self.adversarial_loss.discriminator_term(self.discriminator, fake_logits, real=False)
        return {"d_real": d_real, "d_fake": d_fake, "d_loss": 0.5 * (d_real + d_fake)}, fake

    def validation_metrics(self, condition, target):
        return fidelity_metrics(self.generator, condition, target)

    def grid_columns(self, condition, target, num_samples):
        """`num_samples` dropout (and noise) samples of G(condition)."""
        generator = self.generator
        # Sampling draws from the dropout seed generators; put their states back afterwards
        # so that a grid never changes the training that follows (resume equivalence).
        seeds = [v for v in generator.non_trainable_variables if "seed_generator" in v.path]
        saved = [ops.convert_to_numpy(v.value) for v in seeds]
        columns = []
        with sampling(generator):
            for k in range(num_samples):
                columns.append((f"sample {k + 1}", ops.convert_to_numpy(generator(condition, training=False))))
        for variable, value in zip(seeds, saved):
            variable.assign(value)
        return columns

    def get_config(self):
        return {**super().get_config(), "l1_weight": self.l1_weight, "diversity_weight": self.diversity_weight,
                "diversity_cap": self.diversity_cap}

