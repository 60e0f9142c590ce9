"""Per-channel spatial statistics of a feature map, free of the map's scale: one vector per image."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="cig_k3")
class SpatialMoments(keras.layers.Layer):
    """(batch, height, width, channels) -> (batch, 2 * channels): each channel's log standard
    deviation over the image, then its mean in units of that standard deviation, computed in
    float32 (the variance plus `epsilon`).

    The multi-scale discriminator's image-level head reads these from its convolutions'
    outputs before instance norm: how strongly a whole crop answers each filter, which the
    norm divides away before the patch logits see it. A linear read-out of pooled features
    is also how the C2ST scores realism (`cig_k3.evaluation.c2st`).

    Why the log and the ratio: the norm makes the patch logits blind to the scale of the
    convolution's weights, so nothing holds that scale, and plain moments of those outputs
    grow as the weights do. A linear head on them made the discriminator's loss jump from
    0.26 to 3-5 within five epochs on BBBC039 (benchmarks/RESULTS.md). Scaled weights shift
    the log standard deviation by a constant and leave the ratio unchanged.

    Example:
        >>> x = keras.ops.reshape(keras.ops.arange(4, dtype="float32"), (1, 2, 2, 1))
        >>> [round(v, 3) for v in keras.ops.convert_to_numpy(SpatialMoments()(x))[0].tolist()]
        [0.112, 1.342]
    """

    def __init__(self, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def call(self, x):
        x = ops.cast(x, "float32")
        mean = ops.mean(x, axis=(1, 2))
        variance = ops.mean(ops.square(x - mean[:, None, None, :]), axis=(1, 2)) + self.epsilon
        return ops.concatenate([0.5 * ops.log(variance), mean / ops.sqrt(variance)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 2 * input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}
