"""Convolutional building blocks, written as functions that add named Keras layers to a
functional graph (the way keras-hub builds its backbones).

Models made from them are functional `keras.Model` subclasses whose `get_config` stores the
constructor arguments, so a saved model is rebuilt by the constructor and these helpers
never need their own serialisation.
"""

import keras

from cig_k3.layers.dropout import MCDropout
from cig_k3.layers.normalization import normalization
from cig_k3.layers.phase_conv import Conv2D as PhaseConv2D
from cig_k3.layers.phase_conv import Conv2DTranspose as PhaseConv2DTranspose

# The dtype policy of every network's last convolution (the image, the logits): float32 under
# mixed precision too. One output channel costs little; the image keeps float32's resolution
# (float16's 11-bit mantissa is coarser than a 16-bit camera); and torch's CPU float16
# convolution cannot take the gradient of a one-filter kernel in the channels_last memory
# format Keras gives it ("slow_conv2d: grad_weight must be contiguous").
HEAD_DTYPE = "float32"

ACTIVATIONS = ("relu", "leaky_relu", "none")


def activation(kind, name=None):
    """"relu", "leaky_relu" (slope 0.2, as in pix2pix and SPADE) or "none"."""
    if kind == "relu":
        return keras.layers.ReLU(name=name)
    if kind == "leaky_relu":
        return keras.layers.LeakyReLU(0.2, name=name)
    if kind == "none":
        return keras.layers.Identity(name=name)
    raise ValueError(f"unknown activation {kind!r}; choose one of {ACTIVATIONS}")


def conv_block(
    x, filters, kernel_size=3, strides=1, norm="batch", dropout=0.0, act="relu", transpose=False,
    dilation_rate=1, seed=None, name="block",
):
    """Conv (or transposed conv) - norm - [MCDropout] - activation.

    This is the MixLC note's "block" (conv, batch norm, dropout, ReLU). Dropout is an
    `MCDropout`, so it can stay on at inference as the generator's noise source. The
    convolution has no bias when a normalisation follows it (the norm's offset replaces it).
    """
    # phase_conv's layers are Keras' own (same variables and saved layout); on JAX their 4x4
    # stride-2 case runs as stride-1 convolutions, avoiding XLA:CPU's input-dilated ones.
    conv = PhaseConv2DTranspose if transpose else PhaseConv2D
    x = conv(
        filters, kernel_size, strides=strides, padding="same", dilation_rate=dilation_rate,
        use_bias=(norm == "none"), name=f"{name}_conv",
    )(x)
    x = normalization(norm, name=f"{name}_norm")(x)
    if dropout:
        x = MCDropout(dropout, seed=seed, name=f"{name}_dropout")(x)
    return activation(act, name=f"{name}_act")(x)


def residual_block(x, filters, kernel_size=3, norm="batch", dropout=0.0, act="relu", seed=None, name="res"):
    """x + F(x) with F = conv_block - conv (- norm): the ResNet block of Johnson et al. and
    pix2pixHD. A 1x1 projection matches channels when `x` has a different width.

    Reference: He et al., CVPR 2016; Johnson et al., ECCV 2016 (supplementary, residual block).
    """
    shortcut = x
    if x.shape[-1] != filters:
        shortcut = keras.layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_shortcut")(x)
    y = conv_block(x, filters, kernel_size, norm=norm, dropout=dropout, act=act, seed=seed, name=f"{name}_a")
    y = keras.layers.Conv2D(filters, kernel_size, padding="same", use_bias=(norm == "none"), name=f"{name}_b_conv")(y)
    y = normalization(norm, name=f"{name}_b_norm")(y)
    return keras.layers.Add(name=f"{name}_add")([shortcut, y])


def encoder_block(x, filters, norm="batch", act="relu", name="enc"):
    """Conv - norm - act, then 2x2 max pooling; returns (pooled, skip) (seed 002: "convolution,
    extract the feature map, pool, return a skip connection")."""
    skip = conv_block(x, filters, 3, norm=norm, act=act, name=name)
    return keras.layers.MaxPooling2D(2, name=f"{name}_pool")(skip), skip


def decoder_block(x, skip, filters, norm="batch", dropout=0.0, act="relu", seed=None, name="dec"):
    """2x upsampling - conv - norm - [dropout] - act, then concatenation with `skip` (if any).

    Nearest upsampling followed by a 3x3 conv avoids the checkerboard of transposed
    convolutions (Odena et al., Distill 2016).
    """
    x = keras.layers.UpSampling2D(2, name=f"{name}_up")(x)
    x = conv_block(x, filters, 3, norm=norm, dropout=dropout, act=act, seed=seed, name=name)
    if skip is not None:
        x = keras.layers.Concatenate(name=f"{name}_skip")([x, skip])
    return x


def output_conv(x, channels, kernel_size=1, act="tanh", name="out"):
    """The last convolution and its activation, both computed in float32 (`HEAD_DTYPE`)."""
    x = keras.layers.Conv2D(channels, kernel_size, padding="same", dtype=HEAD_DTYPE, name=f"{name}_conv")(x)
    return keras.layers.Activation(act, dtype=HEAD_DTYPE, name=name)(x)
