"""MixLC pasting: a square of sample b's label and image pasted into sample a.

From two samples a and b (already cropped, augmented and encoded), the mixed label is a's
label with a square from b's, and the mixed image a's raw image with the same square from
b's raw image. The model sees a's raw image with the mixed label and must draw the mixed
image: it learns to follow the label where it disagrees with the image it was shown.

Reference: the MixLC ACGAN note ("mix landcover to create targets"): rgb_ab and lc_ab are
rgb_a / lc_a with a square from rgb_b / lc_b; input rgb_a + lc_ab, target rgb_ab.
"""

import numpy as np

MIXING_MODES = ("random", "center")


def check_mixing(mode, fraction):
    """Validate a mixing mode and side fraction; returns fraction as (low, high)."""
    if mode not in MIXING_MODES:
        raise ValueError(f"unknown mixing mode {mode!r}; choose one of {MIXING_MODES} or None")
    low, high = (fraction, fraction) if np.isscalar(fraction) else fraction
    if not 0.0 < low <= high <= 1.0:
        raise ValueError(f"mix_fraction must lie in (0, 1] with low <= high; got {fraction}")
    return float(low), float(high)


def square_box(height, width, rng, mode, fraction):
    """(top, left, side) of the square: side = fraction x min(height, width), fraction
    drawn uniformly in `fraction` = (low, high); centred, or placed uniformly at random."""
    low, high = check_mixing(mode, fraction)
    side = max(1, int(round(rng.uniform(low, high) * min(height, width))))
    if mode == "center":
        return (height - side) // 2, (width - side) // 2, side
    return int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1)), side


def paste_square(a, b, box):
    """A copy of `a` with the square `box` = (top, left, side) taken from `b`."""
    top, left, side = box
    out = a.copy()
    out[top:top + side, left:left + side] = b[top:top + side, left:left + side]
    return out


def mix_samples(a, b, box):
    """Mix two encoded samples ({"condition", "target"[, "instances"]}) into one.

    Returns {"condition": {"label": mixed label, "raw": a's target}, "target": mixed target}
    and, when both carry them, "instances" with b's ids shifted past a's so that no two
    objects share an id.
    """
    mixed = {
        "condition": {"label": paste_square(a["condition"], b["condition"], box), "raw": a["target"]},
        "target": paste_square(a["target"], b["target"], box),
    }
    if "instances" in a and "instances" in b:
        offset = int(a["instances"].max())
        shifted = np.where(b["instances"] > 0, b["instances"] + offset, 0).astype(a["instances"].dtype)
        mixed["instances"] = paste_square(a["instances"], shifted, box)
    if "key" in a:
        mixed["key"] = f"{a['key']}+{b.get('key')}"
    return mixed
