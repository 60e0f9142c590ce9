"""Pixel reconstruction terms."""

from keras import ops


def low_pass_l1(target, fake, scale=1):
    """Mean |target - fake| of the two images averaged over `scale` x `scale` blocks.

    At scale 1 it is the plain L1 of pix2pix. A paired L1 is minimised by the conditional
    mean, so at the pixel scale it asks for a smooth image wherever the target's texture
    (camera noise, chromatin grain) cannot be predicted from the mask; the generator learns
    to paint it flat. Compared after block averaging, the L1 still pins down brightness,
    shading and where the cells are, and leaves the texture below `scale` pixels to the
    adversarial and feature-matching terms, which reward texture with the real statistics.
    Images whose sides are not multiples of `scale` lose the remainder rows and columns.
    """
    target = ops.cast(target, fake.dtype)
    if scale > 1:
        target = ops.average_pool(target, scale, strides=scale, padding="valid")
        fake = ops.average_pool(fake, scale, strides=scale, padding="valid")
    return ops.mean(ops.abs(target - fake))


def rim_band(mask, width=3):
    """The objects' rims, (batch, height, width, 1) of 0 and 1: from each object's outermost
    pixel out to `width` pixels beyond its edge (the mask dilated by `width`, less the mask
    eroded by one pixel), in a square neighbourhood."""
    mask = ops.cast(mask, "float32")
    grown = ops.max_pool(mask, 2 * width + 1, strides=1, padding="same")
    core = 1.0 - ops.max_pool(1.0 - mask, 3, strides=1, padding="same")
    return grown - core


def rim_l1(target, fake, mask, scale=4, width=3):
    """The L1 of the two images averaged over `scale` x `scale` blocks, over the blocks that
    touch an object's rim (`rim_band`) alone, divided by the number of all blocks.

    Added to a `low_pass_l1` on coarser blocks, it holds the edges as a fine L1 would and
    leaves the objects' insides to the coarse one. On BBBC039 an L1 on 16x16 blocks freed
    the nuclei's texture (the nuclei alone told from real at C2ST 0.746, against 0.815 on
    4x4 blocks) but drew their rims unlike real ones: the rims added 0.100 to what the nuclei
    alone gave away, against 0.009 on 4x4 blocks (benchmarks/RESULTS.md, nineteenth
    session). Divided by all blocks, not the rim's, so that the term weighs as much per block
    as the plain L1 at `scale` and vanishes in fields with no objects. Images whose sides are
    not multiples of `scale` lose the remainder rows and columns.
    """
    target = ops.cast(target, fake.dtype)
    touched = ops.max_pool(rim_band(mask, width), scale, strides=scale, padding="valid")
    target = ops.average_pool(target, scale, strides=scale, padding="valid")
    fake = ops.average_pool(fake, scale, strides=scale, padding="valid")
    return ops.mean(ops.cast(touched, fake.dtype) * ops.abs(target - fake))


def log_power_spectrum(images, epsilon=1e-8, pool=1):
    """log of the batch's mean 2-D power spectrum, per channel: (channels, height, width).

    Each image's mean is subtracted first; the power is divided by the pixel count, so that
    white noise of variance v has power v at every frequency. Computed in float32. With
    `pool` > 1 the power is averaged over blocks of pool x pool frequencies before the log:
    (channels, height // pool, width // pool), a steadier estimate from a small batch.
    """
    images = ops.cast(images, "float32")
    images = images - ops.mean(images, axis=(1, 2), keepdims=True)
    planes = ops.transpose(images, (0, 3, 1, 2))
    real, imaginary = ops.fft2((planes, ops.zeros_like(planes)))
    pixels = ops.cast(ops.shape(images)[1] * ops.shape(images)[2], "float32")  # also when unknown until run time
    power = ops.mean(real * real + imaginary * imaginary, axis=0) / pixels
    if pool > 1:
        power = ops.average_pool(power[..., None], pool, strides=pool, padding="valid")[..., 0]
    return ops.log(power + epsilon)


def spectrum_l1(target, fake):
    """Mean |log P_target - log P_fake| over every 2-D frequency of the two batches' mean
    power spectra (`log_power_spectrum`).

    The power spectrum is blind to where things are (a shifted texture has the same one), so
    unlike a pixel L1 it does not ask for the conditional mean: it asks that the generated
    images carry as much power as the real ones at each frequency, no more (no checkerboard
    peak at the upsampling frequencies, the periods 2, 4 and 8 that the L1 on 4 x 4 blocks
    cannot see) and no less (no grain painted flat). Durall et al. (CVPR 2020) match the
    radially averaged spectrum; the 2-D one keeps the peaks, which lie off the axes too.
    """
    return ops.mean(ops.abs(ops.stop_gradient(log_power_spectrum(target)) - log_power_spectrum(fake)))


def interior_texture(images, mask, window=7):
    """The texture inside the mask: each image minus its `window` x `window` box blur,
    multiplied by the mask eroded by window // 2 pixels, with a border of window // 2 pixels
    cut off: (batch, height - 2 * (window // 2), width - 2 * (window // 2), channels).

    The blur's residual holds the detail finer than about `window` pixels; the erosion keeps
    the objects' outlines out of it, so that what remains is the texture within them (for
    nuclei, chromatin grain and camera noise) and not their edges or their brightness.
    """
    half = window // 2
    images = ops.cast(images, "float32")
    mask = ops.cast(mask, "float32")
    residual = images - ops.average_pool(images, window, strides=1, padding="same")
    interior = 1.0 - ops.max_pool(1.0 - mask, window, strides=1, padding="same")
    texture = residual * interior
    return texture[:, half:-half, half:-half, :] if half else texture


def interior_spectrum_l1(target, fake, mask, window=7, pool=4):
    """`spectrum_l1` of the texture inside the mask (`interior_texture`), the power averaged
    over pool x pool frequencies.

    Over whole crops, mostly background in sparse fields, the spectrum term is held by the
    background's grain and lets the objects' own texture fall short: on BBBC039 the
    generated nuclei had 0.81-0.85 of the real amplitude below 3 px while the background
    matched (benchmarks/RESULTS.md, eleventh session). Target and fake share the mask, so the
    window it cuts out has the same effect on both spectra, and what differs is the texture.
    Images too small for one pool x pool block of interior give 0.
    """
    height, width = fake.shape[1], fake.shape[2]
    if height is not None and width is not None and min(height, width) - 2 * (window // 2) < pool:
        return ops.zeros((), "float32")  # no interior window to measure (images of a few pixels)
    real = log_power_spectrum(interior_texture(target, mask, window), pool=pool)
    generated = log_power_spectrum(interior_texture(fake, mask, window), pool=pool)
    return ops.mean(ops.abs(ops.stop_gradient(real) - generated))
