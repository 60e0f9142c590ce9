"""The multi-scale PatchGAN discriminator of pix2pixHD, also used by SPADE (GauGAN)."""

import keras

from cig_k3.layers.blocks import HEAD_DTYPE, conv_block
from cig_k3.layers.moments import SpatialMoments


@keras.saving.register_keras_serializable(package="cig_k3")
class MultiScaleDiscriminator(keras.Model):
    """`num_scales` PatchGAN discriminators on the (condition, image) pair at 1x, 1/2x,
    1/4x, ... (3x3 average pooling, stride 2, between scales), each returning its
    intermediate features and its logits.

    Each scale is Conv(4x4, stride 2) - LeakyReLU(0.2), then `num_downsamples - 1` more
    stride-2 blocks and one stride-1 block with normalisation, then Conv(4x4) to one logit
    per patch. The same kernels see a field twice as wide at each coarser scale.

    With `image_head`, one more logit per image: every block's convolution output, at every
    scale, before its normalisation, pooled to each channel's mean and standard deviation
    over the crop (`SpatialMoments`), then one linear layer. Instance norm divides each map
    by its own spread over the crop, so the patch logits cannot see how strongly a whole crop
    answers a filter (grain or chromatin twice too strong or too weak looks the same after
    it); this head sees exactly that, as a linear classifier on pooled features does.

    Output: a list over scales of lists [feature_1, ..., feature_L, logits]; feature
    matching uses the features, the adversarial loss the logits (the last entry). With
    `image_head`, the list ends with one more entry, [image_logits] of shape (batch, 1, 1, 1):
    no features to match, one more term of the adversarial loss.

    Args:
        condition_channels, image_channels: channels of the two inputs.
        base_filters: filters of each scale's first block (pix2pixHD: 64).
        num_downsamples: stride-2 blocks per scale (pix2pixHD n_layers_D: 3).
        max_filters: cap on filters per block.
        num_scales: number of discriminators (pix2pixHD num_D: 3).
        norm: "instance" (pix2pixHD), "batch" or "none".
        image_head: add the image-level logit (False: pix2pixHD's discriminator).

    Example:
        >>> d = MultiScaleDiscriminator(13, 3, base_filters=8, num_downsamples=2)
        >>> [len(s) for s in d([keras.ops.zeros((1, 64, 64, 13)), keras.ops.zeros((1, 64, 64, 3))])]
        [4, 4, 4]

    Reference: Wang et al., "High-Resolution Image Synthesis and Semantic Manipulation with
    Conditional GANs", CVPR 2018, sec. 3.2; NVIDIA/pix2pixHD MultiscaleDiscriminator.
    """

    def __init__(self, condition_channels=3, image_channels=1, base_filters=64, num_downsamples=3,
                 max_filters=512, num_scales=3, norm="instance", image_head=False, **kwargs):
        condition = keras.Input(shape=(None, None, condition_channels), name="condition")
        image = keras.Input(shape=(None, None, image_channels), name="image")
        pair = keras.layers.Concatenate(name="pair")([condition, image])
        outputs, taps = [], [] if image_head else None
        for scale in range(num_scales):
            if scale:
                pair = keras.layers.AveragePooling2D(3, strides=2, padding="same", name=f"downsample{scale}")(pair)
            x, features = pair, []
            for i in range(num_downsamples + 1):
                x = conv_block(
                    x, min(base_filters * 2**i, max_filters), 4, strides=2 if i < num_downsamples else 1,
                    norm="none" if i == 0 else norm, act="leaky_relu", name=f"scale{scale}_block{i}", taps=taps,
                )
                features.append(x)
            logits = keras.layers.Conv2D(1, 4, padding="same", dtype=HEAD_DTYPE, name=f"scale{scale}_logits_conv")(x)
            features.append(keras.layers.Activation("linear", dtype="float32", name=f"scale{scale}_logits")(logits))
            outputs.append(features)
        if image_head:
            moments = [SpatialMoments(name=f"image_moments{k}")(tap) for k, tap in enumerate(taps)]
            pooled = keras.layers.Concatenate(name="image_pooled", dtype="float32")(moments)
            # Centred and scaled per image: the log standard deviations lie far from 0 (about
            # -5), and one Adam step on weights that large inputs meet moved the logit by
            # several units (the loss sat at 0.34-0.36 instead of 0.25 without it).
            pooled = keras.layers.LayerNormalization(name="image_pooled_norm", dtype="float32")(pooled)
            # ProGAN's equalised learning rate for this one layer: inputs scaled by 1/sqrt(fan-in),
            # so that an Adam step moves the logit as little as a patch logit's. One logit per
            # image sees 4 samples a step, not a map of patches; unscaled, with the inputs
            # normalised, the loss still jumped to 0.6 by epoch 5.
            pooled = keras.layers.Rescaling(1.0 / pooled.shape[-1] ** 0.5, name="image_pooled_scale",
                                            dtype="float32")(pooled)
            logits = keras.layers.Dense(1, dtype=HEAD_DTYPE, name="image_logits_dense")(pooled)
            outputs.append([keras.layers.Reshape((1, 1, 1), dtype="float32", name="image_logits")(logits)])
        super().__init__(inputs=[condition, image], outputs=outputs, **kwargs)
        self.condition_channels = condition_channels
        self.image_channels = image_channels
        self.base_filters = base_filters
        self.num_downsamples = num_downsamples
        self.max_filters = max_filters
        self.num_scales = num_scales
        self.norm = norm
        self.image_head = image_head

    def get_config(self):
        return {
            "name": self.name, "trainable": self.trainable, "condition_channels": self.condition_channels,
            "image_channels": self.image_channels, "base_filters": self.base_filters,
            "num_downsamples": self.num_downsamples, "max_filters": self.max_filters,
            "num_scales": self.num_scales, "norm": self.norm, "image_head": self.image_head,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
