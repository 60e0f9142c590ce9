"""Model registry. Explicit dicts, loud failures. The one registration at import is Keras' own
(`register_keras_serializable(package="cig_k3")` on each class), so that
`keras.saving.load_model(path)` finds CIG classes without `custom_objects`."""

from cig_k3.layers import CameraNoise, LatentCode, MCDropout, NoiseInjection, Specks, SubpixelUpsampling
from cig_k3.layers.attention import AttentionFusion
from cig_k3.layers.spade import SPADE, NearestDownsample, SPADEResBlock
from cig_k3.layers.style_code import StyleCode, StyleSample
from cig_k3.models.attention import AttentionGenerator, UNetDiscriminator
from cig_k3.models.dcgan import DCGANDiscriminator, DCGANEncoder, DCGANGenerator
from cig_k3.models.image_patchgan import ImagePatchGANDiscriminator
from cig_k3.models.instance_encoder import InstanceUNetGenerator
from cig_k3.models.instance_field import InstanceFieldGenerator
from cig_k3.models.mixlc import MixLCDiscriminator, MixLCGenerator
from cig_k3.models.multiscale import MultiScaleDiscriminator
from cig_k3.models.patchgan import PatchGANDiscriminator
from cig_k3.models.pix2pixhd import Pix2PixHDGenerator
from cig_k3.models.spade import SPADEGenerator
from cig_k3.models.style_encoder import StyleEncoder, StyleUNetGenerator
from cig_k3.models.unet import UNetGenerator

GENERATORS = {"unet": UNetGenerator, "dcgan": DCGANGenerator, "attention": AttentionGenerator, "mixlc": MixLCGenerator,
              "pix2pixhd": Pix2PixHDGenerator, "spade": SPADEGenerator, "style_unet": StyleUNetGenerator,
              "instance_unet": InstanceUNetGenerator}
DISCRIMINATORS = {"patchgan": PatchGANDiscriminator, "dcgan": DCGANDiscriminator,
                  "image_patchgan": ImagePatchGANDiscriminator, "unet": UNetDiscriminator, "mixlc": MixLCDiscriminator,
                  "multiscale": MultiScaleDiscriminator}
# Generators made from trained ones for the exports (not trained themselves).
EXPORTED_GENERATORS = (InstanceFieldGenerator,)

# Everything a saved CIG model may contain, for keras.saving.load_model(custom_objects=...).
CUSTOM_OBJECTS = {cls.__name__: cls for cls in [*GENERATORS.values(), *EXPORTED_GENERATORS, *DISCRIMINATORS.values(),
                                              MCDropout, DCGANEncoder,
                                              AttentionFusion, SPADE, SPADEResBlock, NearestDownsample,
                                              NoiseInjection, LatentCode, SubpixelUpsampling, StyleEncoder, StyleSample,
                                              StyleCode, CameraNoise, Specks]}


def build_generator(name, **kwargs):
    if name not in GENERATORS:
        raise ValueError(f"unknown generator {name!r}; choose one of {sorted(GENERATORS)}")
    return GENERATORS[name](**kwargs)


def build_discriminator(name, **kwargs):
    if name not in DISCRIMINATORS:
        raise ValueError(f"unknown discriminator {name!r}; choose one of {sorted(DISCRIMINATORS)}")
    return DISCRIMINATORS[name](**kwargs)
