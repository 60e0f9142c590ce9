"""An unconditional PatchGAN: judges an image alone, patch by patch (CycleGAN's D)."""

import keras

from cig_k3.layers import normalization
from cig_k3.layers.blocks import HEAD_DTYPE


@keras.saving.register_keras_serializable(package="cig_k3")
class ImagePatchGANDiscriminator(keras.Model):
    """PatchGAN without a condition input, for unpaired translation.

    `num_downsamples` Conv(4x4, stride 2) - norm - LeakyReLU(0.2) blocks (no norm on the
    first), one Conv(4x4, stride 1) block and a Conv(4x4, stride 1) to one logit per patch;
    "same" padding, so a 32x32 image with 2 down-samplings gives an 8x8 map.

    Args:
        image_channels: channels of the judged image.
        base_filters: filters of the first block (CycleGAN: 64).
        num_downsamples: stride-2 blocks (CycleGAN's 70x70 PatchGAN: 3).
        max_filters: cap on filters per block.
        norm: "instance" (CycleGAN), "batch" or "none".

    Example:
        >>> ImagePatchGANDiscriminator(1, base_filters=8, num_downsamples=2)(keras.ops.zeros((2, 32, 32, 1))).shape
        (2, 8, 8, 1)

    Reference: Zhu et al., "Unpaired Image-to-Image Translation using Cycle-Consistent
    Adversarial Networks", ICCV 2017 (sec. 4, appendix 7.2).
    """

    def __init__(self, image_channels=1, base_filters=64, num_downsamples=3, max_filters=512, norm="instance",
                 **kwargs):
        image = keras.Input(shape=(None, None, image_channels), name="image")
        x = image
        strides = [2] * num_downsamples + [1]
        for i, stride in enumerate(strides):
            x = keras.layers.Conv2D(min(base_filters * 2**i, max_filters), 4, strides=stride, padding="same",
                                    use_bias=(i == 0 or norm == "none"), name=f"block{i}_conv")(x)
            if i > 0:
                x = normalization(norm, name=f"block{i}_norm")(x)
            x = keras.layers.LeakyReLU(0.2, name=f"block{i}_act")(x)
        x = keras.layers.Conv2D(1, 4, padding="same", dtype=HEAD_DTYPE, name="logit_conv")(x)
        logits = keras.layers.Activation("linear", dtype="float32", name="patch_logits")(x)
        super().__init__(inputs=image, outputs=logits, **kwargs)
        self.image_channels = image_channels
        self.base_filters = base_filters
        self.num_downsamples = num_downsamples
        self.max_filters = max_filters
        self.norm = norm

    def get_config(self):
        return {
            "name": self.name, "trainable": self.trainable, "image_channels": self.image_channels,
            "base_filters": self.base_filters, "num_downsamples": self.num_downsamples,
            "max_filters": self.max_filters, "norm": self.norm,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
