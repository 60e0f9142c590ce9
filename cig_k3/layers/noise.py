"""Noise sources for diverse samples: per-pixel noise injection, a latent code, camera noise, specks.

All of them follow the rule of `MCDropout`, so that one switch (`cig_k3.layers.sampling`) governs
every source of randomness in a generator:

- `training=True` (a training step): the noise is drawn;
- inference with `sampling(model)` open (`cig generate --samples K`, `cig evaluate`'s
  diversity draws, the training sample grid): the noise is drawn, so K calls give K images;
- plain inference (`model(x)`, `sampling(model, enabled=False)`): the noise is replaced by
  its mean, zero, so the output is deterministic (the generator's "mean" image).

Each layer draws from its own `keras.random.SeedGenerator(seed)`, whose state is a
variable of the model: the same seed and the same call sequence give the same samples.
Tiled inference inside `one_draw_per_field` (`cig_k3.layers.stochastic`) gives the per-pixel
layers one noise image per field instead, so that overlapping tiles add the same noise.
"""

import keras
from keras import ops


def _noise(layer, kind, shape, dtype, training):
    """`kind` ("normal" or "uniform") noise of `shape` for `layer`: from its SeedGenerator,
    or, at inference inside `one_draw_per_field` with tiles placed, the tiles' part of the
    field's noise (`FieldNoise`)."""
    if not training and layer.field_noise is not None:
        tiles = layer.field_noise.tiles(layer, kind, shape)
        if tiles is not None:
            return ops.convert_to_tensor(tiles, dtype)
    draw = keras.random.normal if kind == "normal" else keras.random.uniform
    return draw(shape, dtype=dtype, seed=layer.seed_generator)


