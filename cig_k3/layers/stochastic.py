"""One switch for every noise source of a model: dropout, noise injection, latent codes; and
one draw of them per field, however the field is tiled."""

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
def _assigned(layers, name, values):
    """Each layer's attribute `name` set to its value of `values` while open, and back after."""
    previous = [getattr(layer, name) for layer in layers]
    for layer, value in zip(layers, values):
        setattr(layer, name, value)
    try:
        yield
    finally:
        for layer, value in zip(layers, previous):
            setattr(layer, name, value)


@contextlib.contextmanager
def sampling(model, enabled=True):
    """Keep every noise layer of `model` (MCDropout, NoiseInjection, LatentCode, StyleSample,
    CameraNoise, Specks) drawing at inference while the context is open (`enabled=False`: keep them
    all off). Yields how many layers it switched."""
    layers = stochastic_layers(model)
    with _assigned(layers, "sampling", [enabled] * len(layers)):
        yield len(layers)


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
    with _assigned(layers, "fixed_code", codes):
        yield codes


class FieldNoise:
    """The per-pixel noise of one whole field, drawn once from NumPy, each tile reading its part.

    Tiled inference (`predict_tiled`) blends neighbouring tiles across their overlap. Drawn
    tile by tile, the pixel noise of the two tiles is independent there and the blend
    averages it: a raised-cosine overlap keeps 75 % of the noise's variance on average and
    50 % at its middle, specks are drawn twice at reduced brightness, and a tiled field shows
    strips of fainter grain (BBBC039, 128-px tiles: nuclei's pixel noise 0.0220 against 0.0241
    whole, real 0.0246; benchmarks/RESULTS.md). With one field-sized noise image per layer
    both tiles add the same noise to a pixel, and the blend keeps it whole.

    The noise layers (`FIELD_NOISE_LAYERS`) read it inside `one_draw_per_field`, at
    inference, once `predict_tiled` has placed the call's tiles (`place`); a layer of
    stride s (the tile's side over its input's) reads the field's map at 1/s of its size,
    exactly aligned when the tiles start on multiples of s (always at full resolution, where
    the camera's noise and the specks are drawn). Maps are drawn from (seed, layer, stride)
    on first use and kept while the context is open: one float32 per pixel and channel.
    """

    def __init__(self, seed, layers):
        import numpy as np

        self.seed = [int(value) for value in np.atleast_1d(np.asarray(seed, dtype=np.int64))]
        self.index = {id(layer): position for position, layer in enumerate(layers)}
        self.maps = {}
        self.origins = self.tile = self.field = None

    def place(self, origins, tile, field):
        """`predict_tiled`'s `on_tiles`: the next call's tiles start at `origins` [(top, left)]
        of a (padded) field of `field` (H, W) pixels, each `tile` (h, w) pixels."""
        self.origins, self.tile, self.field = [tuple(map(int, o)) for o in origins], tuple(tile), tuple(field)

    def tiles(self, layer, kind, shape):
        """The tiles' parts of the field's `kind` ("normal" or "uniform") noise for `layer`'s
        input `shape` (batch, h, w, channels): a float32 array; None before any `place`."""
        import numpy as np

        if self.origins is None:
            return None
        batch, height, width, channels = (int(value) for value in shape)
        if batch != len(self.origins):
            raise ValueError(f"FieldNoise: a batch of {batch} tiles but {len(self.origins)} placed")
        stride = max(1, self.tile[0] // height)
        key = (self.index[id(layer)], kind, stride, channels)
        if key not in self.maps:
            rng = np.random.default_rng([*self.seed, *key[:1], stride, channels, int(kind == "normal")])
            size = (-(-self.field[0] // stride), -(-self.field[1] // stride), channels)
            self.maps[key] = (rng.standard_normal(size, np.float32) if kind == "normal"
                              else rng.random(size, np.float32))
        noise = self.maps[key]
        return np.stack([noise[top // stride:top // stride + height, left // stride:left // stride + width]
                         for top, left in self.origins])


@contextlib.contextmanager
def one_draw_per_field(model, seed):
    """`one_code_per_field`, and the per-pixel noise of every `NoiseInjection`, `CameraNoise`
    and `Specks` layer drawn once for the whole field (`FieldNoise`): a tiled field is drawn
    as one. Give the yielded `FieldNoise`'s `place` to `predict_tiled` as `on_tiles`; its
    `codes` are the latent codes. Outside `predict_tiled` (nothing placed) the layers draw as
    before."""
    from cig_k3.layers.noise import FIELD_NOISE_LAYERS

    layers = [layer for layer in stochastic_layers(model) if isinstance(layer, FIELD_NOISE_LAYERS)]
    field = FieldNoise(seed, layers)
    with one_code_per_field(model, seed) as codes, _assigned(layers, "field_noise", [field] * len(layers)):
        field.codes = codes
        yield field
