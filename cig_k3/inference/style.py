"""Style codes for generators with a style encoder (`cig generate --style IMAGE`).

A `StyleUNetGenerator` draws a label in the style that a code z describes. `cig generate`
gives it one code per field and sample, never one per tile, so that tiled fields show no
style seams:

- with `--style IMAGE`: the image (any size, the data's units) is scaled as training scaled
  its images (the manifest's percentiles) and encoded once into (mu, logvar); one sample is
  drawn with z = mu, the style itself; K >= 2 samples with z_k = mu + sigma * eps_k, as
  the encoder's posterior allows;
- without: z is drawn from the prior N(0, I), so each mask gets a plausible style of its own.

eps comes from NumPy seeded with the mask's seed, so the codes are the same on every
backend and a rerun (or a Dask worker) draws the same images.
"""

from pathlib import Path

import numpy as np

from cig_k3.data.normalize import to_model_range
from cig_k3.inference.images import read_array

STYLE_SUFFIXES = (".tif", ".tiff", ".png")


def read_style(path, manifest, out_channels):
    """The style image at `path` (TIFF or PNG, H x W or H x W x C, the data's units) scaled
    to the model's [-1, 1] with the manifest's percentiles; a one-line ValueError naming the
    file when it cannot be read or its channels are not the model's."""
    path = Path(path)
    if path.suffix.lower() not in STYLE_SUFFIXES:
        raise ValueError(f"--style {path}: a style image must be a TIFF or PNG ({', '.join(STYLE_SUFFIXES)}).")
    image = np.squeeze(np.asarray(read_array(path, "the image", prefix="--style ")))
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or min(image.shape[:2]) < 1:
        raise ValueError(f"--style {path}: a style image must be H x W or H x W x C, got shape {image.shape}.")
    if image.shape[-1] != out_channels:
        raise ValueError(f"--style {path} has {image.shape[-1]} channel(s) but the model draws {out_channels}: "
                         "give a field of the data the model was trained on.")
    if not np.issubdtype(image.dtype, np.number) or np.issubdtype(image.dtype, np.complexfloating):
        raise ValueError(f"--style {path}: pixel type {image.dtype} is not an intensity image.")
    stats = manifest["stats"]["raw"]
    return to_model_range(image, stats["p_low"], stats["p_high"])


def check_style_model(model, style):
    """ValueError (one line) when `--style` is given for a generator without a style encoder."""
    from cig_k3.models.style_encoder import has_style_encoder

    if style and not has_style_encoder(model):
        raise ValueError(f"--style {style}: generator {model.name!r} has no style encoder; train a preset with one "
                         "(realistic-style) or leave --style out")


def encode_style(model, style):
    """(mu, logvar), each (latent_dim,) float64, of one style image H x W x C in [-1, 1]."""
    import keras

    mu, logvar = model.encode(np.asarray(style, np.float32)[None], training=False)
    return (np.asarray(keras.ops.convert_to_numpy(mu), np.float64)[0],
            np.asarray(keras.ops.convert_to_numpy(logvar), np.float64)[0])


def style_codes(latent_dim, samples, seed, posterior=None):
    """One code per sample, float32 (samples, latent_dim).

    Args:
        latent_dim: size of the code.
        samples: how many (1: the encoded style's mean code).
        seed: the mask's seed; the same seed gives the same codes.
        posterior: (mu, logvar) of an encoded style, or None for the prior N(0, I).
    """
    rng = np.random.default_rng(seed)
    samples = max(int(samples), 1)
    if posterior is None:
        return rng.standard_normal((samples, latent_dim)).astype(np.float32)
    mu, logvar = posterior
    if samples == 1:
        return np.asarray(mu, np.float32)[None]
    noise = rng.standard_normal((samples, latent_dim))
    return (mu[None] + np.exp(0.5 * logvar)[None] * noise).astype(np.float32)


def code_function(model, code):
    """fn for `predict_tiled`: every tile of a batch drawn with the one code `code`."""
    import keras

    code = np.asarray(code, np.float32)

    def run(batch):
        codes = np.repeat(code[None], len(batch), axis=0)
        return keras.ops.convert_to_numpy(model.synthesize(batch, codes, training=False))

    return run
