"""SPADE: spatially-adaptive normalisation, and the SPADE residual block of GauGAN."""

import keras
from keras import ops


def _param_free_norm(kind, name):
    # No learned affine: gamma and beta come from the label map instead.
    if kind == "batch":
        return keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, center=False, scale=False, name=name)
    if kind == "instance":
        return keras.layers.GroupNormalization(groups=-1, epsilon=1e-5, center=False, scale=False, name=name)
    raise ValueError(f"unknown SPADE normalization {kind!r}; choose 'batch' or 'instance'")


@keras.saving.register_keras_serializable(package="cig_k3")
class SPADE(keras.layers.Layer):
    """out = norm(x) * (1 + gamma(label)) + beta(label), norm without learned affine.

    The label map is taken at the features' resolution by nearest sampling every
    `label_stride` pixels (the caller knows the stride of each block), then a shared
    3x3 conv + ReLU and two 3x3 convs give per-pixel gamma and beta.

    Inputs are `[features, label]` with label at `label_stride` times the features' size.

    Args:
        hidden_filters: width of the shared conv (GauGAN: 128).
        label_stride: integer ratio between the label's and the features' height.
        norm: "batch" (GauGAN's default) or "instance".
        kernel_size: of the three convolutions (GauGAN: 3).

    Example:
        >>> SPADE(hidden_filters=16, label_stride=4)([features, label]).shape == features.shape

    Reference: Park et al., "Semantic Image Synthesis with Spatially-Adaptive
    Normalization", CVPR 2019, eq. 1 and fig. 2.
    """

    def __init__(self, hidden_filters=128, label_stride=1, norm="batch", kernel_size=3, **kwargs):
        super().__init__(**kwargs)
        self.hidden_filters = hidden_filters
        self.label_stride = int(label_stride)
        self.norm = norm
        self.kernel_size = kernel_size
        self.normalize = _param_free_norm(norm, "param_free_norm")
        self.shared = keras.layers.Conv2D(hidden_filters, kernel_size, padding="same", activation="relu", name="shared")
        self.gamma = None
        self.beta = None

    def build(self, input_shapes):
        feature_shape, label_shape = input_shapes
        filters = feature_shape[-1]
        self.gamma = keras.layers.Conv2D(filters, self.kernel_size, padding="same", name="gamma")
        self.beta = keras.layers.Conv2D(filters, self.kernel_size, padding="same", name="beta")
        self.normalize.build(feature_shape)
        hidden_shape = (*label_shape[:-1], self.hidden_filters)
        self.shared.build(label_shape)
        self.gamma.build(hidden_shape)
        self.beta.build(hidden_shape)

    def call(self, inputs, training=None):
        features, label = inputs
        if self.label_stride > 1:
            label = label[:, :: self.label_stride, :: self.label_stride, :]
        label = ops.cast(label, features.dtype)
        normalized = self.normalize(features, training=training)
        hidden = self.shared(label)
        return normalized * (1.0 + self.gamma(hidden)) + self.beta(hidden)

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]

    def get_config(self):
        return {
            **super().get_config(), "hidden_filters": self.hidden_filters, "label_stride": self.label_stride,
            "norm": self.norm, "kernel_size": self.kernel_size,
        }


@keras.saving.register_keras_serializable(package="cig_k3")
class SPADEResBlock(keras.layers.Layer):
    """GauGAN's residual block: two (SPADE - LeakyReLU(0.2) - conv3x3) and a shortcut that is
    (SPADE - conv1x1, no bias) when the width changes, the identity otherwise.

    Inputs are `[features, label]`; the output has `filters` channels.

    Args:
        filters: output channels.
        hidden_filters, label_stride, norm: passed to each SPADE.

    Reference: Park et al., CVPR 2019, fig. 4 (left); NVlabs/SPADE SPADEResnetBlock.
    """

    def __init__(self, filters, hidden_filters=128, label_stride=1, norm="batch", **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.hidden_filters = hidden_filters
        self.label_stride = int(label_stride)
        self.norm = norm
        self.spade_args = {"hidden_filters": hidden_filters, "label_stride": label_stride, "norm": norm}
        self.conv_0 = None

    def build(self, input_shapes):
        feature_shape, label_shape = input_shapes
        in_filters = feature_shape[-1]
        middle = min(in_filters, self.filters)
        self.learned_shortcut = in_filters != self.filters
        self.norm_0 = SPADE(**self.spade_args, name="norm_0")
        self.conv_0 = keras.layers.Conv2D(middle, 3, padding="same", name="conv_0")
        self.norm_1 = SPADE(**self.spade_args, name="norm_1")
        self.conv_1 = keras.layers.Conv2D(self.filters, 3, padding="same", name="conv_1")
        self.norm_0.build((feature_shape, label_shape))
        self.conv_0.build(feature_shape)
        middle_shape = (*feature_shape[:-1], middle)
        self.norm_1.build((middle_shape, label_shape))
        self.conv_1.build(middle_shape)
        if self.learned_shortcut:
            self.norm_s = SPADE(**self.spade_args, name="norm_s")
            self.conv_s = keras.layers.Conv2D(self.filters, 1, use_bias=False, name="conv_s")
            self.norm_s.build((feature_shape, label_shape))
            self.conv_s.build(feature_shape)

    def call(self, inputs, training=None):
        features, label = inputs
        shortcut = features
        if self.learned_shortcut:
            shortcut = self.conv_s(self.norm_s([features, label], training=training))
        x = self.conv_0(ops.leaky_relu(self.norm_0([features, label], training=training), 0.2))
        x = self.conv_1(ops.leaky_relu(self.norm_1([x, label], training=training), 0.2))
        return shortcut + x

    def compute_output_shape(self, input_shapes):
        return (*input_shapes[0][:-1], self.filters)

    def get_config(self):
        return {
            **super().get_config(), "filters": self.filters, "hidden_filters": self.hidden_filters,
            "label_stride": self.label_stride, "norm": self.norm,
        }


@keras.saving.register_keras_serializable(package="cig_k3")
class NearestDownsample(keras.layers.Layer):
    """Keep every `stride`-th pixel: nearest-neighbour resizing of a label map by an integer
    factor, exact for one-hot labels (no blending of classes) and shape-agnostic."""

    def __init__(self, stride=1, **kwargs):
        super().__init__(**kwargs)
        self.stride = int(stride)

    def call(self, inputs):
        return inputs[:, :: self.stride, :: self.stride, :] if self.stride > 1 else inputs

    def compute_output_shape(self, input_shape):
        def size(n):
            return None if n is None else -(-n // self.stride)

        return (input_shape[0], size(input_shape[1]), size(input_shape[2]), input_shape[3])

    def get_config(self):
        return {**super().get_config(), "stride": self.stride}
