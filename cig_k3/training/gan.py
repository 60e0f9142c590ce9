"""The one contract of every CIG GAN: a `keras.Model` whose losses are written once, in keras.ops.

A GAN class (`cig_k3.training.gans`) is built from plain keyword arguments, its networks and
its loss settings (never a run config), and declares:

- `phases()`: the gradient updates of one step, in order. A `Phase` names the sub-models it
  updates, the optimiser that updates them, the loss to minimise and the function
  `loss(batch, carry) -> (losses, carry)`; the carry (e.g. the fake images) is passed on,
  detached, to the next phase. Most GANs have two: `generator_losses` then
  `discriminator_losses`, both with the signature `(batch, carry=None, training=True)`,
  batch being the (condition, target) pair.
- `loss_names` / `validation_names`: the named dicts the losses and `validation_metrics`
  return; the trainer logs them by name, so a new loss term is one entry in a GAN's dict and
  its `loss_names`.
- `grid_columns(condition, target, num_samples)`: the sample grid's columns after the
  condition and the target.
- `build(networks, **loss settings)`: the networks a preset names, built for the data's
  channels and crop (`Networks`), then the GAN.

The discriminators (`discriminator_names`) are compiled with the adversarial loss
(`cig_k3.losses.adversarial`); every discriminator loss goes through their `compute_loss`,
on every backend. No step ever toggles `trainable`: a phase updates the variables of its own
sub-models only. The gradient mechanics live in `_tensorflow.py`, `_jax.py` and `_torch.py`,
reached through `cig_k3.training.backend`, the way Keras keeps its own trainers apart.
"""

import dataclasses
from typing import Callable

import keras

from cig_k3.losses import adversarial as adversarial_module
from cig_k3.models import build_discriminator, build_generator
from cig_k3.training import backend
from cig_k3.training.optimizer import GANOptimizer


@dataclasses.dataclass(frozen=True)
class Phase:
    """One gradient update of a GAN step, as the per-backend step files run it.

    Args:
        name: for messages ("generator", "critic", ...).
        owners: the sub-models whose trainable variables this phase updates.
        optimizer: the key of the optimiser in the model's GANOptimizer.
        loss_name: the entry of the losses dict that is minimised.
        loss: `loss(batch, carry) -> (losses, carry)`; batch is (condition, target) and carry
            whatever the previous phase returned (None for the first), detached.
        repeat: updates in a row (WGAN-GP's n_critic); each gets the carry of the last.
    """

    name: str
    owners: tuple
    optimizer: str
    loss_name: str
    loss: Callable
    repeat: int = 1

    @property
    def variables(self):
        return [v for owner in self.owners for v in owner.trainable_variables]


@dataclasses.dataclass(frozen=True)
class Networks:
    """What a preset says about the networks, with what the data says: plain values that a
    GAN class's `build` turns into its networks.

    Args:
        generator, discriminator: names in `cig_k3.models`' registries.
        generator_args, discriminator_args: their constructor arguments from the preset;
            they win over what `build` derives (channels, sizes) when both give one.
        condition_channels, target_channels: channel counts of the data's condition and target.
        image_size: the training crop's side.
        seed: the run's seed (weights of seeded networks, the GAN's noise).
        training_crops: `() -> BatchStream` of training crops, for settings a GAN learns
            from the data when the preset leaves them out (cgan's class thresholds).

    Example:
        >>> networks = Networks("unet", {"depth": 5}, "patchgan", {}, condition_channels=3, target_channels=1)
        >>> gan = Pix2PixGAN.build(networks, adversarial="lsgan", l1_weight=100.0)
    """

    generator: str = "unet"
    generator_args: dict = dataclasses.field(default_factory=dict)
    discriminator: str = "patchgan"
    discriminator_args: dict = dataclasses.field(default_factory=dict)
    condition_channels: int = 3
    target_channels: int = 1
    image_size: int = 128
    seed: int = 0
    training_crops: Callable = None

    def make_generator(self, **arguments):
        return build_generator(self.generator, **{**arguments, **self.generator_args})

    def make_discriminator(self, **arguments):
        return build_discriminator(self.discriminator, **{**arguments, **self.discriminator_args})


