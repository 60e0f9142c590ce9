"""Sample new instance masks whose statistics follow a training set's.

`measure_shards` reads `instances.png` of the train shards and measures, per field, the
image size and object count, and per object (skimage.measure.regionprops) the area, the
major and minor axis lengths, the eccentricity and the orientation. `sample_mask` draws a
field size and a count from the measured fields, and for each object the axes and
orientation of a measured object (jittered by a few percent), and places it as an ellipse
where it overlaps no earlier object.
"""

import logging
from dataclasses import asdict, dataclass

import numpy as np

logger = logging.getLogger(__name__)


@dataclass
class MaskStatistics:
    shapes: list  # [[H, W]] per field
    counts: list  # objects per field
    major_axes: list  # per object
    minor_axes: list
    orientations: list  # radians, skimage convention (angle of the major axis to the rows)
    areas: list
    eccentricities: list

    def to_dict(self):
        return asdict(self)

    def summary(self):
        def describe(values):
            values = np.asarray(values, dtype=np.float64)
            if values.size == 0:
                return None
            return {"mean": float(values.mean()), "std": float(values.std()), "min": float(values.min()),
                    "max": float(values.max())}

        return {"fields": len(self.counts), "objects": len(self.areas), "count": describe(self.counts),
                "area": describe(self.areas), "eccentricity": describe(self.eccentricities),
                "major_axis": describe(self.major_axes), "minor_axis": describe(self.minor_axes)}


def measure_instances(instance_images):
    """MaskStatistics of an iterable of H x W instance label images."""
    from skimage.measure import regionprops

    stats = MaskStatistics([], [], [], [], [], [], [])
    for instances in instance_images:
        regions = [region for region in regionprops(np.asarray(instances).astype(np.int64)) if region.area >= 4]
        stats.shapes.append(list(instances.shape[:2]))
        stats.counts.append(len(regions))
        for region in regions:
            stats.major_axes.append(float(region.axis_major_length))
            stats.minor_axes.append(float(max(region.axis_minor_length, 1.0)))
            stats.orientations.append(float(region.orientation))
            stats.areas.append(float(region.area))
            stats.eccentricities.append(float(region.eccentricity))
    return stats


def measure_shards(shard_dir, split="train"):
    """Measure the instance labels of a shard folder's `split`; ValueError when there are none."""
    from cig_k3.data import shards

    manifest = shards.read_manifest(shard_dir)

    def instance_images():
        for url in shards.shard_urls(shard_dir, manifest, split):
            for sample in shards.iter_tar(url):
                member = shards._find_member(sample, "instances")
                if member is not None:
                    yield np.squeeze(shards.decode_image(member, sample[member]))

    stats = measure_instances(instance_images())
    if not stats.counts:
        raise ValueError(f"{shard_dir}: the {split} split holds no instances.png members to measure "
                         "(prepare the data from instance masks).")
    if not stats.areas:
        raise ValueError(f"{shard_dir}: the {split} split holds no objects to measure.")
    return stats


def _ellipse(center, major, minor, orientation, shape):
    from skimage.draw import ellipse

    # regionprops' orientation is the angle from the row axis to the major axis; draw the
    # major semi-axis along the rows and rotate by it (checked by a round-trip test).
    return ellipse(center[0], center[1], major / 2.0, minor / 2.0, shape=shape, rotation=orientation)


def sample_mask(stats, rng, shape=None, attempts=50, jitter=0.05):
    """One uint16 instance mask: a count and objects drawn from `stats`, placed without overlap."""
    field = rng.integers(len(stats.counts))
    shape = tuple(shape) if shape is not None else tuple(stats.shapes[field])
    count = int(stats.counts[field])
    mask = np.zeros(shape, dtype=np.uint16)
    placed = 0
    for _ in range(count):
        item = rng.integers(len(stats.areas))
        scale = 1.0 + jitter * rng.standard_normal(2)
        major = max(stats.major_axes[item] * scale[0], 2.0)
        minor = min(max(stats.minor_axes[item] * scale[1], 1.5), major)
        orientation = stats.orientations[item] + jitter * rng.standard_normal()
        for _ in range(attempts):
            center = (rng.uniform(0, shape[0]), rng.uniform(0, shape[1]))
            rows, cols = _ellipse(center, major, minor, orientation, shape)
            if rows.size and not mask[rows, cols].any():
                placed += 1
                mask[rows, cols] = placed
                break
    if placed < count:
        logger.debug("placed %d of %d objects in a %s field", placed, count, shape)
    return mask


def write_masks(stats, count, out_dir, seed=0, shape=None, progress=True):
    """Write `count` sampled masks as uint16 PNGs `mask-NNNNN.png`; returns their paths."""
    import os

    import cv2
    from tqdm import tqdm

    from cig_k3.export.loading import atomic_target

    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for index in tqdm(range(count), desc="masks", unit="mask", disable=not progress):
        mask = sample_mask(stats, rng, shape=shape)
        path = os.path.join(out_dir, f"mask-{index:05d}.png")
        partial = atomic_target(path)
        if not cv2.imwrite(str(partial), mask):
            raise OSError(f"could not write {path}")
        os.replace(partial, path)
        paths.append(path)
    return paths
