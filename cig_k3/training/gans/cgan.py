"""cGAN: DCGAN conditioned on a density class (sparse / medium / dense) of the field crop."""

import logging

import keras
import numpy as np
from keras import ops

from cig_k3.training.gans.dcgan import DCGAN

log = logging.getLogger(__name__)

CLASS_NAMES = ("sparse", "medium", "dense")


def foreground_fraction(label):
    """Fraction of non-background pixels per crop of a one-hot label batch (channel 0 = background)."""
    return 1.0 - ops.mean(ops.cast(label[..., 0], "float32"), axis=(1, 2))


def density_class(label, thresholds):
    """Class index per crop: how many thresholds its foreground fraction exceeds."""
    fraction = ops.expand_dims(foreground_fraction(label), -1)
    return ops.sum(ops.cast(fraction > ops.convert_to_tensor([thresholds], "float32"), "int32"), axis=-1)


def thresholds_from_stream(stream, batches, num_classes=3):
    """Quantile thresholds (e.g. tertiles) of the foreground fraction over training batches."""
    fractions = []
    for i, (condition, _) in enumerate(stream.epoch(0)):
        if i >= batches:
            break
        fractions.append(1.0 - np.asarray(condition)[..., 0].mean(axis=(1, 2)))
    fractions = np.concatenate(fractions)
    return [float(q) for q in np.quantile(fractions, np.arange(1, num_classes) / num_classes)]


@keras.saving.register_keras_serializable(package="cig_k3")
class ClassConditionalGAN(DCGAN):
    """A DCGAN whose generator and discriminator also take a one-hot class.

    The class is computed on the fly, in keras.ops, from the batch's one-hot label: the
    foreground fraction of the crop (1 - mean of the background channel) against
    `class_thresholds` (with two thresholds: 0 sparse, 1 medium, 2 dense). `build` takes
    them from the preset's loss.extra, or else measures the tertiles of the training crops;
    they are part of the GAN's config, so a saved model keeps its meaning. The data stream
    stays the same for every preset, and the class follows the crop actually drawn (after
    augmentation). `sample(class_id, n, seed)` draws images of a chosen class.

    Args:
        generator: noise + one-hot class -> image (`DCGANGenerator(num_classes=3)`).
        discriminator: image + one-hot class -> logit (`DCGANDiscriminator(num_classes=3)`).
        class_thresholds: increasing foreground fractions separating the classes.
        adversarial: "bce" or "lsgan".
        seed: seed of the noise SeedGenerator.

    Example:
        >>> gan = ClassConditionalGAN(generator, discriminator, class_thresholds=[0.1, 0.2])
        >>> dense_crops = gan.sample(2, 8, seed=0)

    Reference: Mirza & Osindero, "Conditional Generative Adversarial Nets", 2014.
    """

    def __init__(self, generator, discriminator, class_thresholds=(0.1, 0.2), adversarial="bce", seed=0,
                 **kwargs):
        super().__init__(generator, discriminator, adversarial=adversarial, seed=seed, **kwargs)
        self.class_thresholds = [float(t) for t in class_thresholds]
        self.num_classes = len(self.class_thresholds) + 1
        if generator.num_classes != self.num_classes or discriminator.num_classes != self.num_classes:
            raise ValueError(
                f"{len(self.class_thresholds)} class thresholds make {self.num_classes} classes, but the generator "
                f"takes {generator.num_classes} and the discriminator {discriminator.num_classes}"
            )

    @classmethod
    def build(cls, networks, l1_weight=0.0, class_thresholds=None, **settings):
        """Without `class_thresholds`, the tertiles of 32 batches of `networks.training_crops()`."""
        if class_thresholds is None:
            class_thresholds = thresholds_from_stream(networks.training_crops(), batches=32)
            log.info("cgan class thresholds (foreground fraction tertiles of the training crops): %s",
                     class_thresholds)
        generator, discriminator = cls.build_networks(networks, num_classes=len(class_thresholds) + 1)
        return cls(generator, discriminator, class_thresholds=class_thresholds, seed=networks.seed, **settings)

    def class_of(self, condition):
        if isinstance(condition, dict):
            raise ValueError("the cgan preset needs a one-hot label condition (no mixing)")
        return ops.one_hot(density_class(condition, self.class_thresholds), self.num_classes)

    def sample(self, class_id, count, seed=0):
        """`count` images of class `class_id` (0 sparse ... dense) from noise with an integer seed."""
        if not 0 <= int(class_id) < self.num_classes:
            raise ValueError(f"class_id must be in 0..{self.num_classes - 1}, got {class_id}")
        label = ops.one_hot(ops.full((count,), int(class_id), dtype="int32"), self.num_classes)
        return self.generate(self.noise(count, seed=seed), label, training=False)

    def grid_columns(self, condition, target, num_samples):
        """One column per class, drawn from seed 0."""
        count = target.shape[0]
        names = CLASS_NAMES if self.num_classes == 3 else [f"class {k}" for k in range(self.num_classes)]
        return [(names[k], ops.convert_to_numpy(self.sample(k, count, seed=0))) for k in range(self.num_classes)]

    def get_config(self):
        return {**super().get_config(), "class_thresholds": self.class_thresholds}

