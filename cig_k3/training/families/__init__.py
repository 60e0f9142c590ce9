"""The GAN families of seed 004 (issue 9), each a `keras.Model` trained by the shared
per-backend steps through its `phases()`."""

from cig_k3.training.families.bigan import BiGAN
from cig_k3.training.families.cgan import ClassConditionalGAN
from cig_k3.training.families.cyclegan import CycleGAN
from cig_k3.training.families.dcgan import DCGAN
from cig_k3.training.families.wgan_gp import WGANGP

FAMILIES = {"dcgan": DCGAN, "cgan": ClassConditionalGAN, "wgan-gp": WGANGP, "bigan": BiGAN, "cyclegan": CycleGAN}

__all__ = ["BiGAN", "ClassConditionalGAN", "CycleGAN", "DCGAN", "FAMILIES", "WGANGP"]
