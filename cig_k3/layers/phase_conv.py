"""Strided convolutions and transposed convolutions computed by stride-1 convolutions only.

A k x k convolution with stride s (k a multiple of s) reads, for each output pixel, k/s
blocks of s x s input pixels per axis. After space to depth (each s x s block becomes one
pixel with s*s times the channels) it is a (k/s) x (k/s) stride-1 convolution whose kernel
is the k x k kernel regrouped by (block, pixel in block). A k x k transposed convolution
with stride s gives each of the s x s output phases (output pixels s*m + q) its own
(k/s) x (k/s) sub-kernel; one stride-1 convolution to s*s times the filters computes all
phases, and depth to space interleaves them. Both do the same multiplications as the
strided form, plus one extra row and column of blocks.

Why: XLA:CPU lowers a transposed convolution and the input gradient of a strided
convolution to its generic input-dilated convolution, which took 69 % of a JAX pix2pix step
at 256x256 (benchmarks/RESULTS.md, "Step profile"). Here neither appears, forward or
backward. TensorFlow's and PyTorch's own kernels are already fast, so `implementation="auto"`
uses the phases on the backends in `PHASES_BY_DEFAULT` only ("Issue 18: JAX without
input-dilated convolutions" in benchmarks/RESULTS.md has the measurements).

The layers keep Keras' class names, variables, shapes and call semantics: the weights are
the same `kernel` and `bias`, rearranged inside `call` (a few reshapes of a small tensor),
and Keras names a saved model's weights after the class name (`layers/conv2d_3/vars`), so
files saved with `keras.layers.Conv2D` / `Conv2DTranspose` load into these and back.
"""

import keras
from keras import ops

from cig_k3.layers.pixel_shuffle import depth_to_space, space_to_depth

IMPLEMENTATIONS = ("auto", "phases", "keras")

# Backends where "auto" computes by phases. Measured on pix2pix at 256 (benchmarks/RESULTS.md):
# JAX 3.6x (batch 1) and 6.8x (batch 4) less CPU per step; TensorFlow 7 % more; torch equal
# within noise, and its extra NHWC copies are what it already spends most on.
PHASES_BY_DEFAULT = {"jax": True, "tensorflow": False, "torch": False, "numpy": False}


def _check_implementation(implementation, layer_name):
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(f"unknown implementation {implementation!r} for layer {layer_name!r} "
                         f"(cig_k3/layers/phase_conv.py); choose one of {IMPLEMENTATIONS}")


def _phase_geometry(layer):
    """(kernel size, stride) when `layer` can run by phases, else None (Keras' own op)."""
    kernel_size, strides = tuple(layer.kernel_size), tuple(layer.strides)
    if kernel_size[0] != kernel_size[1] or strides[0] != strides[1] or strides[0] < 2:
        return None
    if kernel_size[0] % strides[0] or tuple(layer.dilation_rate) != (1, 1) or getattr(layer, "groups", 1) != 1:
        return None
    if layer.data_format != "channels_last" or layer.padding not in ("same", "valid"):
        return None
    return kernel_size[0], strides[0]


def _use_phases(layer):
    if layer.implementation == "auto":
        return PHASES_BY_DEFAULT.get(keras.backend.backend(), False)
    return layer.implementation == "phases"


def _finish(layer, outputs):
    """Bias and activation, as Keras' convolution layers apply them."""
    if layer.use_bias:
        outputs = ops.add(outputs, ops.reshape(layer.bias, (1, 1, 1, layer.filters)))
    if layer.activation is not None:
        outputs = layer.activation(outputs)
    return outputs


