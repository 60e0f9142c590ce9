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


def log_power_spectrum(images, epsilon=1e-8):
    """log of the batch's mean 2-D power spectrum, per channel: (channels, height, width).

    Each image's mean is subtracted first; the power is divided by the pixel count, so that
    white noise of variance v has power v at every frequency. Computed in float32.
    """
    images = ops.cast(images, "float32")
    images = images - ops.mean(images, axis=(1, 2), keepdims=True)
    planes = ops.transpose(images, (0, 3, 1, 2))
    real, imaginary = ops.fft2((planes, ops.zeros_like(planes)))
    pixels = ops.cast(ops.shape(images)[1] * ops.shape(images)[2], "float32")  # also when unknown until run time
    power = ops.mean(real * real + imaginary * imaginary, axis=0) / pixels
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
