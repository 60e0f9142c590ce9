"""The conditional PatchGAN discriminator."""

import keras

from cig_k3.layers import normalization, phase_conv
from cig_k3.layers.blocks import HEAD_DTYPE


@keras.saving.register_keras_serializable(package="cig_k3")
class PatchGANDiscriminator(keras.Model):
    """Conditional PatchGAN: judges (condition, image) pairs patch by patch.

    The condition and the image are concatenated on channels, then `num_downsamples`
    Conv(4x4, stride 2) blocks, one Conv(4x4, stride 1) block and a final Conv(4x4, stride 1)
    to one logit per patch. Output logits are float32.

    `padding="pix2pix"` pads each 4x4 convolution by one pixel as the reference code does:
    with `num_downsamples=3` at 256x256 the map is 30x30 and each logit sees 70x70 pixels.
    `padding="same"` keeps sizes at exact powers of two: with `num_downsamples=4` a 128x128
    crop gives the 8x8x1 map of the CIG notes (seed 000).

    Args:
        condition_channels: channels of the condition.
        image_channels: channels of the real or generated image.
        base_filters: filters of the first block (pix2pix: 64).
        num_downsamples: number of stride-2 blocks (pix2pix n_layers: 3).
        max_filters: cap on filters per block.
        padding: "pix2pix" or "same".
        norm: "batch", "instance" or "none".

    Example:
        >>> d = PatchGANDiscriminator(3, 1, base_filters=8, num_downsamples=4, padding="same")
        >>> d([keras.ops.zeros((2, 128, 128, 3)), keras.ops.zeros((2, 128, 128, 1))]).shape
        (2, 8, 8, 1)

    Reference: Isola et al., CVPR 2017, sec. 3.2.2 and the pix2pix NLayerDiscriminator.
    """

    def __init__(
        self,
        condition_channels=3,
        image_channels=1,
        base_filters=64,
        num_downsamples=3,
        max_filters=512,
        padding="pix2pix",
        norm="batch",
        **kwargs,
    ):
        if padding not in ("pix2pix", "same"):
            raise ValueError(f"unknown padding {padding!r}; choose 'pix2pix' or 'same'")
        condition = keras.Input(shape=(None, None, condition_channels), name="condition")
        image = keras.Input(shape=(None, None, image_channels), name="image")
        x = keras.layers.Concatenate(name="pair")([condition, image])

        strides = [2] * num_downsamples + [1, 1]
        for i, stride in enumerate(strides):
            last = i == len(strides) - 1
            num_filters = 1 if last else min(base_filters * 2**i, max_filters)
            if padding == "pix2pix":
                x = keras.layers.ZeroPadding2D(1, name=f"block{i}_pad")(x)
            # Keras' Conv2D; the stride-2 ones avoid input dilation in their gradient where
            # that is faster (cig_k3.layers.phase_conv).
            x = phase_conv.Conv2D(
                num_filters, 4, strides=stride, padding="valid" if padding == "pix2pix" else "same",
                use_bias=(last or i == 0 or norm == "none"), name=f"block{i}_conv",
                dtype=HEAD_DTYPE if last else None,
            )(x)
            if last:
                break
            if i > 0:
                x = normalization(norm, name=f"block{i}_norm")(x)
            x = keras.layers.LeakyReLU(0.2, name=f"block{i}_act")(x)
        logits = keras.layers.Activation("linear", dtype="float32", name="patch_logits")(x)
        super().__init__(inputs=[condition, image], outputs=logits, **kwargs)

        self.condition_channels = condition_channels
        self.image_channels = image_channels
        self.base_filters = base_filters
        self.num_downsamples = num_downsamples
        self.max_filters = max_filters
        self.padding = padding
        self.norm = norm

    @property
    def receptive_field(self):
        """Pixels of the input that one output logit sees (all kernels are 4x4)."""
        field = 1
        for stride in reversed([2] * self.num_downsamples + [1, 1]):
            field = (field - 1) * stride + 4
        return field

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "condition_channels": self.condition_channels,
            "image_channels": self.image_channels,
            "base_filters": self.base_filters,
            "num_downsamples": self.num_downsamples,
            "max_filters": self.max_filters,
            "padding": self.padding,
            "norm": self.norm,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
