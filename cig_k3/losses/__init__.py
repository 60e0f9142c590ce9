"""Losses: adversarial (every mode, for D and G), the WGAN-GP gradient penalty, and
feature-space losses (style, feature matching, VGG16 features)."""

from cig_k3.losses.adversarial import (
    ADVERSARIAL_LOSSES, AdversarialLoss, WassersteinLoss, canonical, discriminator_loss,
)

__all__ = ["ADVERSARIAL_LOSSES", "AdversarialLoss", "WassersteinLoss", "canonical", "discriminator_loss"]
