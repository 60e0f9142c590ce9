"""The attention-guided GAN of seed 002: adversarial + L1 + identity losses."""

import keras
from keras import ops

from cig_k3.training.gans.pix2pix import Pix2PixGAN


@keras.saving.register_keras_serializable(package="cig_k3")
class AttentionGAN(Pix2PixGAN):
    """Pix2PixGAN for `AttentionGenerator` with a per-pixel (U-Net) discriminator.

    g_total = g_adv + l1_weight * L1(fake, target) + identity_weight * g_identity, with
    g_identity = mean |G.identity(target) - target|: the generator fed a target-domain image
    must return it unchanged (see `AttentionGenerator` for what feeding an image means when
    condition and image live in different domains). Sample grids show the attention mask
    and the raw prediction next to the fused image.

    Args:
        identity_weight: weight of the identity term (CycleGAN-style 0.5 x cycle weight = 5).
        Others as `Pix2PixGAN`.

    Reference: Mejjati et al., NeurIPS 2018; Zhu et al., CycleGAN, ICCV 2017, sec. 5.2
    (identity loss); seed 002.
    """

    loss_names = ("d_loss", "d_real", "d_fake", "g_adv", "g_l1", "g_identity", "g_div", "g_total")

    def __init__(self, generator, discriminator, adversarial="lsgan", l1_weight=100.0, identity_weight=5.0, **kwargs):
        super().__init__(generator, discriminator, adversarial=adversarial, l1_weight=l1_weight, **kwargs)
        self.identity_weight = float(identity_weight)

    def generator_losses(self, batch, carry=None, training=True):
        condition, target = batch
        fake = self.generator(condition, training=training)
        target = ops.cast(target, fake.dtype)
        fake_logits = self.discriminator([condition, fake], training=training)
        g_adv = self.adversarial_loss.generator_term(self.discriminator, fake_logits)
        g_l1 = ops.mean(ops.abs(target - fake))
        identity = self.generator.identity(target, training=training)["image"]
        g_identity = ops.mean(ops.abs(target - ops.cast(identity, fake.dtype)))
        g_div = self.diversity_term(condition, fake, training)
        total = g_adv + self.l1_weight * g_l1 + self.identity_weight * g_identity - self.diversity_weight * g_div
        return {"g_adv": g_adv, "g_l1": g_l1, "g_identity": g_identity, "g_div": g_div, "g_total": total}, fake

    def grid_columns(self, condition, target, num_samples):
        """The attention mask and the raw prediction, then the dropout samples."""
        views = self.generator.views(condition, training=False)
        # Grids show images in [-1, 1]; the mask lives in [0, 1].
        return [("attention", ops.convert_to_numpy(views["attention"] * 2.0 - 1.0)),
                ("prediction", ops.convert_to_numpy(views["prediction"])),
                *super().grid_columns(condition, target, num_samples)]

    def get_config(self):
        return {**super().get_config(), "identity_weight": self.identity_weight}
