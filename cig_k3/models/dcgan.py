"""DCGAN networks: a noise-to-image generator, a judge, and an encoder (for BiGAN), all
convolutional, with no dense layers."""

import math

import keras

from cig_k3.layers import normalization
from cig_k3.layers.blocks import HEAD_DTYPE


def _levels(image_size):
    """Stride-2 steps between a 4x4 map and an image_size x image_size image."""
    levels = math.log2(image_size) - 2 if image_size >= 8 else -1
    if levels < 1 or levels != int(levels):
        raise ValueError(f"image_size must be a power of two of at least 8, got {image_size}")
    return int(levels)


def _norm(kind, name):
    # "layer" is what WGAN-GP (Gulrajani et al. 2017, sec. 4) puts in a critic instead of
    # batch norm, which would make the penalised gradient depend on the rest of the batch.
    if kind == "layer":
        return keras.layers.LayerNormalization(axis=(-3, -2, -1), epsilon=1e-5, name=name)
    return normalization(kind, name=name)


def _downsample(x, image_size, base_filters, max_filters, norm, prefix, dropout=0.0, seed=None):
    """Conv(4x4, stride 2) - [norm] - LeakyReLU(0.2) [- dropout] down to a 4x4 map; no norm
    at the input."""
    for i in range(_levels(image_size)):
        x = keras.layers.Conv2D(min(base_filters * 2**i, max_filters), 4, strides=2, padding="same",
                                use_bias=(i == 0 or norm == "none"), name=f"{prefix}{i}_conv")(x)
        if i > 0:
            x = _norm(norm, f"{prefix}{i}_norm")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"{prefix}{i}_act")(x)
        x = _dropout(x, dropout, seed, i, f"{prefix}{i}_drop")
    return x


def _dropout(x, rate, seed, index, name):
    """Dropout after a discriminator block (ALI), or x as it is when rate is 0: without
    dropout no layer is added, so files written before the option load unchanged."""
    if not rate:
        return x
    return keras.layers.Dropout(rate, seed=None if seed is None else seed + index, name=name)(x)


@keras.saving.register_keras_serializable(package="cig_k3")
class DCGANGenerator(keras.Model):
    """DCGAN generator: a noise vector (and optionally a class) to an image in [-1, 1].

    z (and the one-hot class, concatenated as in Mirza & Osindero's cGAN) is read as a 1x1
    map; ConvTranspose(4x4, valid) makes it 4x4, then ConvTranspose(4x4, stride 2) - batch
    norm - ReLU blocks double it up to image_size, the last one to `out_channels` with tanh.

    Args:
        latent_dim: length of the noise vector z.
        out_channels: channels of the generated image.
        image_size: side of the square image, a power of two (at least 8).
        base_filters: filters of the last hidden block; they double towards the 4x4 map.
        max_filters: cap on filters per block.
        num_classes: 0 for an unconditional generator, else the second input is a one-hot class.
        norm: "batch" (DCGAN), "instance" or "none".

    Example:
        >>> generator = DCGANGenerator(latent_dim=16, image_size=32, base_filters=8)
        >>> generator(keras.ops.zeros((2, 16))).shape
        (2, 32, 32, 1)

    Reference: Radford, Metz & Chintala, "Unsupervised Representation Learning with Deep
    Convolutional Generative Adversarial Networks", ICLR 2016.
    """

    def __init__(self, latent_dim=100, out_channels=1, image_size=64, base_filters=64, max_filters=512,
                 num_classes=0, norm="batch", **kwargs):
        levels = _levels(image_size)
        noise = keras.Input(shape=(latent_dim,), name="noise")
        inputs = [noise]
        x = noise
        if num_classes:
            label = keras.Input(shape=(num_classes,), name="class")
            inputs.append(label)
            x = keras.layers.Concatenate(name="noise_and_class")([noise, label])
        x = keras.layers.Reshape((1, 1, x.shape[-1]), name="as_map")(x)
        for i in range(levels):
            num_filters = min(base_filters * 2 ** (levels - 1 - i), max_filters)
            x = keras.layers.Conv2DTranspose(
                num_filters, 4, strides=1 if i == 0 else 2, padding="valid" if i == 0 else "same",
                use_bias=(norm == "none"), name=f"up{i}_conv",
            )(x)
            x = normalization(norm, name=f"up{i}_norm")(x)
            x = keras.layers.ReLU(name=f"up{i}_act")(x)
        x = keras.layers.Conv2DTranspose(out_channels, 4, strides=2, padding="same", dtype=HEAD_DTYPE,
                                         name="out_conv")(x)
        image = keras.layers.Activation("tanh", dtype="float32", name="image")(x)
        super().__init__(inputs=inputs if num_classes else noise, outputs=image, **kwargs)
        self.latent_dim = latent_dim
        self.out_channels = out_channels
        self.image_size = image_size
        self.base_filters = base_filters
        self.max_filters = max_filters
        self.num_classes = num_classes
        self.norm = norm

    def get_config(self):
        return {
            "name": self.name, "trainable": self.trainable, "latent_dim": self.latent_dim,
            "out_channels": self.out_channels, "image_size": self.image_size, "base_filters": self.base_filters,
            "max_filters": self.max_filters, "num_classes": self.num_classes, "norm": self.norm,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="cig_k3")
