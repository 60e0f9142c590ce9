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


def to_unit_range(image, p_low, p_high):
    """Map `image` (H x W x C) to float32 in [0, 1] with the percentiles, clipping outside.

    The augmentations that change intensity (noise, brightness, gamma) work on this scale;
    `unit_to_model_range` then gives the model's [-1, 1]. The two together equal
    `to_model_range`.
    """
    p_low = np.asarray(p_low, dtype=np.float32)
    p_high = np.asarray(p_high, dtype=np.float32)
    scale = np.float32(1.0) / np.maximum(p_high - p_low, np.float32(1e-6))
    out = np.asarray(image, dtype=np.float32) - p_low
    out *= scale
    return np.clip(out, 0.0, 1.0, out=out)


def unit_to_model_range(image):
    """[0, 1] floats -> [-1, 1] float32, clipping what noise pushed outside."""
    out = np.asarray(image, dtype=np.float32) * np.float32(2.0) - np.float32(1.0)
    return np.clip(out, -1.0, 1.0, out=out)


def label_scale(dtype):
    """The divisor of a label stored with "raw" encoding: the largest value of its dtype.

    A uint8 label (e.g. 0-255 grey levels) is divided by 255, a uint16 one by 65535, so the
    scale is fixed by the storage type and never by the values of one field.
    """
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.integer):
        return float(np.iinfo(dtype).max)
    return 1.0


def encode_label(label, encoding, num_classes):
    """Encode an H x W label as the model's condition, float32 H x W x channels.

    "semantic3" / "binary": one-hot over `num_classes` (values 0/1); ids outside
    [0, num_classes) raise. "raw": one channel, label / `label_scale(dtype)` mapped to [-1, 1].
    """
    if encoding == "raw":
        out = label.astype(np.float32) * np.float32(2.0 / label_scale(label.dtype)) - np.float32(1.0)
        return out[..., None]
    if label.size and int(label.max()) >= num_classes:
        raise ValueError(
            f"label value {int(label.max())} is outside the {num_classes} classes of encoding {encoding!r}"
        )
    # Row lookup in the identity matrix: one pass, about twice as fast as comparing.
    return np.take(np.eye(num_classes, dtype=np.float32), label, axis=0)
