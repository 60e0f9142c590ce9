"""Dropout that can stay on at inference: pix2pix's source of stochasticity."""

import keras


@keras.saving.register_keras_serializable(package="cig_k3")
class MCDropout(keras.layers.Layer):
    """Dropout whose noise can be kept at inference for Monte-Carlo sampling.

    During training it behaves like `keras.layers.Dropout`. At inference it is off unless
    switched on with `sampling(model)`, so that repeated calls draw different images from
    one condition (pix2pix uses dropout instead of a noise vector).

    Args:
        rate: fraction of units to drop.
        seed: integer seed of the layer's `SeedGenerator`.

    Reference: Isola et al., "Image-to-Image Translation with Conditional Adversarial
    Networks", CVPR 2017, sec. 3.1; Gal & Ghahramani, ICML 2016.
    """

    def __init__(self, rate=0.5, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.sampling = False  # a Python switch read at call time, never saved
        self.supports_masking = True

    def call(self, inputs, training=None):
        if (training or self.sampling) and self.rate > 0:
            return keras.random.dropout(inputs, self.rate, seed=self.seed_generator)
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
