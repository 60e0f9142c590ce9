"""Model registry. Explicit dicts, loud failures; nothing registers itself at import."""

from cig_k3.layers import MCDropout
from cig_k3.models.patchgan import PatchGANDiscriminator
from cig_k3.models.unet import UNetGenerator

GENERATORS = {"unet": UNetGenerator}
DISCRIMINATORS = {"patchgan": PatchGANDiscriminator}

# Everything a saved CIG model may contain, for keras.saving.load_model(custom_objects=...).
CUSTOM_OBJECTS = {cls.__name__: cls for cls in [*GENERATORS.values(), *DISCRIMINATORS.values(), MCDropout]}


def build_generator(name, **kwargs):
    if name not in GENERATORS:
        raise ValueError(f"unknown generator {name!r}; choose one of {sorted(GENERATORS)}")
    return GENERATORS[name](**kwargs)


def build_discriminator(name, **kwargs):
    if name not in DISCRIMINATORS:
        raise ValueError(f"unknown discriminator {name!r}; choose one of {sorted(DISCRIMINATORS)}")
    return DISCRIMINATORS[name](**kwargs)
