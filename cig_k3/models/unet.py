"""The pix2pix U-Net generator (and the CIG cGAN's generator of seed 000)."""

import keras

from cig_k3.layers import MCDropout, normalization


class UNetGenerator(keras.Model):
    """U-Net: strided-convolution encoder, transposed-convolution decoder, skip connections.

    Encoder blocks are Conv(4x4, stride 2) - norm - LeakyReLU(0.2); decoder blocks are
    ConvTranspose(4x4, stride 2) - norm - [dropout] - ReLU followed by concatenation with the
    mirrored encoder output. Dropout in the first `dropout_layers` decoder blocks is the
    noise source; it can stay on at inference (`cig_k3.layers.sampling`). The output is tanh
    with `out_channels` channels, always float32 (mixed precision keeps it there).

    Inputs must have height and width divisible by 2**depth.

    Args:
        in_channels: channels of the condition (e.g. 3 for a one-hot semantic3 label).
        out_channels: channels of the generated image.
        base_filters: filters of the first encoder block (pix2pix: 64).
        depth: number of down-sampling blocks (pix2pix unet_256: 8).
        max_filters: cap on filters per block (pix2pix: 512).
        dropout: dropout rate in the dropout blocks.
        dropout_layers: how many of the innermost decoder blocks use dropout.
        norm: "batch", "instance" or "none".

    Example:
        >>> generator = UNetGenerator(in_channels=3, out_channels=1, base_filters=8, depth=3)
        >>> generator(keras.ops.zeros((2, 32, 32, 3))).shape
        (2, 32, 32, 1)

    Reference: Ronneberger et al., MICCAI 2015; Isola et al., CVPR 2017 (unet_256).
    """

    def __init__(
        self,
        in_channels=3,
        out_channels=1,
        base_filters=64,
        depth=8,
        max_filters=512,
        dropout=0.5,
        dropout_layers=3,
        norm="batch",
        seed=None,
        **kwargs,
    ):
        condition = keras.Input(shape=(None, None, in_channels), name="condition")
        filters = [min(base_filters * 2**i, max_filters) for i in range(depth)]

        x = condition
        skips = []
        for i, num_filters in enumerate(filters):
            x = keras.layers.Conv2D(
                num_filters, 4, strides=2, padding="same", use_bias=(i == 0 or norm == "none"),
                name=f"down{i}_conv",
            )(x)
            # pix2pix: no norm on the outermost block, and none on the innermost (1x1) one.
            if 0 < i < depth - 1:
                x = normalization(norm, name=f"down{i}_norm")(x)
            x = keras.layers.LeakyReLU(0.2, name=f"down{i}_act")(x)
            skips.append(x)

        for j, num_filters in enumerate(reversed(filters[:-1])):
            x = keras.layers.Conv2DTranspose(
                num_filters, 4, strides=2, padding="same", use_bias=(norm == "none"), name=f"up{j}_conv"
            )(x)
            x = normalization(norm, name=f"up{j}_norm")(x)
            if j < dropout_layers:
                x = MCDropout(dropout, seed=None if seed is None else seed + j, name=f"up{j}_dropout")(x)
            x = keras.layers.ReLU(name=f"up{j}_act")(x)
            x = keras.layers.Concatenate(name=f"up{j}_skip")([x, skips[-2 - j]])

        x = keras.layers.Conv2DTranspose(out_channels, 4, strides=2, padding="same", name="out_conv")(x)
        image = keras.layers.Activation("tanh", dtype="float32", name="image")(x)
        super().__init__(inputs=condition, outputs=image, **kwargs)

        self.in_channels = in_channels
        self.out_channels = out_channels
        self.base_filters = base_filters
        self.depth = depth
        self.max_filters = max_filters
        self.dropout = dropout
        self.dropout_layers = dropout_layers
        self.norm = norm
        self.seed = seed

    @property
    def size_multiple(self):
        """Height and width of inputs must be multiples of this."""
        return 2**self.depth

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "base_filters": self.base_filters,
            "depth": self.depth,
            "max_filters": self.max_filters,
            "dropout": self.dropout,
            "dropout_layers": self.dropout_layers,
            "norm": self.norm,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
