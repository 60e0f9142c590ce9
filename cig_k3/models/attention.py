"""The attention-guided generator and the U-Net discriminator of seed 002."""


import keras

from cig_k3.layers.attention import AttentionFusion
from cig_k3.layers.blocks import HEAD_DTYPE, decoder_block, encoder_block, output_conv
from cig_k3.layers.dilated import dilated_bottleneck

IDENTITY_PATHS = ("projection", "input")


@keras.saving.register_keras_serializable(package="cig_k3")
class AttentionGenerator(keras.Model):
    """One encoder, two decoders: an image decoder (tanh) and an attention decoder (sigmoid
    mask), fused as  output = (1 - attention) * source + attention * prediction.

    Encoder blocks are conv - norm - ReLU - 2x2 max pooling, each returning a skip. A dilated
    bottleneck (rates 1, 2, 4, 8, summed) widens the field of view at the lowest resolution.
    Decoder blocks upsample, convolve and concatenate the mirrored skip; dropout
    (`MCDropout`) is used in the first `dropout_layers` decoder blocks and never at the end.
    The image decoder's last block drops its skip connection: the note (seed 002) observes
    that the full-resolution skip copies the input's artefacts into a newly drawn image.

    What "source" means (the image the mask blends into):
    - `identity_path="input"`: the condition itself. Only meaningful when condition and
      output share a domain (same channels), as in the horse -> zebra setting of the note.
    - `identity_path="projection"` (default, needed for mask -> image): a learned 1x1
      convolution + tanh of the condition, i.e. a per-class flat rendering of the label map
      (one grey level for background, one for interior, one for boundaries). We pick this
      over a fixed rendering because the intensities of a data set are unknown a priori,
      and a 1x1 conv cannot draw texture, so all texture must come through the mask.

    Identity path for a target-domain image (`identity(image)`): with "input" the image is
    fed as it is; with "projection" it enters through a learned 1x1 conv from image to
    condition channels (`image_adapter`), the linear counterpart of the projection. The
    identity loss asks `identity(target)["image"] == target`.

    Outputs: the model's output is the fused image (so export, tiling and sample grids treat
    it like any generator). `views(condition)` returns {"image", "attention", "prediction",
    "source"} from the same weights.

    Args:
        in_channels, out_channels: channels of condition and image.
        base_filters: filters of the first encoder block, doubled per level.
        depth: encoder blocks (inputs must be multiples of 2**depth).
        max_filters: cap on filters per block.
        dilation_rates: of the bottleneck.
        dropout, dropout_layers: MCDropout rate and how many of the first decoder blocks use it.
        norm: "batch", "instance" or "none".
        identity_path: "projection" or "input" (see above).
        seed: seed of the dropout layers.

    Example:
        >>> g = AttentionGenerator(3, 1, base_filters=8, depth=2)
        >>> g(keras.ops.zeros((2, 32, 32, 3))).shape
        (2, 32, 32, 1)

    Reference: Mejjati et al., "Unsupervised Attention-guided Image-to-Image Translation",
    NeurIPS 2018; Tang et al., "AttentionGAN", IEEE TNNLS 2021; seed 002 (French notes).
    """

    def __init__(
        self, in_channels=3, out_channels=1, base_filters=32, depth=3, max_filters=256,
        dilation_rates=(1, 2, 4, 8), dropout=0.5, dropout_layers=1, norm="batch",
        identity_path="projection", seed=None, **kwargs,
    ):
        if identity_path not in IDENTITY_PATHS:
            raise ValueError(f"unknown identity_path {identity_path!r}; choose one of {IDENTITY_PATHS}")
        if identity_path == "input" and in_channels != out_channels:
            raise ValueError(
                f"identity_path='input' blends into the condition, which needs in_channels == out_channels; "
                f"got {in_channels} and {out_channels}: use identity_path='projection'"
            )
        dilation_rates = tuple(int(r) for r in dilation_rates)
        filters = [min(base_filters * 2**i, max_filters) for i in range(depth)]

        condition = keras.Input(shape=(None, None, in_channels), name="condition")
        x, skips = condition, []
        for i, num_filters in enumerate(filters):
            x, skip = encoder_block(x, num_filters, norm=norm, name=f"enc{i}")
            skips.append(skip)
        x = dilated_bottleneck(x, min(base_filters * 2**depth, max_filters), dilation_rates, norm=norm)

        def decoder(prefix, drop_last_skip):
            y = x
            for j, num_filters in enumerate(reversed(filters)):
                skip = skips[-1 - j]
                if drop_last_skip and j == depth - 1:
                    skip = None
                seed_j = None if seed is None else seed + 10 * (prefix == "attn") + j
                y = decoder_block(
                    y, skip, num_filters, norm=norm, dropout=dropout if j < dropout_layers else 0.0,
                    seed=seed_j, name=f"{prefix}_dec{j}",
                )
            return y

        prediction = output_conv(decoder("gen", True), out_channels, 3, "tanh", name="prediction")
        attention = output_conv(decoder("attn", False), 1, 3, "sigmoid", name="attention")
        if identity_path == "input":
            source = keras.layers.Identity(name="source")(condition)
        else:
            source = output_conv(condition, out_channels, 1, "tanh", name="source")
        image = AttentionFusion(dtype="float32", name="image")([source, prediction, attention])
        body = keras.Model(
            condition, {"image": image, "attention": attention, "prediction": prediction, "source": source},
            name="attention_body",
        )
        super().__init__(inputs=condition, outputs=body(condition)["image"], **kwargs)

        self.body = body
        self.image_adapter = None
        if identity_path == "projection":
            self.image_adapter = keras.layers.Conv2D(in_channels, 1, name="image_adapter")
            self.image_adapter.build((None, None, None, out_channels))
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.base_filters = base_filters
        self.depth = depth
        self.max_filters = max_filters
        self.dilation_rates = dilation_rates
        self.dropout = dropout
        self.dropout_layers = dropout_layers
        self.norm = norm
        self.identity_path = identity_path
        self.seed = seed

    @property
    def size_multiple(self):
        return 2**self.depth

    def views(self, condition, training=False):
        """{"image", "attention", "prediction", "source"} for a condition batch."""
        return self.body(condition, training=training)

    def identity(self, image, training=False):
        """The generator fed a target-domain image (see the class docstring)."""
        condition = image if self.image_adapter is None else self.image_adapter(image)
        return self.body(condition, training=training)

    def get_config(self):
        return {
            "name": self.name, "trainable": self.trainable, "in_channels": self.in_channels,
            "out_channels": self.out_channels, "base_filters": self.base_filters, "depth": self.depth,
            "max_filters": self.max_filters, "dilation_rates": list(self.dilation_rates),
            "dropout": self.dropout, "dropout_layers": self.dropout_layers, "norm": self.norm,
            "identity_path": self.identity_path, "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="cig_k3")
class UNetDiscriminator(keras.Model):
    """A U-Net that judges (condition, image) pairs pixel by pixel: one logit per pixel.

    The note (seed 002) replaces the 70x70 PatchGAN, whose patch-sized artefacts show in
    the output, with a small U-Net whose decoder brings the decision back to full
    resolution; a narrow U-Net costs about as much as the PatchGAN.

    Args:
        condition_channels, image_channels: channels of the two inputs.
        base_filters, depth, max_filters: as in `AttentionGenerator`.
        norm: "batch", "instance" or "none".

    Example:
        >>> d = UNetDiscriminator(3, 1, base_filters=8, depth=2)
        >>> d([keras.ops.zeros((2, 32, 32, 3)), keras.ops.zeros((2, 32, 32, 1))]).shape
        (2, 32, 32, 1)

    Reference: Schonfeld et al., "A U-Net Based Discriminator for GANs", CVPR 2020.
    """

    def __init__(self, condition_channels=3, image_channels=1, base_filters=32, depth=3, max_filters=256,
                 norm="batch", **kwargs):
        condition = keras.Input(shape=(None, None, condition_channels), name="condition")
        image = keras.Input(shape=(None, None, image_channels), name="image")
        x = keras.layers.Concatenate(name="pair")([condition, image])
        filters = [min(base_filters * 2**i, max_filters) for i in range(depth)]
        skips = []
        for i, num_filters in enumerate(filters):
            x, skip = encoder_block(x, num_filters, norm="none" if i == 0 else norm, act="leaky_relu", name=f"enc{i}")
            skips.append(skip)
        for j, num_filters in enumerate(reversed(filters)):
            x = decoder_block(x, skips[-1 - j], num_filters, norm=norm, act="leaky_relu", name=f"dec{j}")
        logits = keras.layers.Conv2D(1, 1, dtype=HEAD_DTYPE, name="logits_conv")(x)
        logits = keras.layers.Activation("linear", dtype="float32", name="pixel_logits")(logits)
        super().__init__(inputs=[condition, image], outputs=logits, **kwargs)
        self.condition_channels = condition_channels
        self.image_channels = image_channels
        self.base_filters = base_filters
        self.depth = depth
        self.max_filters = max_filters
        self.norm = norm

    def get_config(self):
        return {
            "name": self.name, "trainable": self.trainable, "condition_channels": self.condition_channels,
            "image_channels": self.image_channels, "base_filters": self.base_filters, "depth": self.depth,
            "max_filters": self.max_filters, "norm": self.norm,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
