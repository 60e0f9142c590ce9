"""Texture by scale, inside the objects and in the far background.

Each image is split into octave bands: the difference of two Gaussian blurs of sigma
`SIGMAS[k]` and `SIGMAS[k + 1]` pixels (sigma 0 is the image itself). A band's amplitude in
a field is its standard deviation over one region:

- `objects`: the objects' interiors, pixels at least `interior` px inside an object, the
  blurs taken over the objects alone (a normalised convolution), so that their outlines (a
  step the mask fixes) stay out and what remains is their texture (chromatin grain, camera
  noise);
- `background`: pixels more than `far` px from any object (debris, grain, shading).

`compare_bands(real, generated)` gives, per region and band, the ratio of the generated
fields' median amplitude to the real fields': 1 for texture of the real strength, below 1
for texture painted flat (the flat-mask baseline is near 0 at the fine bands), above 1 for
extra noise. One number per region (`object_texture_ratio`, `background_texture_ratio`) is
the geometric mean of the ratios over the bands finer than `FINE_SIGMA` px, where a mask
predicts nothing and only the generator's texture can match.

Whole-image metrics miss this when objects cover a small part of the field: the power
spectrum of a field three quarters background is the background's (the cig default once had
0.81-0.85 of the real nuclear texture while its spectral distance matched the floor;
benchmarks/RESULTS.md, eleventh session).

scipy's `gaussian_filter` and `distance_transform_edt` do the filtering; only the band
bookkeeping is written here.
"""

import numpy as np

SIGMAS = (0.0, 0.7, 1.4, 2.8, 5.6)
FINE_SIGMA = 2.8
MIN_PIXELS = 64


def band_images(image, sigmas=SIGMAS, support=None):
    """The octave bands of a 2-D image: a list of len(sigmas) - 1 arrays of its shape.

    With `support` (boolean H x W), each blur is a normalised convolution over the support
    alone, G(image * support) / G(support): the pixels outside it do not leak in, so the
    bands inside the objects hold their texture and not the step at their outlines."""
    from scipy import ndimage

    image = np.asarray(image, np.float64)
    weight = np.ones_like(image) if support is None else np.asarray(support, np.float64)

    def blur(sigma):
        if sigma == 0:
            return image
        if support is None:
            return ndimage.gaussian_filter(image, sigma, mode="reflect")
        with np.errstate(divide="ignore", invalid="ignore"):
            return (ndimage.gaussian_filter(image * weight, sigma, mode="reflect")
                    / ndimage.gaussian_filter(weight, sigma, mode="reflect"))

    blurred = [blur(sigma) for sigma in sigmas]
    return [fine - coarse for fine, coarse in zip(blurred[:-1], blurred[1:])]


def regions(instances, interior=3, far=10):
    """{"objects": interior pixels, "background": far background pixels}, boolean H x W,
    and their supports {"objects": the objects less their outlines, "background": the
    pixels outside every object} for `band_images`."""
    from scipy import ndimage

    instances = np.asarray(instances)
    foreground = instances > 0
    # Distance of each object pixel to the nearest pixel outside its own object (touching
    # objects keep their shared outline out of the interior).
    boundary = np.zeros_like(foreground)
    boundary[:-1] |= instances[:-1] != instances[1:]
    boundary[1:] |= instances[1:] != instances[:-1]
    boundary[:, :-1] |= instances[:, :-1] != instances[:, 1:]
    boundary[:, 1:] |= instances[:, 1:] != instances[:, :-1]
    inside = ndimage.distance_transform_edt(foreground & ~boundary) >= interior
    outside = ndimage.distance_transform_edt(~foreground) > far if foreground.any() else ~foreground
    where = {"objects": inside & foreground, "background": outside}
    return where, {"objects": foreground & ~boundary, "background": ~foreground}


def field_amplitudes(image, instances, sigmas=SIGMAS, interior=3, far=10):
    """{region: per-band std (NaN where the region has under MIN_PIXELS pixels)} of one field."""
    where, supports = regions(instances, interior, far)
    result = {}
    for name, pixels in where.items():
        if pixels.sum() < MIN_PIXELS:
            result[name] = [float("nan")] * (len(sigmas) - 1)
        else:
            result[name] = [float(band[pixels].std()) for band in band_images(image, sigmas, supports[name])]
    return result


def amplitude_table(images, instances, sigmas=SIGMAS, interior=3, far=10):
    """{region: (fields, bands) array} of a set of 2-D images and their instance maps."""
    if len(images) != len(instances):
        raise ValueError(f"texture bands: {len(images)} images for {len(instances)} instance maps")
    per_field = [field_amplitudes(image, ids, sigmas, interior, far) for image, ids in zip(images, instances)]
    return {name: np.array([field[name] for field in per_field], np.float64) for name in ("objects", "background")}


def compare_bands(real, generated, sigmas=SIGMAS, fine_sigma=FINE_SIGMA):
    """Ratios of the median band amplitudes, generated / real, per region and band.

    Returns {"sigmas": band edges, "objects": {"real", "generated", "ratio"} (lists over
    bands), "background": ..., "object_texture_ratio", "background_texture_ratio"}.
    """
    result = {"sigmas": list(sigmas)}
    fine = [k for k in range(len(sigmas) - 1) if sigmas[k + 1] <= fine_sigma]
    for name in ("objects", "background"):
        real_median = _median(real[name])
        generated_median = _median(generated[name])
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = generated_median / real_median
        result[name] = {"real": real_median.tolist(), "generated": generated_median.tolist(), "ratio": ratio.tolist()}
        chosen = ratio[fine]
        chosen = chosen[np.isfinite(chosen)]
        summary = float(np.prod(chosen) ** (1 / len(fine))) if fine and len(chosen) == len(fine) else float("nan")
        result[f"{'object' if name == 'objects' else name}_texture_ratio"] = summary
    return result


def _median(table):
    table = np.asarray(table, np.float64)
    if table.size == 0:
        return np.full(table.shape[-1] if table.ndim == 2 else 0, np.nan)
    counted = np.isfinite(table).any(axis=0)
    out = np.full(table.shape[1], np.nan)
    out[counted] = np.nanmedian(table[:, counted], axis=0)
    return out
