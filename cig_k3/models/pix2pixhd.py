"""The coarse-to-fine generator of pix2pixHD (seed 003, virtual staining)."""

import keras

from cig_k3.layers.blocks import conv_block, output_conv, residual_block
from cig_k3.layers.upsampling import BilinearUpsampling


@keras.saving.register_keras_serializable(package="cig_k3")
class Pix2PixHDGenerator(keras.Model):
    """G1, a global ResNet generator run at half resolution, and G2, a local enhancer.

    G1 (layers named `global_*`): 7x7 conv, `global_downsamples` stride-2 convs,
    `global_blocks` residual blocks, as many transposed convs back up; it runs on the
    condition downsampled 2x (3x3 average pooling, stride 2). G2 (`local_*`): a 7x7 conv and
    one stride-2 conv at full resolution whose output is *added* to G1's last features, then
    `local_blocks` residual blocks, one transposed conv and a 7x7 conv to the image (tanh).

    `global_only=True` builds G1 alone (pix2pixHD trains it first): its half-resolution
    image is upsampled 2x (bilinear) so that it can be trained against full-size targets.
    `copy_global_weights(g1, full)` then carries the G1 weights into a full model, since the
    layers share names.

    Args:
        in_channels, out_channels: channels of condition and image.
        base_filters: filters of G2's first conv; G1 uses twice as many (pix2pixHD ngf: 32 -> 64).
        global_downsamples, global_blocks: G1's depth (pix2pixHD: 4 and 9).
        local_blocks: residual blocks of G2 (pix2pixHD: 3).
        max_filters: cap on filters per block.
        norm: "instance" (pix2pixHD), "batch" or "none".
        global_only: build G1 alone.

    Example:
        >>> g = Pix2PixHDGenerator(13, 3, base_filters=8, global_downsamples=2, global_blocks=1)
        >>> g(keras.ops.zeros((1, 64, 64, 13))).shape
        (1, 64, 64, 3)

    Reference: Wang et al., "High-Resolution Image Synthesis and Semantic Manipulation with
    Conditional GANs", CVPR 2018, sec. 3.2 and fig. 3.
    """

    def __init__(self, in_channels=13, out_channels=3, base_filters=32, global_downsamples=4, global_blocks=9,
                 local_blocks=3, max_filters=1024, norm="instance", global_only=False, seed=None, **kwargs):
        condition = keras.Input(shape=(None, None, in_channels), name="condition")
        global_filters = 2 * base_filters
        half = keras.layers.AveragePooling2D(3, strides=2, padding="same", name="global_input_downsample")(condition)
        x = conv_block(half, global_filters, 7, norm=norm, name="global_in")
        for i in range(global_downsamples):
            x = conv_block(x, min(global_filters * 2 ** (i + 1), max_filters), 3, strides=2, norm=norm,
                           name=f"global_down{i}")
        for i in range(global_blocks):
            x = residual_block(x, x.shape[-1], norm=norm, name=f"global_res{i}")
        for i in reversed(range(global_downsamples)):
            x = conv_block(x, min(global_filters * 2**i, max_filters), 3, strides=2, norm=norm, transpose=True,
                           name=f"global_up{i}")
        global_features = x
        if global_only:
            image = output_conv(global_features, out_channels, 7, "tanh", name="global_image_half")
            image = BilinearUpsampling(dtype="float32", name="image")(image)
        else:
            y = conv_block(condition, base_filters, 7, norm=norm, name="local_in")
            y = conv_block(y, global_filters, 3, strides=2, norm=norm, name="local_down")
            y = keras.layers.Add(name="local_plus_global")([y, global_features])
            for i in range(local_blocks):
                y = residual_block(y, global_filters, norm=norm, name=f"local_res{i}")
            y = conv_block(y, base_filters, 3, strides=2, norm=norm, transpose=True, name="local_up")
            image = output_conv(y, out_channels, 7, "tanh", name="image")
        super().__init__(inputs=condition, outputs=image, **kwargs)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.base_filters = base_filters
        self.global_downsamples = global_downsamples
        self.global_blocks = global_blocks
        self.local_blocks = local_blocks
        self.max_filters = max_filters
        self.norm = norm
        self.global_only = global_only
        self.seed = seed  # no dropout: pix2pixHD's generator is deterministic

    @property
    def size_multiple(self):
        return 2 ** (self.global_downsamples + 1)

    def get_config(self):
        return {
            "name": self.name, "trainable": self.trainable, "in_channels": self.in_channels,
            "out_channels": self.out_channels, "base_filters": self.base_filters,
            "global_downsamples": self.global_downsamples, "global_blocks": self.global_blocks,
            "local_blocks": self.local_blocks, "max_filters": self.max_filters, "norm": self.norm,
            "global_only": self.global_only, "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def copy_global_weights(source, destination):
    """Copy every `global_*` layer's weights from a G1-only generator into a full one (G1's
    own output head, which the full model does not have, is left out).

    Returns the names of the layers copied.
    """
    names = {layer.name for layer in destination.layers}
    copied = []
    for layer in source.layers:
        if layer.name.startswith("global_") and layer.weights and layer.name in names:
            destination.get_layer(layer.name).set_weights(layer.get_weights())
            copied.append(layer.name)
    return copied
