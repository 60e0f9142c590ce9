"""One switch for every noise source of a model: dropout, noise injection, latent codes."""

import contextlib

from cig_k3.layers.dropout import MCDropout
from cig_k3.layers.noise import CameraNoise, LatentCode, NoiseInjection, Specks
from cig_k3.layers.style_code import StyleSample

# Layers that draw noise when training, and at inference only inside `sampling(model)`.
STOCHASTIC_LAYERS = (MCDropout, NoiseInjection, LatentCode, StyleSample, CameraNoise, Specks)


def stochastic_layers(model):
    """The model's noise layers (nested ones included), in a stable order."""
    return [layer for layer in model._flatten_layers() if isinstance(layer, STOCHASTIC_LAYERS)]


@contextlib.contextmanager
def sampling(model, enabled=True):
    """Keep every noise layer of `model` (MCDropout, NoiseInjection, LatentCode, StyleSample,
    CameraNoise, Specks) drawing at inference while the context is open (`enabled=False`: keep them
    all off). Yields how many layers it switched."""
    layers = stochastic_layers(model)
    previous = [layer.sampling for layer in layers]
    for layer in layers:
        layer.sampling = enabled
    try:
        yield len(layers)
    finally:
        for layer, value in zip(layers, previous):
            layer.sampling = value


@contextlib.contextmanager
def one_code_per_field(model, seed):
    """While open, every `LatentCode` of `model` that samples uses one code drawn from NumPy
    with `seed` (an int or a sequence of ints, e.g. (field, sample)) for every image of
    every call: the tiles of one field share one code. Codes are the same on every backend.
    Yields the codes, one (latent_dim,) array per layer."""
    import numpy as np

    layers = [layer for layer in stochastic_layers(model) if isinstance(layer, LatentCode)]
    rng = np.random.default_rng(seed)
    codes = [rng.standard_normal(layer.latent_dim).astype("float32") for layer in layers]
    previous = [layer.fixed_code for layer in layers]
    for layer, code in zip(layers, codes):
        layer.fixed_code = code
    try:
        yield codes
    finally:
        for layer, code in zip(layers, previous):
            layer.fixed_code = code
