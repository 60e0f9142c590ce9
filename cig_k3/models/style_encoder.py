"""Style from a reference image: a VAE style encoder and the U-Net generator it steers.

`StyleEncoder` maps an image to the mean and log-variance of a small latent code;
`StyleUNetGenerator` draws a label map in the style that code describes. Together they are
SPADE's multi-modal generator (a cVAE-GAN, as BicycleGAN's): trained on the target image's
own code with a KL term towards N(0, I), so that at inference the code of any real field
(`cig generate --style IMAGE`) or a draw from the prior gives the field's brightness,
background and texture.
"""

import keras
from keras import ops

from cig_k3.layers.style_code import StyleCode, StyleSample
from cig_k3.models.unet import UNetGenerator

# Keys of a Keras model's own config, not the U-Net's arguments.
_MODEL_KEYS = ("name", "trainable", "dtype")
POOLINGS = ("average", "average_max")


@keras.saving.register_keras_serializable(package="cig_k3")
class StyleEncoder(keras.Model):
    """Image -> [mu, logvar] of a `latent_dim` code: strided 3x3 convolutions, LeakyReLU(0.2),
    global pooling, and two dense heads.

    There is no normalisation: instance norm (SPADE's encoder) would remove each image's own
    mean and contrast, which are the very style to be read. Global pooling makes the encoder
    take images of any size, so one code can describe a whole field while training sees
    crops. "average_max" pooling appends the global maximum of each feature to its average:
    an average dilutes the nuclei's brightness in a sparse field (3% covered) into a dark
    background, while the maximum reads it whatever the coverage. The heads are float32
    under mixed precision (the KL term uses exp(logvar)).

    Args:
        in_channels: channels of the image.
        latent_dim: size of the code.
        base_filters: filters of the first convolution, doubled at each downsampling.
        num_downsamples: stride-2 convolutions.
        max_filters: cap on filters per convolution.
        pooling: "average" or "average_max" (average and maximum, concatenated).

    Example:
        >>> mu, logvar = StyleEncoder(1, latent_dim=8, base_filters=8)(keras.ops.zeros((2, 32, 32, 1)))
        >>> mu.shape, logvar.shape
        ((2, 8), (2, 8))

    Reference: Park et al., "Semantic Image Synthesis with Spatially-Adaptive
    Normalization" (SPADE), CVPR 2019, sec. 4 and appendix (ConvEncoder).
    """

    def __init__(self, in_channels=1, latent_dim=8, base_filters=32, num_downsamples=4, max_filters=256,
                 pooling="average", **kwargs):
        if pooling not in POOLINGS:
            raise ValueError(f"unknown encoder pooling {pooling!r} in the style generator's generator_args; "
                             f"choose one of {POOLINGS}")
        image = keras.Input(shape=(None, None, in_channels), name="image")
        x = image
        for i in range(num_downsamples):
            x = keras.layers.Conv2D(min(base_filters * 2**i, max_filters), 3, strides=2, padding="same",
                                    name=f"down{i}_conv")(x)
            x = keras.layers.LeakyReLU(0.2, name=f"down{i}_act")(x)
        pooled = keras.layers.GlobalAveragePooling2D(name="pool")(x)
        if pooling == "average_max":
            maximum = keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
            pooled = keras.layers.Concatenate(name="pool_concat")([pooled, maximum])
        x = pooled
        mu = keras.layers.Dense(latent_dim, dtype="float32", name="mu")(x)
        logvar = keras.layers.Dense(latent_dim, dtype="float32", name="logvar")(x)
        super().__init__(inputs=image, outputs=[mu, logvar], **kwargs)
        self.in_channels = in_channels
        self.latent_dim = int(latent_dim)
        self.base_filters = base_filters
        self.num_downsamples = num_downsamples
        self.max_filters = max_filters
        self.pooling = pooling

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "in_channels": self.in_channels,
                "latent_dim": self.latent_dim, "base_filters": self.base_filters,
                "num_downsamples": self.num_downsamples, "max_filters": self.max_filters, "pooling": self.pooling}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="cig_k3")
