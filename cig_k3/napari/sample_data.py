"""The plugin's sample data: a synthetic nuclei field and its labels, from CIG's own
generator (`data_prep.synthetic`), so that the plugin can be tried with no data at hand.

Example:
    >>> [kind for _, _, kind in synthetic_nuclei()]
    ['image', 'labels']
"""

import numpy as np

from data_prep.synthetic import MAX_VALUE, make_field

SIZE = 256
SEED = 0


def synthetic_nuclei(size=SIZE, seed=SEED):
    """[(image, kwargs, "image"), (labels, kwargs, "labels")]: a seeded uint16 field of
    Hoechst-like nuclei (12-bit) and its exact instance labels."""
    raw, instances = make_field(np.random.default_rng(seed), size)
    metadata = {"synthetic": True, "generator": "data_prep.synthetic", "seed": seed}
    return [
        (raw, {"name": "synthetic nuclei", "contrast_limits": [0, int(min(raw.max(), MAX_VALUE)) or 1],
               "metadata": metadata}, "image"),
        (instances, {"name": "synthetic nuclei labels", "metadata": metadata}, "labels"),
    ]
