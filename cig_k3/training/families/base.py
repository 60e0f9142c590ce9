"""What the GAN families of issue 9 share: trackers, two named optimisers, the step hooks,
adversarial terms in keras.ops, and a noise SeedGenerator owned by the model."""

import keras
from keras import ops

from cig_k3.training.gan import PhasedGAN

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


class GANFamily(PhasedGAN):
    """Base of the families: subclasses define `phases()`, `loss_names`, `validation_names`,
    `validation_metrics`, `grid_columns`, and which sub-models each optimiser updates
    (`optimizer_owners`, names of attributes).

    Args:
        seed: seed of the model's noise SeedGenerator (its state is a non-trainable
            variable: checkpointed, and threaded through the JAX step).
    """

    def __init__(self, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.noise_seed = keras.random.SeedGenerator(seed)

    def grid_columns(self, condition, target):
        """Named (N, H, W, C) columns for sample grids, drawn with fixed seeds."""
        raise NotImplementedError


def intensity_gap(real, fake):
    """|mean difference| + |std difference| of pixel values: a crude distribution check."""
    real = ops.cast(real, "float32")
    fake = ops.cast(fake, "float32")
    return ops.abs(ops.mean(real) - ops.mean(fake)) + ops.abs(ops.std(real) - ops.std(fake))
