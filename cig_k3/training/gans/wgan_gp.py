"""WGAN-GP: a critic without sigmoid, a gradient penalty, n_critic critic updates per G update."""

import keras
from keras import ops

from cig_k3.losses import gradient_penalty
from cig_k3.training.gan import Phase
from cig_k3.training.gans.dcgan import DCGAN, intensity_gap


@keras.saving.register_keras_serializable(package="cig_k3")
class WGANGP(DCGAN):
    """Wasserstein GAN with gradient penalty, on the DCGAN networks.

    Each step runs `n_critic` critic updates, then one generator update:
    critic loss = E[f(G(z))] - E[f(x)] + lambda * E[(||grad f(x_hat)||_2 - 1)^2] with
    x_hat = alpha x + (1 - alpha) G(z), alpha ~ U(0, 1) per sample; generator loss =
    -E[f(G(z))]. The first two terms are the "wasserstein" mode of the adversarial loss,
    through the critic's compiled `WassersteinLoss`; `wasserstein` logs their negative,
    the critic's estimate of the distance. The critic updates reuse the step's real batch
    with fresh z and alpha each time (Alg. 1 draws a new real batch too; one batch per step
    keeps the data stream and the step count the same for every preset). The critic should
    not use batch norm (the preset uses layer norm): the penalty is per sample, and on JAX
    the input gradient is traced inside the loss, where no state may be updated.

    Args:
        generator: noise -> image (`DCGANGenerator`).
        discriminator: the critic, image -> one unbounded score (`DCGANDiscriminator(norm="layer")`).
        n_critic: critic updates per generator update (5).
        penalty_weight: lambda (10).
        seed: seed of the noise SeedGenerator (z and alpha).
        adversarial: "wasserstein" (the only mode; "wgan-gp" reads as it).

    Reference: Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017;
    Arjovsky et al., "Wasserstein GAN", ICML 2017.
    """

    loss_names = ("d_loss", "wasserstein", "gradient_penalty", "g_loss")
    validation_names = ("wasserstein", "intensity_gap")
    adversarial_losses = ("wasserstein",)

    def __init__(self, generator, discriminator, n_critic=5, penalty_weight=10.0, seed=0, adversarial="wasserstein",
                 **kwargs):
        super().__init__(generator, discriminator, adversarial=adversarial, seed=seed, **kwargs)
        self.n_critic = int(n_critic)
        self.penalty_weight = float(penalty_weight)

    @property
    def critic(self):
        return self.discriminator

    def phases(self):
        return [
            Phase("critic", self.owners("discriminator"), "discriminator", "d_loss", self.critic_losses,
                  repeat=self.n_critic),
            Phase("generator", self.owners("generator"), "generator", "g_loss", self.generator_losses),
        ]

    def distance(self, real_scores, fake_scores):
        """E[f(real)] - E[f(fake)]: minus what the critic's compiled loss gives for them."""
        term = self.adversarial_loss.discriminator_term
        return -(term(self.critic, real_scores, real=True) + term(self.critic, fake_scores, real=False))

    def critic_losses(self, batch, carry=None, training=True):
        _, real = batch
        real = ops.cast(real, "float32")
        count = ops.shape(real)[0]
        fake = ops.stop_gradient(self.generator(self.noise(count), training=training))
        alpha = keras.random.uniform((count, 1, 1, 1), seed=self.noise_seed)  # per sample, Alg. 1 line 4
        penalty = gradient_penalty.gradient_penalty(
            lambda x: self.critic(x, training=training), gradient_penalty.interpolate(real, fake, alpha),
            self._step.input_gradient, self.penalty_weight,
        )
        distance = self.distance(self.critic(real, training=training), self.critic(fake, training=training))
        return {"d_loss": penalty - distance, "wasserstein": distance, "gradient_penalty": penalty}, None

    discriminator_losses = critic_losses

    def generator_losses(self, batch, carry=None, training=True):
        _, real = batch
        fake = self.generator(self.noise(ops.shape(real)[0]), training=training)
        return {"g_loss": self.adversarial_loss.generator_term(self.critic, self.critic(fake, training=training))}, None

    def validation_metrics(self, condition, target):
        fake = self.generate(self.noise(ops.shape(target)[0], seed=1234))
        distance = self.distance(self.critic(target), self.critic(fake))
        return {"wasserstein": distance, "intensity_gap": intensity_gap(target, fake)}

    def get_config(self):
        return {**super().get_config(), "n_critic": self.n_critic, "penalty_weight": self.penalty_weight}

