"""A style code given from outside the generator: drawn from an encoder's posterior, then
broadcast over the image and appended to a tensor's channels.

`StyleSample` turns an encoder's (mu, logvar) into a code z and follows the rule of every
noise layer (`cig_k3.layers.sampling`): z = mu + exp(logvar / 2) * eps, eps ~ N(0, I), when
training or inside `sampling(model)`, and z = mu otherwise (the posterior's mean, so plain
inference is deterministic). `StyleCode` appends a given z to every pixel, as `LatentCode`
does with the z it draws itself.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="cig_k3")
class StyleSample(keras.layers.Layer):
    """The reparameterisation trick: [mu, logvar] -> z = mu + exp(logvar / 2) * eps.

    eps ~ N(0, I) is drawn when training or while `sampling(model)` is open; otherwise
    z = mu. The gradient reaches mu and logvar through the sample, so an encoder trained
    with a KL term learns a posterior (Kingma and Welling's VAE, as SPADE's style encoder).

    Args:
        seed: integer seed of the layer's `SeedGenerator` (None: a random one).

    Example:
        >>> mu, logvar = keras.ops.ones((2, 8)), keras.ops.zeros((2, 8))
        >>> bool(keras.ops.all(StyleSample(seed=0)([mu, logvar]) == mu))  # inference: the mean
        True

    Reference: Kingma and Welling, "Auto-Encoding Variational Bayes", ICLR 2014, sec. 2.4;
    Park et al., SPADE, CVPR 2019, sec. 4 (multi-modal synthesis).
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.sampling = False  # a Python switch read at call time, never saved (as MCDropout)

    def call(self, inputs, training=None):
        mu, logvar = inputs
        if not (training or self.sampling):
            return mu
        noise = keras.random.normal(ops.shape(mu), dtype=mu.dtype, seed=self.seed_generator)
        return mu + ops.exp(0.5 * ops.cast(logvar, mu.dtype)) * noise

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package="cig_k3")
class StyleCode(keras.layers.Layer):
    """[features (N, H, W, C), code (N, D)] -> (N, H, W, C + D): the code at every pixel.

    Unlike `LatentCode`, which draws its z inside, the code is an input, so that an encoder
    (or a caller holding one code for a whole field) decides it.

    Example:
        >>> StyleCode()([keras.ops.zeros((2, 4, 4, 3)), keras.ops.ones((2, 8))]).shape
        (2, 4, 4, 11)

    Reference: Zhu et al., "Toward Multimodal Image-to-Image Translation" (BicycleGAN),
    NeurIPS 2017, sec. 4 (z replicated spatially and concatenated to the generator's input).
    """

    def call(self, inputs):
        features, code = inputs
        code = ops.cast(code, features.dtype)
        # ones_like(features[..., :1]) broadcasts z over height and width, whatever they are.
        return ops.concatenate([features, code[:, None, None, :] * ops.ones_like(features[..., :1])], axis=-1)

    def compute_output_shape(self, input_shape):
        features, code = input_shape
        return (*features[:-1], features[-1] + code[-1])