@keras.saving.register_keras_serializable(package="cig_k3")
class Conv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D` that computes a k x k stride-s convolution as space to depth
    followed by a (k/s) x (k/s) stride-1 convolution.

    Same arguments, variables and outputs as `keras.layers.Conv2D`. Square kernels whose
    size is a multiple of the (equal) strides, without dilation or groups, channels-last, padding
    "same" or "valid", run by phases; anything else runs Keras' own convolution.

    Args:
        filters: output channels.
        kernel_size: size of the kernel.
        implementation: "auto" (phases on the backends in `PHASES_BY_DEFAULT`), "phases"
            or "keras" (Keras' own strided convolution).
        **kwargs: any other argument of `keras.layers.Conv2D` (strides, padding, ...).

    Example:
        >>> layer = Conv2D(8, 4, strides=2, padding="same", implementation="phases")
        >>> layer(keras.ops.zeros((2, 32, 32, 3))).shape
        (2, 16, 16, 8)

    Reference: Dumoulin & Visin, "A guide to convolution arithmetic for deep learning",
    arXiv:1603.07285, 2016 (strided convolutions and their transposes).
    """

    def __init__(self, filters, kernel_size, implementation="auto", **kwargs):
        super().__init__(filters, kernel_size, **kwargs)
        _check_implementation(implementation, self.name)
        self.implementation = implementation

    def call(self, inputs):
        geometry = _phase_geometry(self)
        length = inputs.shape[1], inputs.shape[2]
        if geometry is None or None in length or not _use_phases(self):
            return super().call(inputs)
        kernel_size, stride = geometry
        taps = kernel_size // stride
        # Per axis: Keras' (TensorFlow's) padding, then pad or cut the end so that the
        # output's windows cover exactly (out + taps - 1) whole blocks.
        padding = []
        for size in length:
            if self.padding == "same":
                out = -(-size // stride)
                before = max((out - 1) * stride + kernel_size - size, 0) // 2
            else:
                out = (size - kernel_size) // stride + 1
                before = 0
            padding.append((before, (out + taps - 1) * stride - before - size))
        x = inputs
        if padding[0][1] < 0 or padding[1][1] < 0:  # "valid" leaves the last pixel of an odd length unread
            x = x[:, : length[0] + min(padding[0][1], 0), : length[1] + min(padding[1][1], 0), :]
        padding = [(before, max(after, 0)) for before, after in padding]
        if any(padding[0] + padding[1]):
            x = ops.pad(x, [(0, 0), padding[0], padding[1], (0, 0)])
        x = space_to_depth(x, stride)
        # kernel (k, k, C_in, C_out), k = stride * tap + phase -> (tap_h, tap_w, phases and C_in, C_out),
        # the channel order of space_to_depth.
        kernel = ops.reshape(self.kernel, (taps, stride, taps, stride, -1, self.filters))
        kernel = ops.transpose(kernel, (0, 2, 1, 3, 4, 5))
        kernel = ops.reshape(kernel, (taps, taps, -1, self.filters))
        return _finish(self, ops.conv(x, kernel, strides=1, padding="valid", data_format="channels_last"))

    def get_config(self):
        return {**super().get_config(), "implementation": self.implementation}


@keras.saving.register_keras_serializable(package="cig_k3")
class Conv2DTranspose(keras.layers.Conv2DTranspose):
    """`keras.layers.Conv2DTranspose` that computes a k x k stride-s transposed convolution
    as one (k/s) x (k/s) stride-1 convolution to s*s*filters channels and depth to space.

    Per axis, the full (uncropped) transposed output at u = s*j + q is the sum over a of
    x[j - a] * kernel[s*a + q]: a stride-1 convolution over x padded by k/s - 1 on both sides,
    with the sub-kernel of phase q flipped, gives every block j; depth to space puts phase q
    of block j at u; "same" then crops (k - s) // 2 pixels in front, as Keras does.

    Same arguments, variables and outputs as `keras.layers.Conv2DTranspose`. Square kernels
    whose size is a multiple of the (equal) strides, without dilation or output padding,
    channels-last, padding "same" or "valid", run by phases; anything else runs Keras' own op.

    Args:
        filters: output channels.
        kernel_size: size of the kernel.
        implementation: "auto" (phases on the backends in `PHASES_BY_DEFAULT`), "phases"
            or "keras" (Keras' own transposed convolution).
        **kwargs: any other argument of `keras.layers.Conv2DTranspose`.

    Example:
        >>> layer = Conv2DTranspose(8, 4, strides=2, padding="same", implementation="phases")
        >>> layer(keras.ops.zeros((2, 16, 16, 3))).shape
        (2, 32, 32, 8)

    Reference: Shi et al., "Is the deconvolution layer the same as a convolutional layer?",
    arXiv:1609.07009, 2016; Dumoulin & Visin, arXiv:1603.07285, 2016.
    """

    def __init__(self, filters, kernel_size, implementation="auto", **kwargs):
        super().__init__(filters, kernel_size, **kwargs)
        _check_implementation(implementation, self.name)
        self.implementation = implementation

    def call(self, inputs):
        geometry = _phase_geometry(self)
        if geometry is None or self.output_padding is not None or not _use_phases(self):
            return super().call(inputs)
        kernel_size, stride = geometry
        taps = kernel_size // stride
        # kernel (k, k, C_out, C_in), k = stride * a + phase; tap t = taps - 1 - a reads
        # block m' - a -> (tap_h, tap_w, C_in, phase_h, phase_w, C_out), depth_to_space's order.
        kernel = ops.reshape(self.kernel, (taps, stride, taps, stride, self.filters, -1))
        kernel = ops.flip(ops.flip(kernel, axis=0), axis=2)
        kernel = ops.transpose(kernel, (0, 2, 5, 1, 3, 4))
        kernel = ops.reshape(kernel, (taps, taps, -1, stride * stride * self.filters))
        edge = taps - 1
        x = ops.pad(inputs, [(0, 0), (edge, edge), (edge, edge), (0, 0)]) if edge else inputs
        x = depth_to_space(ops.conv(x, kernel, strides=1, padding="valid", data_format="channels_last"), stride)
        # The full transposed output is stride * (size + taps - 1) long; "same" keeps
        # stride * size of it from (k - s) // 2, "valid" all of it.
        if self.padding == "same":
            before = (kernel_size - stride) // 2
            after = kernel_size - stride - before
            stop = -after if after else None
            x = x[:, before:stop, before:stop, :]
        return _finish(self, x)

    def get_config(self):
        return {**super().get_config(), "implementation": self.implementation}
