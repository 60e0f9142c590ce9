"""GAN subclasses of the seed systems: each overrides the loss methods of ConditionalGAN.

They live here, apart from the models, because a loss ties a generator to a discriminator
and to a training recipe, while `cig_k3.models` holds architectures that know nothing of
training (pix2pixHD and SPADE share one GAN class, `FeatureMatchingGAN`).
"""

from cig_k3.training.systems.attention import AttentionGAN
from cig_k3.training.systems.mixlc import MixLCGAN
from cig_k3.training.systems.multiscale import FeatureMatchingGAN

__all__ = ["AttentionGAN", "FeatureMatchingGAN", "MixLCGAN"]
