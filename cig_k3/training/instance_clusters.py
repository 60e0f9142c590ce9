"""After training: k-means clusters of the train split's per-instance features.

pix2pixHD samples its instance features at inference from clusters of the features its
encoder gives the training set's objects. `fit_instance_clusters` encodes whole train fields
(no crops, no augmentation), averages the feature map inside every instance and hands the
features to the generator's `fit_clusters`, whose centres are then saved with it, and
each field's features to its `fit_bank` (the "fields" draw).
"""

import logging

import keras
import numpy as np

log = logging.getLogger(__name__)


def instance_means(feature_map, instances):
    """(n, F) mean of `feature_map` (H, W, F) over each of the n instances of `instances`
    (H, W) int, in increasing id order; the background (0) is left out."""
    from scipy import ndimage

    ids = np.asarray(instances)
    feature_map = np.asarray(feature_map, np.float64).reshape(*ids.shape, -1)
    present = np.unique(ids[ids > 0])
    if not present.size:
        return np.zeros((0, feature_map.shape[-1]))
    return np.stack([ndimage.mean(feature_map[..., f], ids, present) for f in range(feature_map.shape[-1])],
                    axis=1)


def _padded(image, instances, multiple):
    """The image reflect-padded and the instances zero-padded to multiples of `multiple`."""
    height, width = image.shape[:2]
    pad_height, pad_width = -height % multiple, -width % multiple
    if not (pad_height or pad_width):
        return image, instances
    mode = "reflect" if min(height, width) > max(pad_height, pad_width) else "edge"
    image = np.pad(image, ((0, pad_height), (0, pad_width), (0, 0)), mode=mode)
    return image, np.pad(instances, ((0, pad_height), (0, pad_width)))


def fit_instance_clusters(generator, shards, seed=0, max_fields=128):
    """Fit `generator`'s cluster centres (`fit_clusters`) on the per-instance features of up to
    `max_fields` whole fields of the train split of `shards`; returns the number of instances.

    Example:
        >>> fit_instance_clusters(gan.generator, "data/bbbc039", seed=0)
        2291
    """
    from cig_k3.data import BatchStream

    stream = BatchStream(shards, split="train", batch_size=1, crop=None, augment=None, seed=seed,
                         with_instances=True, training=False)
    multiple = generator.encoder.size_multiple
    features = []
    for index, (_, target, instances) in enumerate(stream.epoch(0)):
        if index >= max_fields:
            break
        image, ids = _padded(np.asarray(target[0], np.float32), np.asarray(instances[0]), multiple)
        feature_map = keras.ops.convert_to_numpy(generator.feature_map(image[None], ids[None], training=False))[0]
        features.append(generator.instance_features(instance_means(feature_map, ids)))
    per_field = features
    features = np.concatenate(features) if features else np.zeros((0, generator.feature_dim))
    generator.fit_clusters(features, seed=seed)
    generator.fit_bank(per_field, seed=seed)
    log.info("fitted %d instance-feature clusters on %d instances of %d train fields of %s",
             generator.num_clusters, len(features), min(index + 1, max_fields) if features.size else 0, shards)
    return len(features)


class FitInstanceClusters(keras.callbacks.Callback):
    """Fits the generator's clusters (`fit_instance_clusters`) when training ends, before the
    callbacks after it (tracking) log the generator, so that what they log can draw.

    A run resumed past its last epoch trains nothing, so no callback ends it: `train()` fits
    the clusters itself. Training stopped by `guard` (a `NaNGuard` that saw a non-finite loss)
    fits nothing: the run rolls back or stops.
    """

    def __init__(self, shards, seed=0, guard=None):
        super().__init__()
        self.shards = shards
        self.seed = seed
        self.guard = guard

    def on_train_end(self, logs=None):
        if self.guard is not None and self.guard.message is not None:
            return
        fit_instance_clusters(self.model.generator, self.shards, seed=self.seed)
