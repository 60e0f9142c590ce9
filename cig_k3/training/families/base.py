"""What the GAN families of issue 9 share: trackers, two named optimisers, the step hooks,
adversarial terms in keras.ops, and a noise SeedGenerator owned by the model."""

import keras
from keras import ops

from cig_k3.training.gan import _backend_step_module
from cig_k3.training.optimizer import GANOptimizer

FAMILY_ADVERSARIAL = ("bce", "lsgan")


def adversarial_term(kind, logits, real):
    """Mean loss of logits against the label "real" (True) or "fake" (False).

    "bce" is binary cross-entropy on sigmoid(logits), written from logits for stability:
    -log sigmoid(l) = softplus(-l) and -log(1 - sigmoid(l)) = softplus(l). "lsgan" is the
    squared distance to 1 or 0.
    """
    logits = ops.cast(logits, "float32")
    if kind == "bce":
        return ops.mean(ops.softplus(-logits if real else logits))
    if kind == "lsgan":
        return ops.mean(ops.square(logits - 1.0) if real else ops.square(logits))
    raise ValueError(f"unknown adversarial loss {kind!r} for this GAN; choose one of {FAMILY_ADVERSARIAL}")


class GANFamily(keras.Model):
    """Base of the families: subclasses define `phases()`, `loss_names`, `validation_names`,
    `validation_metrics`, `grid_columns`, and which sub-models each optimiser updates
    (`optimizer_owners`, names of attributes).

    Args:
        seed: seed of the model's noise SeedGenerator (its state is a non-trainable
            variable: checkpointed, and threaded through the JAX step).
    """

    loss_names = ()
    validation_names = ()
    optimizer_owners = {"generator": ("generator",), "discriminator": ("discriminator",)}

    def __init__(self, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.noise_seed = keras.random.SeedGenerator(seed)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.loss_names}
        self.validation_trackers = {name: keras.metrics.Mean(name=name) for name in self.validation_names}
        self._step = _backend_step_module()

    def owners(self, optimizer):
        return tuple(getattr(self, name) for name in self.optimizer_owners[optimizer])

    def compile(self, generator_optimizer, discriminator_optimizer, **kwargs):
        optimizer = GANOptimizer({"generator": generator_optimizer, "discriminator": discriminator_optimizer})
        optimizer.build_for({
            name: [v for owner in self.owners(name) for v in owner.trainable_variables]
            for name in self.optimizer_owners
        })
        super().compile(optimizer=optimizer, **kwargs)

    @property
    def generator_optimizer(self):
        return self.optimizer["generator"]

    @property
    def discriminator_optimizer(self):
        return self.optimizer["discriminator"]

    @property
    def metrics(self):
        return [*self.trackers.values(), *self.validation_trackers.values()]

    def train_step(self, *args):
        return self._step.train_step(self, *args)

    def test_step(self, *args):
        return self._step.test_step(self, *args)

    def update_trackers(self, values, trackers=None):
        trackers = self.trackers if trackers is None else trackers
        for name, tracker in trackers.items():
            tracker.update_state(values[name])
        return {name: tracker.result() for name, tracker in trackers.items()}

    def display_outputs(self, condition):
        return []

    def grid_columns(self, condition, target):
        """Named (N, H, W, C) columns for sample grids, drawn with fixed seeds."""
        raise NotImplementedError


def intensity_gap(real, fake):
    """|mean difference| + |std difference| of pixel values: a crude distribution check."""
    real = ops.cast(real, "float32")
    fake = ops.cast(fake, "float32")
    return ops.abs(ops.mean(real) - ops.mean(fake)) + ops.abs(ops.std(real) - ops.std(fake))
