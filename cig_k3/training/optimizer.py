"""Two optimisers seen by Keras as one, so that `fit` threads both states on every backend."""

import keras


class GANOptimizer(keras.optimizers.Optimizer):
    """A container holding the generator's and the discriminator's optimisers.

    Keras' trainers know one `model.optimizer`; on JAX the optimiser's `variables` are what
    is threaded through the stateless step. This container exposes the concatenation of
    both optimisers' variables, generator first, and never updates anything itself: the
    per-backend steps call each inner optimiser on its own network's variables. Its own
    learning rate is 0 and meaningless; log the inner ones.
    """

    def __init__(self, generator_optimizer, discriminator_optimizer, name="gan_optimizer", **kwargs):
        super().__init__(learning_rate=0.0, name=name, **kwargs)
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer

    def build_for(self, generator_variables, discriminator_variables):
        self.generator_optimizer.build(generator_variables)
        self.discriminator_optimizer.build(discriminator_variables)
        self.built = True

    def build(self, variables):
        if not self.built:
            raise RuntimeError("GANOptimizer is built by ConditionalGAN.compile through build_for()")

    @property
    def variables(self):
        return list(self.generator_optimizer.variables) + list(self.discriminator_optimizer.variables)

    def split(self, values):
        """Split a flat list aligned with `variables` into (generator, discriminator) parts."""
        count = len(self.generator_optimizer.variables)
        return list(values[:count]), list(values[count:])

    def get_config(self):
        return {"name": self.name}