class GAN(keras.Model):
    """What every CIG GAN shares: the adversarial loss, loss and validation trackers, named
    optimisers in one GANOptimizer, the per-backend step that runs `phases()`, and saving.

    Subclasses set `loss_names`, `validation_names`, `adversarial_losses` (the modes they
    train with), `network_names` (the sub-models saved by `get_config`),
    `discriminator_names` (those compiled with the adversarial loss) and, when the optimisers
    are not "generator" and "discriminator" updating those two, `optimizer_owners`
    (optimiser name -> attribute names). They define `phases()`, the loss methods,
    `validation_metrics`, `grid_columns`, `build` and `get_config` (chaining to this one).

    Args:
        adversarial: the adversarial mode, one of the class's `adversarial_losses`.
    """

    loss_names = ()
    validation_names = ()
    adversarial_losses = ("lsgan", "bce", "hinge")
    network_names = ("generator", "discriminator")
    discriminator_names = ("discriminator",)
    optimizer_owners = {"generator": ("generator",), "discriminator": ("discriminator",)}

    def __init__(self, adversarial="lsgan", **kwargs):
        super().__init__(**kwargs)
        mode = adversarial_module.canonical(adversarial)
        if mode not in self.adversarial_losses:
            raise ValueError(f"{type(self).__name__} trains with an adversarial loss in {self.adversarial_losses}; "
                             f"got adversarial={adversarial!r}")
        self.adversarial = mode
        self.adversarial_loss = adversarial_module.AdversarialLoss(mode)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.loss_names}
        self.validation_trackers = {name: keras.metrics.Mean(name=name) for name in self.validation_names}
        self._step = backend.step_module()

    @classmethod
    def build(cls, networks, **settings):
        """The GAN for a preset: `networks` (a `Networks`) built as this GAN needs them, and
        `settings` (adversarial, l1_weight, the preset's loss.extra) for its constructor."""
        raise NotImplementedError(f"{cls.__name__} does not say how to build its networks (GAN.build)")

    # -- Keras plumbing -------------------------------------------------------------------
    def owners(self, optimizer):
        return tuple(getattr(self, name) for name in self.optimizer_owners[optimizer])

    def compile(self, generator_optimizer, discriminator_optimizer=None, **kwargs):
        """Compile each discriminator with the adversarial loss, and the GAN with the
        optimisers its `optimizer_owners` name in one container, each built on the variables
        it updates (a GAN without a discriminator, `regression`, keeps no discriminator
        optimiser: the one given is not used)."""
        for name in self.discriminator_names:
            self.adversarial_loss.compile(getattr(self, name))
        given = {"generator": generator_optimizer, "discriminator": discriminator_optimizer}
        missing = [name for name in self.optimizer_owners if given.get(name) is None]
        if missing:
            raise ValueError(f"{type(self).__name__}.compile needs the {' and '.join(missing)} optimizer(s)")
        # In the given order (generator first), as checkpoints have always stored them.
        optimizer = GANOptimizer({name: value for name, value in given.items() if name in self.optimizer_owners})
        optimizer.build_for({
            name: [v for owner in self.owners(name) for v in owner.trainable_variables]
            for name in self.optimizer_owners
        })
        # Under mixed_float16 each optimiser in the container is a LossScaleOptimizer of its
        # own (make_optimizers) and scales its own phase's loss; Keras must not wrap the
        # container itself, which the steps index by owner.
        kwargs.setdefault("auto_scale_loss", False)
        super().compile(optimizer=optimizer, **kwargs)

    @property
    def generator_optimizer(self):
        return self.optimizer["generator"]

    @property
    def discriminator_optimizer(self):
        """The discriminator's optimiser; None for a GAN that has none (`regression`)."""
        return self.optimizer.optimizers.get("discriminator")

    @property
    def metrics(self):
        return [*self.trackers.values(), *self.validation_trackers.values()]

    def train_step(self, *args):
        return backend.train_step(self._step, self, *args)

    def test_step(self, *args):
        return backend.test_step(self._step, self, *args)

    def update_trackers(self, values, trackers=None):
        trackers = self.trackers if trackers is None else trackers
        for name, tracker in trackers.items():
            tracker.update_state(values[name])
        return {name: tracker.result() for name, tracker in trackers.items()}

    # -- The contract -------------------------------------------------------------------------
    def phases(self):
        """The `Phase`s of one training step, in order."""
        raise NotImplementedError

    def generator_losses(self, batch, carry=None, training=True):
        """({name: loss}, carry) of the generator's phase for a (condition, target) batch."""
        raise NotImplementedError

    def discriminator_losses(self, batch, carry, training=True):
        """({name: loss}, carry) of the discriminator's phase, given the generator's carry."""
        raise NotImplementedError

    def validation_metrics(self, condition, target):
        """{name: value} for `validation_names`, on a validation batch."""
        raise NotImplementedError

    def grid_columns(self, condition, target, num_samples):
        """Named (N, H, W, C) NumPy columns of the sample grid, after the condition and the
        target; drawing them must leave the training state as it was."""
        return []

    # -- Saving -----------------------------------------------------------------------------
    def get_config(self):
        networks = {name: keras.saving.serialize_keras_object(getattr(self, name)) for name in self.network_names}
        return {"name": self.name, **networks, "adversarial": self.adversarial}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for name in cls.network_names:
            config[name] = keras.saving.deserialize_keras_object(config[name], custom_objects=custom_objects)
        return cls(**config)
