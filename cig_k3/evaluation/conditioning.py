"""What a generator is fed at evaluation: the condition, plus a style image for generators
that take one.

MixLC's generator (seed 001) draws a label in the style of a raw image:
{"label": (N, H, W, C), "raw": (N, H, W, 1)}; a generator with a style encoder
(`StyleUNetGenerator`, preset realistic-style) takes the same input and reads only the raw
image's style. At evaluation each sample is drawn in the style
of another sample's real image (the next one, cyclically), so its own target never leaks in;
generators that take only the condition get the condition.

A generator that takes an instance map (`InstanceUNetGenerator`, preset realistic-instance)
gets {"label", "instances", "features"}: each object's features are drawn from the
generator's cluster centres (`sample_features`), not read from a real image, as
`cig generate` draws them.
"""

import numpy as np


def takes_style(generator):
    """Whether `generator` takes {"label", "raw"} rather than the condition alone."""
    if takes_instances(generator):  # its "raw" is the training target, never a style
        return False
    spec = getattr(generator, "input", None)
    return isinstance(spec, dict) and "raw" in spec


def takes_instances(generator):
    """Whether `generator` takes {"label", "instances", ...}: an instance map, with
    per-instance features drawn at inference."""
    from cig_k3.models.instance_encoder import takes_instances as instance_generator

    return instance_generator(generator)


def generator_inputs(generator, conditions, images, instances=None, seed=0):
    """The generator's input for `conditions` (N, H, W, C); `images` (N, H, W, c) are the real
    images of the same samples, used (shifted by one) as styles where the generator takes one.

    For a generator that takes an instance map: `instances` (N, H, W[, 1]) int ids of the
    samples' objects (None: found in the conditions, `instances_from_condition`), and the
    features of image n drawn with seed `seed + n`."""
    if takes_instances(generator):
        from cig_k3.inference.instances import instances_from_condition

        conditions = np.asarray(conditions, np.float32)
        if instances is None:
            instances = np.stack([instances_from_condition(condition) for condition in conditions])
        instances = np.asarray(instances).astype(np.int32)
        if instances.ndim == 4:
            instances = instances[..., 0]
        features = generator.sample_features(instances, seed=int(seed) + np.arange(len(instances)))
        return {"label": conditions, "instances": instances, "features": features}
    if not takes_style(generator):
        return conditions
    return {"label": conditions, "raw": np.roll(np.asarray(images), 1, axis=0)}
