"""CycleGAN: unpaired translation A <-> B with two generators, two discriminators and image pools."""

import keras
from keras import ops

from cig_k3.layers.image_pool import ImagePool
from cig_k3.training.gan import GAN, Phase
from cig_k3.training.gans.dcgan import intensity_gap


@keras.saving.register_keras_serializable(package="cig_k3")
class CycleGAN(GAN):
    """G: A -> B and F: B -> A, judged by D_B and D_A, with cycle and identity losses.

    Batches are unpaired (image of domain A, image of domain B), e.g. from
    `cig_k3.data.unpaired.UnpairedStream`. Phase 1 updates both generators with one
    optimiser: g_total = LSGAN(D_B(G(a))) + LSGAN(D_A(F(b))) + cycle_weight * (|F(G(a)) - a| +
    |G(F(b)) - b|) + identity_weight * (|G(b) - b| + |F(a) - a|). Phase 2 updates both
    discriminators with one optimiser, each on real images and on fakes drawn from a
    50-image pool of earlier fakes (`ImagePool`, non-trainable variables, so the pool is
    threaded on JAX and saved in checkpoints), halved as in the reference code.

    `generator` (A -> B) is the model that `cig train` saves as generator.keras.

    Args:
        generator: A -> B image model (e.g. `UNetGenerator`).
        inverse_generator: B -> A image model.
        discriminator: judges domain B (e.g. `ImagePatchGANDiscriminator`).
        inverse_discriminator: judges domain A.
        image_size: crop side, for the pools' buffers.
        cycle_weight: lambda of the cycle loss (10).
        identity_weight: weight of the identity loss (0.5 * lambda = 5, as in the reference).
        pool_size: images per pool (50).
        adversarial: "lsgan" (CycleGAN) or "bce".
        seed: seed of the pools' draws.

    Reference: Zhu, Park, Isola & Efros, "Unpaired Image-to-Image Translation using
    Cycle-Consistent Adversarial Networks", ICCV 2017.
    """

    loss_names = ("d_loss", "d_a", "d_b", "g_adv", "g_cycle", "g_identity", "g_total")
    validation_names = ("cycle_l1", "identity_l1", "intensity_gap")
    optimizer_owners = {"generator": ("generator", "inverse_generator"),
                        "discriminator": ("discriminator", "inverse_discriminator")}
    network_names = ("generator", "inverse_generator", "discriminator", "inverse_discriminator")
    discriminator_names = ("discriminator", "inverse_discriminator")
    adversarial_losses = ("lsgan", "bce")

    def __init__(self, generator, inverse_generator, discriminator, inverse_discriminator, image_size=64,
                 cycle_weight=10.0, identity_weight=5.0, pool_size=50, adversarial="lsgan", seed=0, **kwargs):
        super().__init__(adversarial=adversarial, **kwargs)
        self.seed = seed
        # Unused by CycleGAN's losses, kept so that checkpoints keep their layout.
        self.noise_seed = keras.random.SeedGenerator(seed)
        self.generator = generator
        self.inverse_generator = inverse_generator
        self.discriminator = discriminator
        self.inverse_discriminator = inverse_discriminator
        self.image_size = int(image_size)
        self.cycle_weight = float(cycle_weight)
        self.identity_weight = float(identity_weight)
        self.pool_size = int(pool_size)
        channels_b, channels_a = generator.outputs[0].shape[-1], inverse_generator.outputs[0].shape[-1]
        self.pool_b = ImagePool(pool_size, (image_size, image_size, channels_b), seed=seed, name="pool_b")
        self.pool_a = ImagePool(pool_size, (image_size, image_size, channels_a), seed=seed + 1, name="pool_a")
        self.built = True

    @classmethod
    def build(cls, networks, l1_weight=0.0, **settings):
        """G, F, D_B and D_A; the condition and target channels are those of domains A and B.
        `l1_weight` is ignored (cycle and identity weights are CycleGAN's L1 terms)."""
        def generator(source, target, seed):
            return networks.make_generator(in_channels=source, out_channels=target, seed=seed)

        a, b = networks.condition_channels, networks.target_channels
        forward = generator(a, b, networks.seed)
        inverse = generator(b, a, networks.seed + 100)
        return cls(forward, inverse, networks.make_discriminator(image_channels=b),
                   networks.make_discriminator(image_channels=a), image_size=networks.image_size, seed=networks.seed,
                   **settings)

    def call(self, images_a, training=False):
        return self.generator(images_a, training=training)

    def phases(self):
        return [
            Phase("generators", self.owners("generator"), "generator", "g_total", self.generator_losses),
            Phase("discriminators", self.owners("discriminator"), "discriminator", "d_loss",
                  self.discriminator_losses),
        ]

    def generator_losses(self, batch, carry=None, training=True):
        images_a, images_b = (ops.cast(x, "float32") for x in batch)
        fake_b = self.generator(images_a, training=training)
        fake_a = self.inverse_generator(images_b, training=training)
        term = self.adversarial_loss.generator_term
        g_adv = (term(self.discriminator, self.discriminator(fake_b, training=training))
                 + term(self.inverse_discriminator, self.inverse_discriminator(fake_a, training=training)))
        g_cycle = (ops.mean(ops.abs(self.inverse_generator(fake_b, training=training) - images_a))
                   + ops.mean(ops.abs(self.generator(fake_a, training=training) - images_b)))
        g_identity = (ops.mean(ops.abs(self.generator(images_b, training=training) - images_b))
                      + ops.mean(ops.abs(self.inverse_generator(images_a, training=training) - images_a)))
        g_total = g_adv + self.cycle_weight * g_cycle + self.identity_weight * g_identity
        losses = {"g_adv": g_adv, "g_cycle": g_cycle, "g_identity": g_identity, "g_total": g_total}
        return losses, (fake_a, fake_b)

    def discriminator_losses(self, batch, carry, training=True):
        images_a, images_b = batch
        fake_a, fake_b = carry
        term = self.adversarial_loss.discriminator_term

        def judged(discriminator, real, fake):
            return 0.5 * (term(discriminator, discriminator(real, training=training), real=True)
                          + term(discriminator, discriminator(fake, training=training), real=False))

        d_b = judged(self.discriminator, images_b, self.pool_b(fake_b))
        d_a = judged(self.inverse_discriminator, images_a, self.pool_a(fake_a))
        return {"d_a": d_a, "d_b": d_b, "d_loss": d_a + d_b}, carry

    def validation_metrics(self, images_a, images_b):
        images_a, images_b = ops.cast(images_a, "float32"), ops.cast(images_b, "float32")
        fake_b = self.generator(images_a)
        return {
            "cycle_l1": ops.mean(ops.abs(self.inverse_generator(fake_b) - images_a)),
            "identity_l1": ops.mean(ops.abs(self.generator(images_b) - images_b)),
            "intensity_gap": intensity_gap(images_b, fake_b),
        }

    def grid_columns(self, condition, target, num_samples):
        """A -> B, back to A, and B -> A (the condition is domain A, the target domain B)."""
        images_a, images_b = condition, target
        fake_b = self.generator(images_a)
        return [("A->B", ops.convert_to_numpy(fake_b)),
                ("A->B->A", ops.convert_to_numpy(self.inverse_generator(fake_b))),
                ("B->A", ops.convert_to_numpy(self.inverse_generator(images_b)))]

    def get_config(self):
        return {
            **super().get_config(), "image_size": self.image_size, "cycle_weight": self.cycle_weight,
            "identity_weight": self.identity_weight, "pool_size": self.pool_size, "seed": self.seed,
        }
