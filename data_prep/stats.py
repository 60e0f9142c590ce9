"""Per-field normalisation percentiles and per-channel data set statistics.

The data set statistics (over the train split) merge per-field summaries: exact count, mean,
variance (Chan et al.'s pairwise update), min and max, and percentiles taken from a bounded
random subsample of pixels, so memory stays flat whatever the data set size.

Reference: T. F. Chan, G. H. Golub, R. J. LeVeque, "Updating formulae and a pairwise
algorithm for computing sample variances", 1979.
"""

import hashlib

import numpy as np

PERCENTILES = (1.0, 99.8)
# Pixel values kept per channel over the whole train split for the percentiles.
SAMPLE_BUDGET = 1 << 19


def _columns(image):
    return image.reshape(-1, image.shape[2] if image.ndim == 3 else 1)


def field_percentiles(image):
    """{"p_low": [...], "p_high": [...]} per channel, at PERCENTILES."""
    low, high = np.percentile(_columns(image), PERCENTILES, axis=0)
    return {"p_low": [float(v) for v in low], "p_high": [float(v) for v in high]}


def field_summary(image, sample_size, key):
    """Mergeable statistics of one field; the pixel subsample is seeded by the field key."""
    values = _columns(image)
    mean = values.mean(axis=0, dtype=np.float64)
    m2 = ((values - mean) ** 2).sum(axis=0)
    seed = int.from_bytes(hashlib.sha1(key.encode("utf-8")).digest()[:8], "big")
    picks = np.random.default_rng(seed).integers(0, values.shape[0], size=min(sample_size, values.shape[0]))
    return {
        "count": values.shape[0],
        "mean": mean,
        "m2": m2,
        "min": values.min(axis=0).astype(np.float64),
        "max": values.max(axis=0).astype(np.float64),
        "sample": values[np.sort(picks)].astype(np.float32),
    }


class RunningStats:
    """Merges `field_summary` results; `result()` gives the manifest's per-channel stats."""

    def __init__(self):
        self.count = 0
        self.mean = self.m2 = self.min = self.max = None
        self.samples = []

    def merge(self, summary):
        count = summary["count"]
        if self.count == 0:
            self.mean, self.m2 = summary["mean"].copy(), summary["m2"].copy()
            self.min, self.max = summary["min"].copy(), summary["max"].copy()
        else:
            total = self.count + count
            delta = summary["mean"] - self.mean
            self.mean = self.mean + delta * count / total
            self.m2 = self.m2 + summary["m2"] + delta**2 * self.count * count / total
            self.min = np.minimum(self.min, summary["min"])
            self.max = np.maximum(self.max, summary["max"])
        self.count += count
        self.samples.append(summary["sample"])

    def result(self):
        if self.count == 0:
            return None
        sample = np.concatenate(self.samples, axis=0)
        low, high = np.percentile(sample, PERCENTILES, axis=0)
        as_list = lambda values: [float(v) for v in values]  # noqa: E731
        return {
            "p_low": as_list(low),
            "p_high": as_list(high),
            "mean": as_list(self.mean),
            "std": as_list(np.sqrt(self.m2 / self.count)),
            "min": as_list(self.min),
            "max": as_list(self.max),
            "pixels": int(self.count),
            "sampled_pixels": int(sample.shape[0]),
        }
