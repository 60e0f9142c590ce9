"""Every CIG GAN, one class per file, with its presets beside it (keras-hub's `*_presets.py`),
and the one registry that maps a preset's `model.gan` to its class.

Adding a GAN means three files: its class (`<name>.py`, a `cig_k3.training.gan.GAN`), its
presets (`<name>_presets.py`, a dict `PRESETS` of preset name -> overrides), and its line in
`_REGISTRY` below (with the import that line needs). `cig_k3.config` reads the presets and
each class's `adversarial_losses` from here.

Example:
    >>> GANS["conditional"]
    <class 'cig_k3.training.gans.pix2pix.Pix2PixGAN'>
    >>> sorted(PRESETS)[:3]
    ['attention', 'bigan', 'cgan']
"""

from cig_k3.training.gans import (
    attention_presets, bigan_presets, cgan_presets, cyclegan_presets, dcgan_presets, feature_matching_presets,
    mixlc_presets, pix2pix_presets, regression_presets, wgan_gp_presets,
)
from cig_k3.training.gans.attention import AttentionGAN
from cig_k3.training.gans.bigan import BiGAN
from cig_k3.training.gans.cgan import ClassConditionalGAN
from cig_k3.training.gans.cyclegan import CycleGAN
from cig_k3.training.gans.dcgan import DCGAN
from cig_k3.training.gans.feature_matching import FeatureMatchingGAN
from cig_k3.training.gans.mixlc import MixLCGAN
from cig_k3.training.gans.pix2pix import Pix2PixGAN
from cig_k3.training.gans.regression import RegressionBaseline
from cig_k3.training.gans.wgan_gp import WGANGP

# model.gan -> (GAN class, the presets beside it). One line per GAN.
_REGISTRY = {
    "conditional": (Pix2PixGAN, pix2pix_presets.PRESETS),
    "attention": (AttentionGAN, attention_presets.PRESETS),
    "mixlc": (MixLCGAN, mixlc_presets.PRESETS),
    "feature_matching": (FeatureMatchingGAN, feature_matching_presets.PRESETS),
    "dcgan": (DCGAN, dcgan_presets.PRESETS),
    "cgan": (ClassConditionalGAN, cgan_presets.PRESETS),
    "wgan-gp": (WGANGP, wgan_gp_presets.PRESETS),
    "bigan": (BiGAN, bigan_presets.PRESETS),
    "cyclegan": (CycleGAN, cyclegan_presets.PRESETS),
    "regression": (RegressionBaseline, regression_presets.PRESETS),
}


def _merged_presets(registry):
    """Every preset by name; a name given twice, or a preset that names another file's
    gan, fails at import."""
    presets = {}
    for gan, (_, table) in registry.items():
        for name, preset in table.items():
            if name in presets:
                raise ValueError(f"preset {name!r} is defined twice in cig_k3/training/gans/*_presets.py")
            named = preset.get("model", {}).get("gan")
            if named != gan:
                raise ValueError(f"preset {name!r} sits beside the {gan!r} gan but names model.gan {named!r}")
            presets[name] = preset
    return presets


GANS = {gan: gan_class for gan, (gan_class, _) in _REGISTRY.items()}
PRESETS = _merged_presets(_REGISTRY)

# Every GAN class by the name its .keras files record, for keras.saving.load_model(custom_objects=...);
# "ConditionalGAN" is Pix2PixGAN's name in gan.keras files written before the rename.
GAN_CUSTOM_OBJECTS = {**{cls.__name__: cls for cls in GANS.values()}, "ConditionalGAN": Pix2PixGAN}


def gan_class(name):
    """The GAN class of `model.gan` name `name`."""
    if name not in GANS:
        raise ValueError(f"unknown gan {name!r}; choose one of {sorted(GANS)}")
    return GANS[name]


__all__ = [
    "AttentionGAN", "BiGAN", "ClassConditionalGAN", "CycleGAN", "DCGAN", "FeatureMatchingGAN", "GANS",
    "GAN_CUSTOM_OBJECTS", "MixLCGAN", "PRESETS", "Pix2PixGAN", "RegressionBaseline", "WGANGP", "gan_class",
]
