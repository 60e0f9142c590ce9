"""Label encodings: what the condition image of a mask2image sample holds.

`semantic3` (default): 0 = background, 1 = interior, 2 = boundary. From instance labels the
boundary is `skimage.segmentation.find_boundaries(instances, mode="inner")`: the object pixels
that touch another label or the background. Touching nuclei are thus separated by their
boundary pixels, and no background pixel ever becomes boundary, so the objects keep their area.
The boundary is computed with four array comparisons (a pixel differs from one of its
4-neighbours; the image edge counts as no neighbour), which gives exactly what find_boundaries
gives and is about 15 times faster; a test holds the two together.
A *semantic* input mask (``mask_type="semantic"``) must already hold 0/1/2 and is kept as it is:
re-deriving boundaries from class ids would turn every interior/boundary edge into a boundary.

`binary`: 0 = background, 1 = foreground (any non-zero label or class).

`raw`: the label values are kept as they are (uint8 when they fit, else uint16), for instance
0-255 grey-level masks; the model sees them as one scaled channel.

Reference: the three-class target follows Caicedo et al., "Evaluation of deep learning
strategies for nucleus segmentation in fluorescence images", Cytometry A 95(5), 2019.
"""

import numpy as np
from data_prep.schema import ENCODINGS, NUM_CLASSES

MASK_TYPES = ("instance", "semantic")
BACKGROUND, INTERIOR, BOUNDARY = 0, 1, 2


def check_encoding(encoding, mask_type="instance"):
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown encoding {encoding!r}; choose one of {list(ENCODINGS)}")
    if mask_type not in MASK_TYPES:
        raise ValueError(f"unknown mask type {mask_type!r}; choose one of {list(MASK_TYPES)}")


def inner_boundaries(instances):
    """Object pixels with a 4-neighbour of another label (background included).

    Same result as `skimage.segmentation.find_boundaries(instances, mode="inner")`.
    """
    differs = np.zeros(instances.shape, bool)
    vertical = instances[1:] != instances[:-1]
    horizontal = instances[:, 1:] != instances[:, :-1]
    differs[1:] |= vertical
    differs[:-1] |= vertical
    differs[:, 1:] |= horizontal
    differs[:, :-1] |= horizontal
    return differs & (instances > 0)


def semantic3_from_instances(instances):
    """uint8 H x W: 0 background, 1 interior, 2 boundary (inner boundary of every object)."""
    label = (instances > 0).astype(np.uint8)
    label[inner_boundaries(instances)] = BOUNDARY
    return label


def count_objects(instances):
    """Number of distinct non-zero labels."""
    present = np.bincount(instances.ravel())
    present[0] = 0
    return int(np.count_nonzero(present))


def encode_label(mask, encoding="semantic3", mask_type="instance", path="mask"):
    """Encode one 2-D integer mask.

    Args:
        mask: H x W non-negative integer array (already validated).
        encoding: one of `schema.ENCODINGS`.
        mask_type: "instance" (0 = background, 1..N objects) or "semantic" (class ids).
        path: the mask's name, used in error messages.

    Returns:
        (label, instances, num_objects): the encoded label (uint8 or uint16), the uint16
        instance labels or None for a semantic mask, and the object count or None.

    Example:
        >>> label, instances, n = encode_label(np.array([[0, 1], [1, 1]]), "binary")
    """
    check_encoding(encoding, mask_type)
    if mask_type == "instance":
        instances = mask.astype(np.uint16, copy=False)
        num_objects = count_objects(instances)
    else:
        instances, num_objects = None, None

    if encoding == "semantic3":
        if mask_type == "instance":
            label = semantic3_from_instances(instances)
        else:
            top = int(mask.max(initial=0))
            if top > BOUNDARY:
                raise ValueError(
                    f"{path} holds class {top} but a semantic mask for the semantic3 encoding "
                    f"must hold 0 (background), 1 (interior) and 2 (boundary) only; use "
                    f"--mask-type instance for instance labels or --encoding raw."
                )
            label = mask.astype(np.uint8)
    elif encoding == "binary":
        label = (mask > 0).astype(np.uint8)
    else:
        top = int(mask.max(initial=0))
        label = mask.astype(np.uint8 if top <= 255 else np.uint16)
    return label, instances, num_objects


def num_classes(encoding):
    return NUM_CLASSES[encoding]