@keras.saving.register_keras_serializable(package="cig_k3")
class NoiseInjection(keras.layers.Layer):
    """Adds per-pixel Gaussian noise times a learned per-channel scale: x + scale[c] * n.

    One noise image n ~ N(0, 1) of shape (batch, height, width, 1) is drawn per call and
    shared by all channels, each channel weighting it by its own learned scale, as in
    StyleGAN. The scale starts at `initial_scale` (StyleGAN: 0, so a trained model is not
    disturbed at first and the generator learns how much noise each feature wants).

    Args:
        initial_scale: starting value of every channel's scale.
        seed: integer seed of the layer's `SeedGenerator` (None: a random one).

    Example:
        >>> layer = NoiseInjection(initial_scale=1.0, seed=0)
        >>> x = keras.ops.zeros((2, 8, 8, 4))
        >>> bool(keras.ops.all(layer(x, training=True) == layer(x, training=True)))
        False
        >>> bool(keras.ops.all(layer(x) == x))  # inference, no sampling: noise off
        True

    Reference: Karras et al., "A Style-Based Generator Architecture for Generative
    Adversarial Networks", CVPR 2019, sec. 2 ("B" in fig. 1) and sec. 3.2.
    """

    def __init__(self, initial_scale=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.initial_scale = initial_scale
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.sampling = False  # a Python switch read at call time, never saved (as MCDropout)
        self.field_noise = None  # a FieldNoise inside one_draw_per_field, never saved

    def build(self, input_shape):
        self.scale = self.add_weight(
            shape=(input_shape[-1],), initializer=keras.initializers.Constant(self.initial_scale), name="scale"
        )

    def call(self, inputs, training=None):
        if not (training or self.sampling):
            return inputs
        shape = ops.shape(inputs)
        noise = _noise(self, "normal", (shape[0], shape[1], shape[2], 1), inputs.dtype, training)
        return inputs + noise * ops.cast(self.scale, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "initial_scale": self.initial_scale, "seed": self.seed}


@keras.saving.register_keras_serializable(package="cig_k3")
class CameraNoise(keras.layers.Layer):
    """The camera's own noise on a generated image in [-1, 1]: y + sigma(y) * n, clipped to [-1, 1].

    A microscope's pixels carry read noise (the same at every level) and shot noise (its
    variance grows with the photon count), independent from pixel to pixel. The standard
    Poisson-Gaussian model gives sigma(y)^2 = read^2 + shot^2 * (y + 1) / 2, with `read` and
    `shot` learned (their absolute values are used). The noise is drawn after the generator's
    last convolution, so it stays white: without this layer a generator can only draw grain
    through convolutions, which colour it into oriented streaks a classifier sees (BBBC039
    background: neighbour correlation 0.17 against 0.0 real, benchmarks/RESULTS.md, issue 14).
    The clip matches the data's own range, where real pixels saturate at both ends.

    Follows `NoiseInjection`'s rule: drawn when training and inside `sampling(model)`, off
    (the noise's mean, zero) at plain inference, so exports give the noise-free image.

    Args:
        read: starting read-noise standard deviation (units of the [-1, 1] range).
        shot: starting shot-noise standard deviation at full brightness.
        seed: integer seed of the layer's `SeedGenerator` (None: a random one).
        learned: which sizes training changes, of ("read", "shot"); the others keep their
            starting value (a level measured on the data, `camera_noise: "calibrated"`).

    Example:
        >>> layer = CameraNoise(read=0.01, shot=0.0, seed=0)
        >>> x = keras.ops.zeros((1, 64, 64, 1))
        >>> round(float(keras.ops.std(layer(x, training=True))), 2)
        0.01
        >>> bool(keras.ops.all(layer(x) == x))  # inference, no sampling: noise off
        True

    Reference: Foi et al., "Practical Poissonian-Gaussian noise modeling and fitting for
    single-image raw-data", IEEE TIP 2008.
    """

    def __init__(self, read=0.005, shot=0.01, seed=None, learned=("read", "shot"), **kwargs):
        super().__init__(**kwargs)
        unknown = sorted(set(learned) - {"read", "shot"})
        if unknown:
            raise ValueError(f"CameraNoise learns 'read' and/or 'shot'; got learned={list(learned)}")
        self.initial_read, self.initial_shot = float(read), float(shot)
        self.learned = tuple(name for name in ("read", "shot") if name in learned)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.sampling = False
        self.field_noise = None

    def build(self, input_shape):
        self.read = self.add_weight(shape=(), initializer=keras.initializers.Constant(self.initial_read),
                                    trainable="read" in self.learned, name="read")
        self.shot = self.add_weight(shape=(), initializer=keras.initializers.Constant(self.initial_shot),
                                    trainable="shot" in self.learned, name="shot")

    def call(self, inputs, training=None):
        if not (training or self.sampling):
            return inputs
        read = ops.cast(self.read, inputs.dtype)
        shot = ops.cast(self.shot, inputs.dtype)
        variance = read * read + shot * shot * ops.relu(inputs + 1.0) / 2.0
        noise = _noise(self, "normal", ops.shape(inputs), inputs.dtype, training)
        return ops.clip(inputs + ops.sqrt(variance) * noise, -1.0, 1.0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "read": self.initial_read, "shot": self.initial_shot, "seed": self.seed,
                "learned": list(self.learned)}


@keras.saving.register_keras_serializable(package="cig_k3")
class Specks(keras.layers.Layer):
    """Small bright specks (debris, out-of-focus particles) at a fixed density and brightness.

    A real fluorescence background is not only the camera's grain: it holds small bright
    specks, about 100 a BBBC039 field (2.9e-4 a background pixel), a few pixels wide. A
    generator trained by the game draws ten times fewer, and drawn on its images at the
    measured density they took FID from 25.4 to 22.6 and C2ST from 0.918 to 0.895, as much as
    the real specks swapped in (benchmarks/RESULTS.md, issue 14). Like the camera's noise,
    their density and brightness are a property of the sample that the data shows directly,
    so they are measured before training (`camera_calibration.measure_specks`) and kept fixed:
    a learned size is what the game switches off.

    Each pixel of each channel starts a speck with probability `density`; its peak brightness
    is one of `amplitudes` (the measured brightnesses' quantiles), each as likely; its shape
    is a Gaussian of `size` px with that peak. The specks are added and the image clipped to
    [-1, 1]. Follows `NoiseInjection`'s rule: drawn when training and inside
    `sampling(model)`, off at plain inference, so exports give the speck-free image.

    Args:
        density: probability that a pixel starts a speck (0: the layer changes nothing).
        amplitudes: peak brightnesses (units of the [-1, 1] range) drawn from, uniformly.
        size: the specks' Gaussian standard deviation in pixels.
        seed: integer seed of the layer's `SeedGenerator` (None: a random one).

    Example:
        >>> layer = Specks(density=0.01, amplitudes=[0.2], seed=0)
        >>> x = -keras.ops.ones((1, 64, 64, 1))
        >>> round(float(keras.ops.max(layer(x, training=True))), 2)  # a speck's peak: -1 + 0.2
        -0.8
        >>> bool(keras.ops.all(layer(x) == x))  # inference, no sampling: no specks
        True
    """

    def __init__(self, density=0.0, amplitudes=(0.0,), size=0.8, seed=None, **kwargs):
        super().__init__(**kwargs)
        amplitudes = [float(value) for value in amplitudes]
        if not 0.0 <= float(density) < 1.0 or not amplitudes or float(size) <= 0:
            raise ValueError(f"Specks needs 0 <= density < 1, at least one amplitude and size > 0; got "
                             f"density={density}, amplitudes={amplitudes}, size={size}")
        self.density, self.amplitudes, self.size = float(density), amplitudes, float(size)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.sampling = False
        self.field_noise = None

    def build(self, input_shape):
        import numpy as np

        radius = int(np.ceil(3 * self.size))
        offsets = np.arange(-radius, radius + 1, dtype=np.float64)
        bump = np.exp(-(offsets[:, None] ** 2 + offsets[None, :] ** 2) / (2 * self.size**2))  # peak 1
        # One depthwise kernel: each channel's specks are its own.
        self.kernel = np.repeat(bump[:, :, None, None], input_shape[-1], axis=2).astype("float32")

    def call(self, inputs, training=None):
        if not (training or self.sampling) or self.density == 0.0:
            return inputs
        # One uniform draw places the specks (u < density) and picks their brightness: given a
        # speck, u / density is uniform on [0, 1), so it indexes the amplitudes uniformly.
        uniform = _noise(self, "uniform", ops.shape(inputs), "float32", training)
        count = len(self.amplitudes)
        index = ops.cast(ops.minimum(uniform * (count / self.density), count - 1.0), "int32")
        peaks = ops.take(ops.convert_to_tensor(self.amplitudes, "float32"), index)
        impulses = ops.where(uniform < self.density, peaks, ops.zeros_like(peaks))
        specks = ops.depthwise_conv(impulses, ops.convert_to_tensor(self.kernel), padding="same")
        return ops.clip(inputs + ops.cast(specks, inputs.dtype), -1.0, 1.0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "density": self.density, "amplitudes": list(self.amplitudes),
                "size": self.size, "seed": self.seed}


@keras.saving.register_keras_serializable(package="cig_k3")
class LatentCode(keras.layers.Layer):
    """Concatenates a latent code z ~ N(0, I) of `latent_dim` values, the same at every pixel.

    Used at a generator's bottleneck: one z per image, drawn inside the model, broadcast over
    height and width and appended to the features' channels. Outside training and sampling
    z is zero, the prior's mean.

    Tiled inference gives a whole field one z: inside `one_code_per_field(model, seed)`
    (`cig_k3.layers.stochastic`) the layer, when sampling, uses its `fixed_code` for every
    image of every call, so the tiles of one field share one exposure and texture instead
    of a patchwork of codes.

    Args:
        latent_dim: number of latent values appended.
        seed: integer seed of the layer's `SeedGenerator` (None: a random one).

    Example:
        >>> LatentCode(8, seed=0)(keras.ops.zeros((2, 4, 4, 16))).shape
        (2, 4, 4, 24)

    Reference: Zhu et al., "Toward Multimodal Image-to-Image Translation" (BicycleGAN),
    NeurIPS 2017, sec. 3 (z injected into the generator's input or bottleneck).
    """

    def __init__(self, latent_dim, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.sampling = False
        self.fixed_code = None  # (latent_dim,) used when sampling at inference, if set

    def call(self, inputs, training=None):
        batch = ops.shape(inputs)[0]
        if not training and self.sampling and self.fixed_code is not None:
            code = ops.convert_to_tensor(self.fixed_code, dtype=inputs.dtype)
            code = ops.broadcast_to(code, (batch, self.latent_dim))
        elif training or self.sampling:
            code = keras.random.normal((batch, self.latent_dim), dtype=inputs.dtype, seed=self.seed_generator)
        else:
            code = ops.zeros((batch, self.latent_dim), dtype=inputs.dtype)
        # ones_like(inputs[..., :1]) broadcasts z over height and width, whatever they are.
        code = code[:, None, None, :] * ops.ones_like(inputs[..., :1])
        return ops.concatenate([inputs, code], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + self.latent_dim)

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim, "seed": self.seed}


# The layers whose per-pixel noise `one_draw_per_field` draws once per field.
FIELD_NOISE_LAYERS = (NoiseInjection, CameraNoise, Specks)
