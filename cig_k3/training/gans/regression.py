"""RegressionBaseline: a generator trained with L1 alone, no discriminator; the baseline that
virtual-staining benchmarks put beside every generative model."""

import keras
from keras import ops

from cig_k3.training.gan import GAN, Phase
from cig_k3.training.gans.pix2pix import fidelity_metrics


@keras.saving.register_keras_serializable(package="cig_k3")
class RegressionBaseline(GAN):
    """A generator fitted to its targets by L1 regression, trained with `fit` on any backend.

    One phase per step: fake = G(condition); g_l1 = mean |fake - target|;
    g_total = l1_weight * g_l1; update G. There is no discriminator, no discriminator
    optimiser and no adversarial term: the GAN contract holds (one `Phase`, named losses,
    validation metrics, saving) with `discriminator_names` and the "discriminator" optimiser
    left out. What such a model predicts is the conditional median of the target, so
    its images are sharp where the input decides the output and smooth where it does not;
    a generative preset is worth its discriminator only if it beats this one on realism
    without losing correlation with the target.

    Args:
        generator: maps a condition batch to an image batch in [-1, 1].
        adversarial: recorded in the config for symmetry with the other GANs (every run
            config carries `loss.adversarial`); nothing adversarial is trained.
        l1_weight: the scale of g_total (> 0). With Adam only the direction matters, so
            any positive value trains the same model up to epsilon.

    Example:
        >>> model = RegressionBaseline(Pix2PixHDGenerator(13, 3, base_filters=8))
        >>> model.compile(keras.optimizers.Adam(2e-4, 0.5))
        >>> model.fit(batches, steps_per_epoch=10)

    Reference: Ounkomol et al., "Label-free prediction of three-dimensional fluorescence
    images from transmitted-light microscopy", Nature Methods 2018 (regression with a
    U-Net); the Cytoland virtual-staining models and the DynaCell benchmark (CZ Biohub),
    which report a regression model beside each generative one.
    """

    loss_names = ("g_l1", "g_total")
    validation_names = ("l1", "psnr", "ssim")
    network_names = ("generator",)
    discriminator_names = ()
    optimizer_owners = {"generator": ("generator",)}

    def __init__(self, generator, adversarial="lsgan", l1_weight=1.0, **kwargs):
        super().__init__(adversarial=adversarial, **kwargs)
        if float(l1_weight) <= 0:
            raise ValueError(f"loss.l1_weight of the regression gan must be > 0 (L1 is its only loss); "
                             f"got {l1_weight}")
        self.generator = generator
        self.l1_weight = float(l1_weight)
        self.built = True  # the generator is a functional model, built at construction

    @classmethod
    def build(cls, networks, **settings):
        """The preset's generator for the data's channels; `networks.discriminator` is unused."""
        generator = networks.make_generator(in_channels=networks.condition_channels,
                                            out_channels=networks.target_channels, seed=networks.seed)
        return cls(generator, **settings)

    def call(self, condition, training=False):
        return self.generator(condition, training=training)

    def phases(self):
        return [Phase("generator", self.owners("generator"), "generator", "g_total", self.generator_losses)]

    def generator_losses(self, batch, carry=None, training=True):
        """({"g_l1", "g_total"}, fake)."""
        condition, target = batch
        fake = self.generator(condition, training=training)
        g_l1 = ops.mean(ops.abs(ops.cast(target, fake.dtype) - fake))
        return {"g_l1": g_l1, "g_total": self.l1_weight * g_l1}, fake

    def validation_metrics(self, condition, target):
        return fidelity_metrics(self.generator, condition, target)

    def grid_columns(self, condition, target, num_samples):
        """The one prediction: a regression draws no samples."""
        return [("prediction", ops.convert_to_numpy(self.generator(condition, training=False)))]

    def get_config(self):
        return {**super().get_config(), "l1_weight": self.l1_weight}
