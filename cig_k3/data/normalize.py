"""Intensity normalisation between a data set's native scale and the model's [-1, 1].

The percentiles come from the manifest (`stats`), computed over the train split, so that
generated images can be written back in the data's original scale and dtype.
"""

import numpy as np


def to_model_range(image, p_low, p_high):
    """Map `image` (H x W x C, any dtype) to float32 in [-1, 1], channel by channel.

    Values below p_low / above p_high are clipped: tanh outputs cannot reach beyond them.
    """
    p_low = np.asarray(p_low, dtype=np.float32)
    p_high = np.asarray(p_high, dtype=np.float32)
    scale = np.maximum(p_high - p_low, np.float32(1e-6))
    out = (np.asarray(image, dtype=np.float32) - p_low) / scale
    return np.clip(out * 2.0 - 1.0, -1.0, 1.0, dtype=np.float32)


def from_model_range(image, p_low, p_high, dtype="float32"):
    """Inverse of `to_model_range`: [-1, 1] floats back to the native scale and `dtype`."""
    p_low = np.asarray(p_low, dtype=np.float32)
    p_high = np.asarray(p_high, dtype=np.float32)
    out = (np.asarray(image, dtype=np.float32) + 1.0) / 2.0 * (p_high - p_low) + p_low
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        out = np.clip(np.rint(out), info.min, info.max)
    return out.astype(dtype)
