from cig_k3.losses.adversarial import (
    ADVERSARIAL_LOSSES,
    discriminator_loss,
    fake_targets,
    generator_adversarial,
    real_targets,
)

__all__ = ["ADVERSARIAL_LOSSES", "discriminator_loss", "fake_targets", "generator_adversarial", "real_targets"]
