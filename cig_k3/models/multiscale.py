"""The multi-scale PatchGAN discriminator of pix2pixHD, also used by SPADE (GauGAN)."""

import keras

from cig_k3.layers.blocks import HEAD_DTYPE, conv_block


@keras.saving.register_keras_serializable(package="cig_k3")
class MultiScaleDiscriminator(keras.Model):
    """`num_scales` PatchGAN discriminators on the (condition, image) pair at 1x, 1/2x,
    1/4x, ... (3x3 average pooling, stride 2, between scales), each returning its
    intermediate features and its logits.

    Each scale is Conv(4x4, stride 2) - LeakyReLU(0.2), then `num_downsamples - 1` more
    stride-2 blocks and one stride-1 block with normalisation, then Conv(4x4) to one logit
    per patch. The same kernels see a field twice as wide at each coarser scale.

    Output: a list over scales of lists [feature_1, ..., feature_L, logits]; feature
    matching uses the features, the adversarial loss the logits (the last entry).

    Args:
        condition_channels, image_channels: channels of the two inputs.
        base_filters: filters of each scale's first block (pix2pixHD: 64).
        num_downsamples: stride-2 blocks per scale (pix2pixHD n_layers_D: 3).
        max_filters: cap on filters per block.
        num_scales: number of discriminators (pix2pixHD num_D: 3).
        norm: "instance" (pix2pixHD), "batch" or "none".

    Example:
        >>> d = MultiScaleDiscriminator(13, 3, base_filters=8, num_downsamples=2)
        >>> [len(s) for s in d([keras.ops.zeros((1, 64, 64, 13)), keras.ops.zeros((1, 64, 64, 3))])]
        [4, 4, 4]

    Reference: Wang et al., "High-Resolution Image Synthesis and Semantic Manipulation with
    Conditional GANs", CVPR 2018, sec. 3.2; NVIDIA/pix2pixHD MultiscaleDiscriminator.
    """

    def __init__(self, condition_channels=3, image_channels=1, base_filters=64, num_downsamples=3,
                 max_filters=512, num_scales=3, norm="instance", **kwargs):
        condition = keras.Input(shape=(None, None, condition_channels), name="condition")
        image = keras.Input(shape=(None, None, image_channels), name="image")
        pair = keras.layers.Concatenate(name="pair")([condition, image])
        outputs = []
        for scale in range(num_scales):
            if scale:
                pair = keras.layers.AveragePooling2D(3, strides=2, padding="same", name=f"downsample{scale}")(pair)
            x, features = pair, []
            for i in range(num_downsamples + 1):
                x = conv_block(
                    x, min(base_filters * 2**i, max_filters), 4, strides=2 if i < num_downsamples else 1,
                    norm="none" if i == 0 else norm, act="leaky_relu", name=f"scale{scale}_block{i}",
                )
                features.append(x)
            logits = keras.layers.Conv2D(1, 4, padding="same", dtype=HEAD_DTYPE, name=f"scale{scale}_logits_conv")(x)
            features.append(keras.layers.Activation("linear", dtype="float32", name=f"scale{scale}_logits")(logits))
            outputs.append(features)
        super().__init__(inputs=[condition, image], outputs=outputs, **kwargs)
        self.condition_channels = condition_channels
        self.image_channels = image_channels
        self.base_filters = base_filters
        self.num_downsamples = num_downsamples
        self.max_filters = max_filters
        self.num_scales = num_scales
        self.norm = norm

    def get_config(self):
        return {
            "name": self.name, "trainable": self.trainable, "condition_channels": self.condition_channels,
            "image_channels": self.image_channels, "base_filters": self.base_filters,
            "num_downsamples": self.num_downsamples, "max_filters": self.max_filters,
            "num_scales": self.num_scales, "norm": self.norm,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
