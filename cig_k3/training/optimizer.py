"""Named optimisers seen by Keras as one, so that `fit` threads every state on every backend."""

import keras


class GANOptimizer(keras.optimizers.Optimizer):
    """A container holding one optimiser per training phase owner ("generator", "discriminator", ...).

    Keras' trainers know one `model.optimizer`; on JAX the optimiser's `variables` are what
    is threaded through the stateless step. This container exposes the concatenation of the
    inner optimisers' variables, in the order they were given (generator first), and never
    updates anything itself: the per-backend steps call each inner optimiser on the
    variables of the phase that names it. Its own learning rate is 0 and meaningless; log
    the inner ones.

    Args:
        optimizers: {name: keras optimizer}, e.g. {"generator": Adam(), "discriminator": Adam()}.

    Example:
        >>> optimizer = GANOptimizer({"generator": Adam(2e-4), "discriminator": Adam(2e-4)})
        >>> optimizer.build_for({"generator": g.trainable_variables, "discriminator": d.trainable_variables})
        >>> optimizer["generator"]
    """

    def __init__(self, optimizers, name="gan_optimizer", **kwargs):
        super().__init__(learning_rate=0.0, name=name, **kwargs)
        if not optimizers:
            raise ValueError("GANOptimizer needs at least one named optimizer")
        self.optimizers = dict(optimizers)

    def __getitem__(self, name):
        if name not in self.optimizers:
            raise KeyError(f"no optimizer named {name!r}; this GAN has {sorted(self.optimizers)}")
        return self.optimizers[name]

    @property
    def generator_optimizer(self):
        return self["generator"]

    @property
    def discriminator_optimizer(self):
        return self["discriminator"]

    def build_for(self, variables):
        """Build each inner optimiser for its variables: {name: list of variables}."""
        for name, optimizer in self.optimizers.items():
            optimizer.build(variables[name])
        self._owned = {name: list(values) for name, values in variables.items()}
        self.built = True

    def finalize_variable_values(self, var_list):
        """What Keras' fit() calls when it ends: each inner optimiser that keeps a moving
        average of its weights (`use_ema`, the generator's `generator_ema`) writes it over the
        variables it updates. `var_list` (all the model's trainable weights) is not theirs:
        each gets the variables it was built for."""
        for name, optimizer in self.optimizers.items():
            optimizer.finalize_variable_values(getattr(self, "_owned", {}).get(name, []))

    def build(self, variables):
        if not self.built:
            raise RuntimeError("GANOptimizer is built by the GAN's compile() through build_for()")

    @property
    def variables(self):
        return [v for optimizer in self.optimizers.values() for v in optimizer.variables]

    def split(self, values):
        """Split a flat list aligned with `variables` into {name: values of that optimiser}."""
        parts, start = {}, 0
        for name, optimizer in self.optimizers.items():
            count = len(optimizer.variables)
            parts[name] = list(values[start:start + count])
            start += count
        return parts

    def join(self, parts):
        """The inverse of `split`: one flat list aligned with `variables`."""
        return [value for name in self.optimizers for value in parts[name]]

    def get_config(self):
        return {"name": self.name}

