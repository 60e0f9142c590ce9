"""Normalisation by name, so architectures can switch batch / instance norm by argument."""

import keras

NORMALIZATIONS = ("batch", "instance", "none")


def normalization(kind, name=None):
    """Return a normalisation layer: "batch", "instance" (GroupNorm with one group per
    channel, i.e. instance norm) or "none" (identity)."""
    if kind == "batch":
        return keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=name)
    if kind == "instance":
        return keras.layers.GroupNormalization(groups=-1, epsilon=1e-5, name=name)
    if kind == "none":
        return keras.layers.Identity(name=name)
    raise ValueError(f"unknown normalization {kind!r}; choose one of {NORMALIZATIONS}")