class StyleUNetGenerator(keras.Model):
    """A `UNetGenerator` that draws a label in the style of an image, through a style code.

    Input: {"label": (N, H, W, in_channels), "raw": (N, h, w, out_channels)}, the contract
    of style-taking generators (MixLC's; `cig_k3.evaluation.conditioning.takes_style`), so
    evaluation, napari and tiling feed it as they feed MixLC. The raw image need not have the
    label's size. Output: (N, H, W, out_channels) in [-1, 1].

    raw -> `StyleEncoder` -> (mu, logvar) -> `StyleSample` z (mu + sigma * eps when training
    or sampling, mu otherwise) -> `StyleCode` appends z to every pixel of the label ->
    U-Net. z enters at the U-Net's input, spatially replicated, as BicycleGAN's
    "add_to_input": the U-Net file stays as it is, and z still reaches the bottleneck
    through the encoder and the output through the outermost skip. The U-Net's own
    `latent_dim` is 0: the style code replaces its internally drawn one.

    One code for a whole field: `encode(raw)` gives (mu, logvar) once, and
    `synthesize(label, code)` draws any tile with that code (`cig generate --style`), so
    tiles show no style seams. Without a style, draw the code from the prior N(0, I).

    Args:
        in_channels: channels of the label (e.g. 3 for semantic3).
        out_channels: channels of the image (and of the style image).
        latent_dim: size of the style code (SPADE: 256; 8 is plenty for exposure, background
            and texture of one stain).
        encoder_filters, encoder_downsamples, encoder_max_filters, encoder_pooling: of the
            `StyleEncoder`.
        seed: seed of the U-Net's noise layers and of the code's draws (seed + 4000).
        **unet_args: every other `UNetGenerator` argument (base_filters, depth, upsample,
            noise, ...).

    Example:
        >>> generator = StyleUNetGenerator(3, 1, latent_dim=4, base_filters=8, depth=3, encoder_filters=8)
        >>> generator({"label": keras.ops.zeros((2, 32, 32, 3)), "raw": keras.ops.zeros((2, 48, 40, 1))}).shape
        (2, 32, 32, 1)
        >>> mu, _ = generator.encode(field)                     # one code for the whole field
        >>> tile = generator.synthesize(label_tile, mu)        # any tile, the same style

    Reference: Park et al., SPADE, CVPR 2019, sec. 4; Zhu et al., BicycleGAN, NeurIPS 2017,
    sec. 3.2 (cVAE-GAN) and 4 (injecting z).
    """

    def __init__(self, in_channels=3, out_channels=1, latent_dim=8, encoder_filters=32, encoder_downsamples=4,
                 encoder_max_filters=256, encoder_pooling="average", seed=None, **kwargs):
        if int(latent_dim) < 1:
            raise ValueError(f"latent_dim={latent_dim} in StyleUNetGenerator's generator_args must be >= 1")
        model_args = {key: kwargs.pop(key) for key in _MODEL_KEYS if key in kwargs}
        unet_args = dict(kwargs)
        label = keras.Input(shape=(None, None, in_channels), name="label")
        raw = keras.Input(shape=(None, None, out_channels), name="raw")
        encoder = StyleEncoder(out_channels, latent_dim, encoder_filters, encoder_downsamples, encoder_max_filters,
                               encoder_pooling, name="style_encoder")
        mu, logvar = encoder(raw)
        code = StyleSample(seed=None if seed is None else seed + 4000, name="style_sample")([mu, logvar])
        conditioned = StyleCode(name="style_code")([label, code])
        unet = UNetGenerator(in_channels + int(latent_dim), out_channels, seed=seed, latent_dim=0, name="unet",
                             **unet_args)
        image = unet(conditioned)
        super().__init__(inputs={"label": label, "raw": raw}, outputs=image, **model_args)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.latent_dim = int(latent_dim)
        self.encoder_filters = encoder_filters
        self.encoder_downsamples = encoder_downsamples
        self.encoder_max_filters = encoder_max_filters
        self.encoder_pooling = encoder_pooling
        self.seed = seed
        self.unet_args = unet_args

    @property
    def size_multiple(self):
        """Height and width of the label must be multiples of this (the style image's need not)."""
        return self.get_layer("unet").size_multiple

    def encode(self, raw, training=False):
        """(mu, logvar), each (N, latent_dim) float32, of style images (N, h, w, out_channels)."""
        mu, logvar = self.get_layer("style_encoder")(raw, training=training)
        return mu, logvar

    def synthesize(self, label, code, training=False):
        """Images for labels (N, H, W, in_channels) in the style of codes (N, latent_dim)."""
        conditioned = self.get_layer("style_code")([label, ops.convert_to_tensor(code, "float32")])
        return self.get_layer("unet")(conditioned, training=training)

    def get_config(self):
        return {
            "name": self.name, "trainable": self.trainable, "in_channels": self.in_channels,
            "out_channels": self.out_channels, "latent_dim": self.latent_dim, "encoder_filters": self.encoder_filters,
            "encoder_downsamples": self.encoder_downsamples, "encoder_max_filters": self.encoder_max_filters,
            "encoder_pooling": self.encoder_pooling, "seed": self.seed, **self.unet_args,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def has_style_encoder(model):
    """Whether `model` draws in the style of a code it can encode from an image
    (`encode(raw)` and `synthesize(label, code)`, as `StyleUNetGenerator`)."""
    return callable(getattr(model, "encode", None)) and callable(getattr(model, "synthesize", None))
