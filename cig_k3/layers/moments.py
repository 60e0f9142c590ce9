"""Per-channel spatial mean and standard deviation of a feature map: one vector per image."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="cig_k3")
class SpatialMoments(keras.layers.Layer):
    """(batch, height, width, channels) -> (batch, 2 * channels): each channel's mean over the
    image, then its standard deviation, computed in float32.

    The multi-scale discriminator's image-level head reads these from its convolutions'
    outputs before instance norm: how strongly a whole crop answers each filter, which the
    norm divides away before the patch logits see it. A linear read-out of pooled features
    is also how the C2ST scores realism (`cig_k3.evaluation.c2st`).

    Example:
        >>> x = keras.ops.ones((2, 4, 4, 3))
        >>> keras.ops.convert_to_numpy(SpatialMoments()(x))[0].tolist()
        [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    """

    def __init__(self, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def call(self, x):
        x = ops.cast(x, "float32")
        mean = ops.mean(x, axis=(1, 2))
        variance = ops.mean(ops.square(x - mean[:, None, None, :]), axis=(1, 2))
        # epsilon keeps the square root's gradient finite on a constant channel; subtracted
        # back so that a constant channel reads 0.
        return ops.concatenate([mean, ops.sqrt(variance + self.epsilon) - ops.sqrt(self.epsilon)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 2 * input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}
