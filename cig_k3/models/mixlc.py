"""The MixLC ACGAN generator and discriminator (seed 001)."""

import keras

from cig_k3.layers.blocks import HEAD_DTYPE, conv_block, output_conv, residual_block


def _encoder_decoder(x, filters, norm, dropout, dropout_layers, seed, name):
    """Strided-conv encoder, transposed-conv decoder with skips, back to full resolution."""
    skips = []
    for i, num_filters in enumerate(filters):
        x = conv_block(x, num_filters, 4, strides=2, norm="none" if i == 0 else norm, act="leaky_relu",
                       name=f"{name}_down{i}")
        skips.append(x)
    for j, num_filters in enumerate(reversed(filters[:-1])):
        x = conv_block(x, num_filters, 4, strides=2, norm=norm, transpose=True, act="relu",
                       dropout=dropout if j < dropout_layers else 0.0,
                       seed=None if seed is None else seed + j, name=f"{name}_up{j}")
        x = keras.layers.Concatenate(name=f"{name}_skip{j}")([x, skips[-2 - j]])
    return conv_block(x, filters[0], 4, strides=2, norm=norm, transpose=True, name=f"{name}_out")


@keras.saving.register_keras_serializable(package="cig_k3")
class MixLCGenerator(keras.Model):
    """Two branches: `raw_net` sees a raw image, `label_net` a label map; their outputs are
    concatenated and go through `output_net`, one residual block and one convolutional
    block, to the image (tanh).

    Both branches are encoder/decoders with skip connections (strided 4x4 convs down,
    transposed convs up). A block is conv - batch norm - dropout - ReLU; dropout is an
    `MCDropout` that can stay on at inference as the noise source, as in pix2pix (the note
    uses no noise vector). Dropout sits in the first `dropout_layers` decoder blocks of each
    branch and in both blocks of the output net.

    Input: {"label": (N, H, W, in_channels), "raw": (N, H, W, out_channels)}, what the data
    stream yields in mixing mode (a's raw image and the mixed label). Output: the image the
    label asks for, in a's style.

    Args:
        in_channels: label classes (one-hot).
        out_channels: channels of the raw image (input and output).
        base_filters, depth, max_filters: of each branch.
        dropout, dropout_layers: MCDropout rate and use in the branches.
        output_dropout: dropout rate in the output net's blocks.
        norm: "batch" (the note), "instance" or "none".

    Example:
        >>> g = MixLCGenerator(3, 1, base_filters=8, depth=3)
        >>> g({"label": keras.ops.zeros((2, 32, 32, 3)), "raw": keras.ops.zeros((2, 32, 32, 1))}).shape
        (2, 32, 32, 1)

    Reference: seed 001 (MixLC ACGAN); Isola et al., CVPR 2017 (dropout as noise).
    """

    def __init__(self, in_channels=3, out_channels=1, base_filters=32, depth=4, max_filters=256, dropout=0.5,
                 dropout_layers=1, output_dropout=0.5, norm="batch", seed=None, **kwargs):
        label = keras.Input(shape=(None, None, in_channels), name="label")
        raw = keras.Input(shape=(None, None, out_channels), name="raw")
        filters = [min(base_filters * 2**i, max_filters) for i in range(depth)]
        raw_features = _encoder_decoder(raw, filters, norm, dropout, dropout_layers, seed, "raw_net")
        label_features = _encoder_decoder(
            label, filters, norm, dropout, dropout_layers, None if seed is None else seed + 100, "label_net"
        )
        x = keras.layers.Concatenate(name="output_net_in")([raw_features, label_features])
        output_seed = None if seed is None else seed + 200
        x = residual_block(x, 2 * base_filters, norm=norm, dropout=output_dropout, seed=output_seed, name="output_net_res")
        x = conv_block(x, base_filters, 3, norm=norm, dropout=output_dropout,
                       seed=None if seed is None else seed + 201, name="output_net_block")
        image = output_conv(x, out_channels, 1, "tanh", name="image")
        super().__init__(inputs={"label": label, "raw": raw}, outputs=image, **kwargs)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.base_filters = base_filters
        self.depth = depth
        self.max_filters = max_filters
        self.dropout = dropout
        self.dropout_layers = dropout_layers
        self.output_dropout = output_dropout
        self.norm = norm
        self.seed = seed

    @property
    def size_multiple(self):
        return 2**self.depth

    def get_config(self):
        return {
            "name": self.name, "trainable": self.trainable, "in_channels": self.in_channels,
            "out_channels": self.out_channels, "base_filters": self.base_filters, "depth": self.depth,
            "max_filters": self.max_filters, "dropout": self.dropout, "dropout_layers": self.dropout_layers,
            "output_dropout": self.output_dropout, "norm": self.norm, "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="cig_k3")
class MixLCDiscriminator(keras.Model):
    """An 8x8-patch real/fake map plus an auxiliary per-pixel classifier (ACGAN).

    A trunk of `num_downsamples` strided conv blocks sees the image alone. The patch head
    joins the trunk's features with the label map (average-pooled to their size) and gives
    one logit per patch: a 64x64 crop with 3 downsamples gives the 8x8 map of the note. The
    auxiliary head classifies every pixel of the image into the label classes (trunk
    features, bilinear upsampling, 3x3 conv): it must find the label from the image alone,
    which is why it does not see the label.

    Input: [label, image]. Output: {"patch": (N, h, w, 1) logits, "classes": (N, H, W,
    num_classes) logits, "features": [trunk features]}; the features serve as the fallback
    style network when no VGG16 weights are given.

    Args:
        condition_channels: label classes (= num_classes of the auxiliary head).
        image_channels: channels of the image.
        base_filters, num_downsamples, max_filters, norm: of the trunk.

    Reference: Odena et al., "Conditional Image Synthesis with Auxiliary Classifier GANs",
    ICML 2017; seed 001.
    """

    def __init__(self, condition_channels=3, image_channels=1, base_filters=32, num_downsamples=3, max_filters=256,
                 norm="batch", **kwargs):
        label = keras.Input(shape=(None, None, condition_channels), name="label")
        image = keras.Input(shape=(None, None, image_channels), name="image")
        x, features = image, []
        for i in range(num_downsamples):
            x = conv_block(x, min(base_filters * 2**i, max_filters), 4, strides=2,
                           norm="none" if i == 0 else norm, act="leaky_relu", name=f"trunk{i}")
            features.append(x)
        factor = 2**num_downsamples
        pooled = keras.layers.AveragePooling2D(factor, name="label_pool")(label)
        patch = keras.layers.Concatenate(name="patch_in")([x, pooled])
        patch = conv_block(patch, x.shape[-1], 3, norm=norm, act="leaky_relu", name="patch_block")
        patch = keras.layers.Conv2D(1, 3, padding="same", dtype=HEAD_DTYPE, name="patch_conv")(patch)
        patch = keras.layers.Activation("linear", dtype="float32", name="patch")(patch)
        classes = keras.layers.UpSampling2D(factor, interpolation="bilinear", name="classes_up")(x)
        classes = keras.layers.Conv2D(condition_channels, 3, padding="same", dtype=HEAD_DTYPE,
                                      name="classes_conv")(classes)
        classes = keras.layers.Activation("linear", dtype="float32", name="classes")(classes)
        super().__init__(inputs=[label, image], outputs={"patch": patch, "classes": classes, "features": features},
                         **kwargs)
        self.condition_channels = condition_channels
        self.image_channels = image_channels
        self.base_filters = base_filters
        self.num_downsamples = num_downsamples
        self.max_filters = max_filters
        self.norm = norm

    def get_config(self):
        return {
            "name": self.name, "trainable": self.trainable, "condition_channels": self.condition_channels,
            "image_channels": self.image_channels, "base_filters": self.base_filters,
            "num_downsamples": self.num_downsamples, "max_filters": self.max_filters, "norm": self.norm,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