class DCGANDiscriminator(keras.Model):
    """DCGAN discriminator: an image (with a class, or with a code z) to one real/fake logit.

    Conv(4x4, stride 2) - norm - LeakyReLU(0.2) blocks down to 4x4, then Conv(4x4, valid) to
    a single number per image: a logit, i.e. the pre-sigmoid value of the paper's
    probability. The sigmoid is folded into the loss (binary cross-entropy from logits) for
    numerical stability; `keras.ops.sigmoid(logit)` is the probability. With
    `num_classes` the one-hot class is tiled over the image and added as channels; with
    `latent_dim` (BiGAN) the image path ends in a 1x1 feature map that 1x1 convolutions join
    with z. No dense layers either way.

    Args:
        image_channels: channels of the judged image.
        image_size: side of the square image, a power of two (at least 8).
        base_filters: filters of the first block; they double at each block.
        max_filters: cap on filters per block.
        num_classes: 0, or the length of a one-hot class input.
        latent_dim: 0, or the length of a code input z judged together with the image.
        norm: "batch" (DCGAN), "layer" (a WGAN-GP critic), "instance" or "none".
        dropout: rate of a dropout after every block (ALI uses 0.2 throughout its
            discriminator, which keeps it from overpowering generator and encoder); 0: none.
        seed: seed of the dropout layers.

    Example:
        >>> judge = DCGANDiscriminator(image_size=32, base_filters=8)
        >>> judge(keras.ops.zeros((2, 32, 32, 1))).shape
        (2, 1)

    Reference: Radford et al., ICLR 2016; Donahue et al., "Adversarial Feature Learning"
    (BiGAN), ICLR 2017; Dumoulin et al., "Adversarially Learned Inference", ICLR 2017.
    """

    def __init__(self, image_channels=1, image_size=64, base_filters=64, max_filters=512, num_classes=0,
                 latent_dim=0, norm="batch", dropout=0.0, seed=None, **kwargs):
        if num_classes and latent_dim:
            raise ValueError("give num_classes (cGAN) or latent_dim (BiGAN), not both")
        image = keras.Input(shape=(image_size, image_size, image_channels), name="image")
        inputs, x = [image], image
        if num_classes:
            label = keras.Input(shape=(num_classes,), name="class")
            inputs.append(label)
            tiled = keras.layers.Reshape((1, 1, num_classes), name="class_map")(label)
            tiled = keras.layers.UpSampling2D(image_size, name="class_tiled")(tiled)
            x = keras.layers.Concatenate(name="image_and_class")([image, tiled])
        x = _downsample(x, image_size, base_filters, max_filters, norm, "down", dropout, seed)
        levels = _levels(image_size)
        if latent_dim:
            code = keras.Input(shape=(latent_dim,), name="code")
            inputs.append(code)
            width = min(base_filters * 2 ** _levels(image_size), max_filters)
            x = keras.layers.Conv2D(width, 4, padding="valid", name="image_features")(x)
            x = keras.layers.LeakyReLU(0.2, name="image_features_act")(x)
            x = _dropout(x, dropout, seed, levels, "image_features_drop")
            z = keras.layers.Reshape((1, 1, latent_dim), name="code_map")(code)
            z = keras.layers.Conv2D(width, 1, name="code_features")(z)
            z = keras.layers.LeakyReLU(0.2, name="code_features_act")(z)
            z = _dropout(z, dropout, seed, levels + 1, "code_features_drop")
            x = keras.layers.Concatenate(name="joint")([x, z])
            x = keras.layers.Conv2D(width, 1, name="joint_conv")(x)
            x = keras.layers.LeakyReLU(0.2, name="joint_act")(x)
            x = _dropout(x, dropout, seed, levels + 2, "joint_drop")
            x = keras.layers.Conv2D(1, 1, dtype=HEAD_DTYPE, name="logit_conv")(x)
        else:
            x = keras.layers.Conv2D(1, 4, padding="valid", dtype=HEAD_DTYPE, name="logit_conv")(x)
        x = keras.layers.Reshape((1,), name="flat")(x)
        logit = keras.layers.Activation("linear", dtype="float32", name="logit")(x)
        super().__init__(inputs=inputs if len(inputs) > 1 else image, outputs=logit, **kwargs)
        self.image_channels = image_channels
        self.image_size = image_size
        self.base_filters = base_filters
        self.max_filters = max_filters
        self.num_classes = num_classes
        self.latent_dim = latent_dim
        self.norm = norm
        self.dropout = float(dropout)
        self.seed = seed

    def get_config(self):
        return {
            "name": self.name, "trainable": self.trainable, "image_channels": self.image_channels,
            "image_size": self.image_size, "base_filters": self.base_filters, "max_filters": self.max_filters,
            "num_classes": self.num_classes, "latent_dim": self.latent_dim, "norm": self.norm,
            "dropout": self.dropout, "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="cig_k3")
class DCGANEncoder(keras.Model):
    """BiGAN encoder E(x) -> z: the discriminator's convolutional path, ending in a
    Conv(4x4, valid) to `latent_dim` linear outputs.

    Args:
        image_channels: channels of the encoded image.
        image_size: side of the square image, a power of two (at least 8).
        latent_dim: length of the code (the generator's noise length).
        base_filters: filters of the first block.
        max_filters: cap on filters per block.
        norm: "batch", "instance" or "none".

    Example:
        >>> DCGANEncoder(image_size=32, latent_dim=16, base_filters=8)(keras.ops.zeros((2, 32, 32, 1))).shape
        (2, 16)

    Reference: Donahue et al., "Adversarial Feature Learning", ICLR 2017.
    """

    def __init__(self, image_channels=1, image_size=64, latent_dim=100, base_filters=64, max_filters=512,
                 norm="batch", **kwargs):
        image = keras.Input(shape=(image_size, image_size, image_channels), name="image")
        x = _downsample(image, image_size, base_filters, max_filters, norm, "down")
        x = keras.layers.Conv2D(latent_dim, 4, padding="valid", name="code_conv")(x)
        x = keras.layers.Reshape((latent_dim,), name="flat")(x)
        code = keras.layers.Activation("linear", dtype="float32", name="code")(x)
        super().__init__(inputs=image, outputs=code, **kwargs)
        self.image_channels = image_channels
        self.image_size = image_size
        self.latent_dim = latent_dim
        self.base_filters = base_filters
        self.max_filters = max_filters
        self.norm = norm

    def get_config(self):
        return {
            "name": self.name, "trainable": self.trainable, "image_channels": self.image_channels,
            "image_size": self.image_size, "latent_dim": self.latent_dim, "base_filters": self.base_filters,
            "max_filters": self.max_filters, "norm": self.norm,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
