"""Small synthetic cell images with known masks, shared by the evaluation tests."""

import numpy as np
import pytest


def disc_instances(shape, centres, radius):
    """Instance labels 1..n of discs (later discs overwrite earlier ones)."""
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    labels = np.zeros(shape, dtype=np.int32)
    for index, (row, col) in enumerate(centres, start=1):
        labels[(rows - row) ** 2 + (cols - col) ** 2 <= radius**2] = index
    return labels


def semantic3(instances):
    """0 background, 1 interior, 2 boundary (the inner boundary of each object)."""
    from skimage.segmentation import find_boundaries

    classes = (instances > 0).astype(np.int32)
    classes[find_boundaries(instances, mode="inner")] = 2
    return classes


def disc_batch(rng, count, size=32):
    """(condition one-hot (N,H,W,3), target image in [-1, 1] (N,H,W,1), instances)."""
    instances = np.zeros((count, size, size), dtype=np.int32)
    for index in range(count):
        radius = int(rng.integers(4, 7))
        centres = []
        for _ in range(20):  # rejection sampling: discs that do not overlap
            centre = rng.integers(radius + 1, size - radius - 1, size=2)
            if all(np.hypot(*(centre - other)) > 2 * radius + 1 for other in centres):
                centres.append(centre)
            if len(centres) == 3:
                break
        instances[index] = disc_instances((size, size), centres, radius)
    classes = np.stack([semantic3(item) for item in instances])
    condition = np.eye(3, dtype=np.float32)[classes]
    target = np.where(instances > 0, 0.6, -0.8) + rng.normal(0, 0.15, instances.shape)
    target = np.clip(target, -1, 1).astype(np.float32)[..., None]
    return condition, target, instances


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
