"""BiGAN / ALI: an encoder E(x) -> z learnt with G, and a discriminator on (x, z) pairs."""

import keras
from keras import ops

from cig_k3.models import DCGANEncoder
from cig_k3.training.gan import Phase
from cig_k3.training.gans.dcgan import DCGAN


@keras.saving.register_keras_serializable(package="cig_k3")
class BiGAN(DCGAN):
    """D tells (x, E(x)) from (G(z), z); G and E are updated together to fool it.

    Phase 1 updates G and E with one optimiser: they minimise the discriminator's loss with
    the labels swapped (the non-saturating form of the BiGAN/ALI code). Phase 2 updates D on
    the same (detached) fakes, codes and noise. `val_recon_l1` reports mean |G(E(x)) - x|
    on validation crops: how much of a crop the code keeps.

    Args:
        generator: noise -> image (`DCGANGenerator`).
        discriminator: [image, code] -> logit (`DCGANDiscriminator(latent_dim=...)`).
        encoder: image -> code (`DCGANEncoder`) with the generator's latent_dim.
        adversarial: "bce" or "lsgan".
        seed: seed of the noise SeedGenerator.

    Reference: Donahue, Krähenbühl & Darrell, "Adversarial Feature Learning", ICLR 2017;
    Dumoulin et al., "Adversarially Learned Inference", ICLR 2017.
    """

    loss_names = ("d_loss", "d_real", "d_fake", "g_loss")
    validation_names = ("recon_l1", "real_probability", "fake_probability")
    optimizer_owners = {"generator": ("generator", "encoder"), "discriminator": ("discriminator",)}
    network_names = ("generator", "discriminator", "encoder")

    def __init__(self, generator, discriminator, encoder, adversarial="bce", seed=0, **kwargs):
        if encoder.latent_dim != generator.latent_dim or discriminator.latent_dim != generator.latent_dim:
            raise ValueError(
                f"generator, encoder and discriminator must share latent_dim; got {generator.latent_dim}, "
                f"{encoder.latent_dim}, {discriminator.latent_dim}"
            )
        super().__init__(generator, discriminator, adversarial=adversarial, seed=seed, **kwargs)
        self.encoder = encoder

    @classmethod
    def build(cls, networks, l1_weight=0.0, **settings):
        """The encoder mirrors the discriminator's trunk (its base_filters, max_filters, norm)."""
        latent_dim = networks.generator_args.get("latent_dim", 100)
        trunk = {k: v for k, v in networks.discriminator_args.items() if k in ("base_filters", "max_filters", "norm")}
        encoder = DCGANEncoder(networks.target_channels, networks.image_size, latent_dim, **trunk)
        generator, discriminator = cls.build_networks(networks, latent_dim=latent_dim)
        return cls(generator, discriminator, encoder, seed=networks.seed, **settings)

    def phases(self):
        return [
            Phase("generator_encoder", self.owners("generator"), "generator", "g_loss", self.generator_losses),
            Phase("discriminator", self.owners("discriminator"), "discriminator", "d_loss",
                  self.discriminator_losses),
        ]

    def generator_losses(self, batch, carry=None, training=True):
        _, real = batch
        noise = self.noise(ops.shape(real)[0])
        fake = self.generator(noise, training=training)
        code = self.encoder(real, training=training)
        real_logits = self.discriminator([real, code], training=training)
        fake_logits = self.discriminator([fake, noise], training=training)
        # The discriminator's own loss with the labels swapped.
        term = self.adversarial_loss.discriminator_term
        g_loss = term(self.discriminator, fake_logits, real=True) + term(self.discriminator, real_logits, real=False)
        return {"g_loss": g_loss}, (fake, noise, code)

    def discriminator_losses(self, batch, carry, training=True):
        _, real = batch
        fake, noise, code = carry
        term = self.adversarial_loss.discriminator_term
        d_real = term(self.discriminator, self.discriminator([real, code], training=training), real=True)
        d_fake = term(self.discriminator, self.discriminator([fake, noise], training=training), real=False)
        return {"d_real": d_real, "d_fake": d_fake, "d_loss": d_real + d_fake}, carry

    def reconstruct(self, images):
        return self.generator(self.encoder(images, training=False), training=False)

    def validation_metrics(self, condition, target):
        target = ops.cast(target, "float32")
        noise = self.noise(ops.shape(target)[0], seed=1234)
        fake = self.generator(noise)
        return {
            "recon_l1": ops.mean(ops.abs(self.reconstruct(target) - target)),
            "real_probability": ops.mean(ops.sigmoid(self.discriminator([target, self.encoder(target)]))),
            "fake_probability": ops.mean(ops.sigmoid(self.discriminator([fake, noise]))),
        }

    def grid_columns(self, condition, target, num_samples):
        """The reconstruction G(E(x)), then two samples from fixed seeds."""
        return [("G(E(x))", ops.convert_to_numpy(self.reconstruct(target))),
                *super().grid_columns(condition, target, num_samples)[:2]]
