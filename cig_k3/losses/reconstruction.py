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
