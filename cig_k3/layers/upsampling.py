"""x2 upsampling by name: transposed convolution, resize-convolution or sub-pixel convolution.

A 4x4 stride-2 transposed convolution gives each of the four output phases its own kernel;
where they disagree the image carries a period-2 checkerboard. Both alternatives here start
free of it:
- "resize_conv": nearest x2 resize, then a 3x3 convolution. The resize repeats each pixel
  twice, whose response is zero at the Nyquist frequency, so no period-2 pattern can appear.
- "bilinear_conv": the same with a bilinear x2 resize. Its interpolation kernel falls off
  as cos^2 towards the Nyquist frequency instead of cos, so the copies of the low-resolution
  spectrum that every x2 step folds in (at a quarter and an eighth of the sampling rate
  after two and three steps) are damped about twice as much in dB: nearest repeats leave
  a faint grid of 2^k-pixel blocks that the spectrum's upsampling peaks see.
- "subpixel": a 3x3 convolution to 4x the filters, rearranged into a 2x larger image
  (depth to space). Its kernel starts with ICNR: the four phases share one kernel, so that
  at initialisation it equals resize-convolution; training may then let them differ.
On JAX the two also avoid XLA:CPU's slow input-dilated convolutions; "transpose" avoids them
there too, computed by phases (`cig_k3.layers.phase_conv`).
"""

import keras
from keras import ops

from cig_k3.layers import phase_conv
from cig_k3.layers.pixel_shuffle import depth_to_space

UPSAMPLINGS = ("transpose", "resize_conv", "bilinear_conv", "subpixel")


def _bilinear_axis(x, axis):
    """x2 along `axis` (1 or 2), half-pixel centres, edges clamped: output 2i is
    0.75 x[i] + 0.25 x[i - 1], output 2i + 1 is 0.75 x[i] + 0.25 x[i + 1]."""
    cut = lambda start, stop: x[(slice(None),) * axis + (slice(start, stop),)]  # noqa: E731
    previous = ops.concatenate([cut(None, 1), cut(None, -1)], axis=axis)
    following = ops.concatenate([cut(1, None), cut(-1, None)], axis=axis)
    grown = list(ops.shape(x))
    grown[axis] = 2 * grown[axis]
    return ops.reshape(ops.stack([0.75 * x + 0.25 * previous, 0.75 * x + 0.25 * following], axis=axis + 1), grown)


@keras.saving.register_keras_serializable(package="cig_k3")
class BilinearUpsampling(keras.layers.Layer):
    """Bilinear x2 resize (N, H, W, C) -> (N, 2H, 2W, C), half-pixel centres and clamped edges:
    what `keras.layers.UpSampling2D(2, interpolation="bilinear")` computes on every backend, as
    fixed weighted sums of shifted copies. Keras' layer resizes to a size computed from the
    input's shape, which TensorFlow's SavedModel and ONNX exports (dynamic height and width)
    refuse to trace; this one traces on all three backends. No weights.

    Example:
        >>> BilinearUpsampling()(keras.ops.zeros((2, 4, 6, 3))).shape
        (2, 8, 12, 3)
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.built = True

    def call(self, inputs):
        return _bilinear_axis(_bilinear_axis(inputs, 1), 2)

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        return (batch, None if height is None else 2 * height, None if width is None else 2 * width, channels)


@keras.saving.register_keras_serializable(package="cig_k3")
class SubpixelUpsampling(keras.layers.Layer):
    """Sub-pixel convolution: Conv(filters * scale**2) then depth to space, x`scale` larger.

    Args:
        filters: channels of the output.
        kernel_size: of the convolution (3: the field of a resize-convolution).
        scale: integer upsampling factor.
        use_bias: whether the convolution has a bias (False before batch norm).
        icnr: start the kernel with ICNR (one kernel repeated for the scale**2 phases), so
            that the layer starts checkerboard-free; False gives independent phases.

    Example:
        >>> SubpixelUpsampling(8)(keras.ops.zeros((2, 4, 4, 3))).shape
        (2, 8, 8, 8)

    Reference: Shi et al., "Real-Time Single Image and Video Super-Resolution Using an
    Efficient Sub-Pixel Convolutional Neural Network", CVPR 2016; Aitken et al., "Checkerboard
    artifact free sub-pixel convolution", arXiv:1707.02937, 2017 (ICNR).
    """

    def __init__(self, filters, kernel_size=3, scale=2, use_bias=True, icnr=True, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.kernel_size = kernel_size
        self.scale = int(scale)
        self.use_bias = use_bias
        self.icnr = icnr
        self.conv = keras.layers.Conv2D(filters * self.scale**2, kernel_size, padding="same", use_bias=use_bias,
                                        dtype=self.dtype_policy, name="conv")

    def build(self, input_shape):
        self.conv.build(input_shape)
        if self.icnr:
            # Output channel (phase * filters + c) gets kernel c for every phase: the order
            # depth_to_space reads, so all phases of a pixel see the same value at first.
            shape = (self.kernel_size, self.kernel_size, input_shape[-1], self.filters)
            kernel = self.conv.kernel_initializer(shape, dtype=self.conv.kernel.dtype)
            self.conv.kernel.assign(ops.tile(kernel, (1, 1, 1, self.scale**2)))

    def call(self, inputs):
        return depth_to_space(self.conv(inputs), self.scale)

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape
        grow = lambda size: None if size is None else size * self.scale  # noqa: E731
        return (batch, grow(height), grow(width), self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "scale": self.scale, "use_bias": self.use_bias, "icnr": self.icnr}


def upsample(x, filters, mode="transpose", use_bias=True, dtype=None, name="up"):
    """x2 upsampling of the symbolic tensor `x` to `filters` channels, by `mode`.

    The convolution is always named `{name}_conv`, so that "transpose" builds exactly the
    layers (and weight names) of the pix2pix U-Net before this option existed.

    Args:
        x: (N, H, W, C) Keras tensor.
        filters: output channels.
        mode: "transpose" (4x4 stride-2 ConvTranspose, pix2pix), "resize_conv" (nearest x2
            + 3x3 conv, Odena et al.), "bilinear_conv" (bilinear x2 + 3x3 conv) or
            "subpixel" (3x3 conv + depth to space, ICNR).
        use_bias: whether the convolution has a bias.
        dtype: the convolution's dtype policy (None: the global one).
        name: prefix of the layers' names.

    Reference: Odena, Dumoulin & Olah, "Deconvolution and Checkerboard Artifacts",
    Distill 2016.
    """
    if mode == "transpose":
        # Keras' Conv2DTranspose, computed without input dilation where that is faster (JAX).
        return phase_conv.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=use_bias,
                                          dtype=dtype, name=f"{name}_conv")(x)
    if mode == "resize_conv":
        x = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"{name}_resize")(x)
        return keras.layers.Conv2D(filters, 3, padding="same", use_bias=use_bias, dtype=dtype, name=f"{name}_conv")(x)
    if mode == "bilinear_conv":
        x = BilinearUpsampling(name=f"{name}_resize")(x)
        return keras.layers.Conv2D(filters, 3, padding="same", use_bias=use_bias, dtype=dtype, name=f"{name}_conv")(x)
    if mode == "subpixel":
        return SubpixelUpsampling(filters, 3, scale=2, use_bias=use_bias, dtype=dtype, name=f"{name}_conv")(x)
    raise ValueError(f"unknown upsample {mode!r}; choose one of {UPSAMPLINGS}")
