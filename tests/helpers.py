"""Helpers shared by the tests (not a test module): the one tiny training config.

`tiny_config(shards, out)` is the smallest useful `cig` run: a depth-3 U-Net with 8 filters,
a 2-layer PatchGAN, 32x32 crops, batch 2, one epoch of two steps, no augmentation, one
validation batch. Keyword overrides go on top, a dict merging into its section:

    tiny_config(shards, tmp_path / "run", epochs=2, data={"augment": True})

Tests that write the config to a file (`cig train --config`) use `tiny_values`, the same as
a nested dict.
"""

import copy

TINY = {
    "data": {"crop": 32, "batch_size": 2, "augment": False, "validation_batches": 1},
    "model": {
        "generator_args": {"base_filters": 8, "depth": 3, "max_filters": 16, "dropout_layers": 1},
        "discriminator_args": {"base_filters": 8, "num_downsamples": 2, "padding": "same"},
    },
    "epochs": 1,
    "steps_per_epoch": 2,
    "num_samples": 1,
    "verbose": 0,
    "jit": "off",
}


def tiny_values(shards, out, **overrides):
    """The tiny config as a nested dict of overrides of the `cig` preset."""
    values = copy.deepcopy(TINY)
    values["data"]["shards"] = str(shards)
    values["out"] = str(out)
    for key, value in overrides.items():
        if isinstance(value, dict):
            values.setdefault(key, {}).update(value)
        else:
            values[key] = value
    return values


def tiny_config(shards, out, **overrides):
    """The tiny config as a validated TrainConfig of the `cig` preset."""
    from cig_k3.config import config_from_preset

    return config_from_preset("cig", tiny_values(shards, out, **overrides))
