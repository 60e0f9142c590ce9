"""Attention fusion: blend a generated image into a source image through a mask."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="cig_k3")
class AttentionFusion(keras.layers.Layer):
    """output = (1 - attention) * source + attention * prediction.

    Inputs are `[source, prediction, attention]`; `attention` is a mask in [0, 1] with one
    channel (broadcast over the image channels) or as many channels as the images. Where
    the mask is 0 the source passes unchanged, which is what lets an attention-guided
    generator leave the background alone (seed 002, "fuse predictions").

    Example:
        >>> fused = AttentionFusion()([source, prediction, mask])

    Reference: Mejjati et al., "Unsupervised Attention-guided Image-to-Image Translation",
    NeurIPS 2018, eq. 1; Tang et al., AttentionGAN, 2019.
    """

    def call(self, inputs):
        source, prediction, attention = inputs
        attention = ops.cast(attention, prediction.dtype)
        return (1.0 - attention) * ops.cast(source, prediction.dtype) + attention * prediction

    def compute_output_shape(self, input_shapes):
        return input_shapes[1]
