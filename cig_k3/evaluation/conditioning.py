"""What a generator is fed at evaluation: the condition, plus a style image for generators
that take one.

MixLC's generator (seed 001) draws a label in the style of a raw image:
{"label": (N, H, W, C), "raw": (N, H, W, 1)}; a generator with a style encoder
(`StyleUNetGenerator`, preset realistic-style) takes the same input and reads only the raw
image's style. At evaluation each sample is drawn in the style
of another sample's real image (the next one, cyclically), so its own target never leaks in;
generators that take only the condition get the condition.
"""

import numpy as np


def takes_style(generator):
    """Whether `generator` takes {"label", "raw"} rather than the condition alone."""
    spec = getattr(generator, "input", None)
    return isinstance(spec, dict) and "raw" in spec


def generator_inputs(generator, conditions, images):
    """The generator's input for `conditions` (N, H, W, C); `images` (N, H, W, c) are the real
    images of the same samples, used (shifted by one) as styles where the generator takes one."""
    if not takes_style(generator):
        return conditions
    return {"label": conditions, "raw": np.roll(np.asarray(images), 1, axis=0)}
