"""Instance-wise average pooling and its inverse, the broadcast of per-instance features.

pix2pixHD's feature encoder gives one feature vector per object: the encoder's feature map
averaged over each instance's pixels. `InstanceAveragePooling` computes that table, one row
per instance id, with a segment sum (no one-hot of the ids, so its cost does not grow with
the number of objects); `InstanceBroadcast` paints each instance's row back over its pixels,
0 on the background. Between the two sits the table, which inference fills from k-means
cluster centres instead (`cig_k3.models.instance_encoder`).
"""

import keras
from keras import ops


def _ids(instances):
    """Instance ids as int32 (N, H, W); a trailing channel axis of 1 is dropped."""
    instances = ops.convert_to_tensor(instances)
    if len(instances.shape) == 4:
        instances = instances[..., 0]
    return ops.cast(instances, "int32")


@keras.saving.register_keras_serializable(package="cig_k3")
class InstanceAveragePooling(keras.layers.Layer):
    """[features (N, H, W, F), instances (N, H, W) or (N, H, W, 1) int] -> (N, max_instances, F).

    Row i of image n is the mean of `features[n]` over the pixels whose id is i; row 0 (the
    background) and the rows of absent ids are 0. Ids at or above `max_instances` share the
    last row: feed ids renumbered 1..n per crop (`cig_k3.data.pipeline.compact_instances`),
    as training batches are. Computed in float32 whatever the dtype policy.

    Args:
        max_instances: rows of the table, the largest id + 1 it keeps apart.

    Example:
        >>> table = InstanceAveragePooling(16)([keras.ops.ones((2, 32, 32, 3)), ids])  # (2, 16, 3)

    Reference: Wang et al., "High-Resolution Image Synthesis and Semantic Manipulation with
    Conditional GANs" (pix2pixHD), CVPR 2018, sec. 3.4 (instance-wise average pooling).
    """

    def __init__(self, max_instances=256, **kwargs):
        super().__init__(**kwargs)
        if int(max_instances) < 2:
            raise ValueError(f"max_instances={max_instances} in the instance generator's generator_args must be >= 2")
        self.max_instances = int(max_instances)
        self.built = True  # no weights; built now, so that Keras never traces a model to build it

    def call(self, inputs):
        features, instances = inputs
        features = ops.cast(features, "float32")
        ids = ops.clip(_ids(instances), 0, self.max_instances - 1)
        batch, channels = ops.shape(features)[0], features.shape[-1]
        # One segment per (image, id): image n's id i is segment n * max_instances + i.
        offsets = ops.arange(batch, dtype="int32")[:, None, None] * self.max_instances
        segments = ops.reshape(ids + offsets, (-1,))
        num_segments = batch * self.max_instances
        sums = ops.segment_sum(ops.reshape(features, (-1, channels)), segments, num_segments=num_segments)
        counts = ops.segment_sum(ops.ones_like(segments, dtype="float32"), segments, num_segments=num_segments)
        means = sums / ops.maximum(counts, 1.0)[:, None]
        foreground = ops.cast(ops.arange(self.max_instances) > 0, "float32")[None, :, None]
        return ops.reshape(means, (-1, self.max_instances, channels)) * foreground

    def compute_output_shape(self, input_shapes):
        features_shape = input_shapes[0]
        return (features_shape[0], self.max_instances, features_shape[-1])

    def get_config(self):
        return {**super().get_config(), "max_instances": self.max_instances}


@keras.saving.register_keras_serializable(package="cig_k3")
class InstanceBroadcast(keras.layers.Layer):
    """[table (N, M, F), instances (N, H, W) or (N, H, W, 1) int] -> (N, H, W, F) float32.

    Each pixel gets its instance's row of the table, the background (id 0) gets 0. Ids at or
    above M take the last row. M may be any size: a field's whole table at inference, so that
    every tile of the field reads the same row for one object.

    Example:
        >>> feature_map = InstanceBroadcast()([table, ids])  # (N, H, W, F)

    Reference: Wang et al., pix2pixHD, CVPR 2018, sec. 3.4.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.built = True  # no weights

    def call(self, inputs):
        table, instances = inputs
        table = ops.cast(table, "float32")
        instances = _ids(instances)
        rows, channels = ops.shape(table)[1], table.shape[-1]
        ids = ops.clip(instances, 0, rows - 1)
        offsets = ops.arange(ops.shape(table)[0], dtype="int32")[:, None, None] * rows
        feature_map = ops.take(ops.reshape(table, (-1, channels)), ids + offsets, axis=0)
        return feature_map * ops.cast(instances > 0, "float32")[..., None]

    def compute_output_shape(self, input_shapes):
        table_shape, instances_shape = input_shapes
        return (*tuple(instances_shape)[:3], table_shape[-1])
