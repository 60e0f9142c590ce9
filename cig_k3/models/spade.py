"""The SPADE (GauGAN) generator for label -> image."""

import keras

from cig_k3.layers.blocks import output_conv
from cig_k3.layers.spade import NearestDownsample, SPADEResBlock


@keras.saving.register_keras_serializable(package="cig_k3")
class SPADEGenerator(keras.Model):
    """Label map -> image through SPADE residual blocks, coarse to fine.

    The label map, sampled every 2**num_upsamples pixels, goes through a 3x3 conv; then
    `num_upsamples + 1` SPADEResBlocks, each followed (but the last) by 2x nearest
    upsampling, halve the width as the resolution doubles; LeakyReLU(0.2), 3x3 conv, tanh.
    Every block re-reads the label map at its own resolution, so the semantic layout is not
    washed away by normalisation. No VAE encoder: the image is a function of the label
    (GauGAN's `use_vae=False` mode).

    Args:
        in_channels: classes of the one-hot label map.
        out_channels: channels of the image.
        base_filters: filters of the last block (GauGAN ngf: 64); block i has
            base_filters * 2**(num_upsamples - i), capped at max_filters.
        num_upsamples: GauGAN "normal" uses 5 (with 7 blocks); inputs must be multiples of
            2**num_upsamples.
        hidden_filters: width of each SPADE's shared conv (GauGAN: 128).
        norm: the parameter-free normalisation, "batch" (GauGAN) or "instance".

    Example:
        >>> g = SPADEGenerator(3, 1, base_filters=8, num_upsamples=3, hidden_filters=8)
        >>> g(keras.ops.zeros((2, 32, 32, 3))).shape
        (2, 32, 32, 1)

    Reference: Park et al., "Semantic Image Synthesis with Spatially-Adaptive
    Normalization", CVPR 2019, fig. 4; NVlabs/SPADE SPADEGenerator.
    """

    def __init__(self, in_channels=3, out_channels=1, base_filters=64, num_upsamples=4, max_filters=1024,
                 hidden_filters=128, norm="batch", seed=None, **kwargs):
        label = keras.Input(shape=(None, None, in_channels), name="condition")
        stride = 2**num_upsamples
        filters = [min(base_filters * 2 ** (num_upsamples - i), max_filters) for i in range(num_upsamples + 1)]
        x = NearestDownsample(stride, name="label_coarse")(label)
        x = keras.layers.Conv2D(filters[0], 3, padding="same", name="label_conv")(x)
        for i, num_filters in enumerate(filters):
            x = SPADEResBlock(num_filters, hidden_filters, label_stride=stride // 2**i, norm=norm,
                              name=f"spade_block{i}")([x, label])
            if i < num_upsamples:
                x = keras.layers.UpSampling2D(2, name=f"up{i}")(x)
        x = keras.layers.LeakyReLU(0.2, name="out_act")(x)
        image = output_conv(x, out_channels, 3, "tanh", name="image")
        super().__init__(inputs=label, outputs=image, **kwargs)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.base_filters = base_filters
        self.num_upsamples = num_upsamples
        self.max_filters = max_filters
        self.hidden_filters = hidden_filters
        self.norm = norm
        self.seed = seed  # no dropout or noise input without the VAE encoder

    @property
    def size_multiple(self):
        return 2**self.num_upsamples

    def get_config(self):
        return {
            "name": self.name, "trainable": self.trainable, "in_channels": self.in_channels,
            "out_channels": self.out_channels, "base_filters": self.base_filters,
            "num_upsamples": self.num_upsamples, "max_filters": self.max_filters,
            "hidden_filters": self.hidden_filters, "norm": self.norm, "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
