"""The MixLC ACGAN of seed 001: style + pixel + adversarial + auxiliary + identity losses."""

import logging

import keras
from keras import ops

from cig_k3.losses.perceptual import feature_list, style_distance, vgg16_features
from cig_k3.training.gans.pix2pix import Pix2PixGAN

log = logging.getLogger(__name__)


def auxiliary_cross_entropy(label, logits):
    """Mean per-pixel categorical cross-entropy of class logits against a one-hot label."""
    label = ops.cast(label, "float32")
    return ops.mean(keras.losses.categorical_crossentropy(label, ops.cast(logits, "float32"), from_logits=True))


@keras.saving.register_keras_serializable(package="cig_k3")
class MixLCGAN(Pix2PixGAN):
    """Pix2PixGAN for `MixLCGenerator` + `MixLCDiscriminator` on mixing batches.

    A batch is ({"label": mixed label, "raw": a's raw image}, mixed raw image). Losses:
    - g_style: squared Frobenius distance between Gram matrices of features of fake and
      target (Johnson et al. 2016, relu3_3 of VGG16 when `vgg_weights` is given);
    - g_l1: pixel L1; g_adv: adversarial on the 8x8 patch map;
    - g_aux: cross-entropy of the discriminator's per-pixel classes of the fake against the
      label (ACGAN: the generator wants its image read as the label it was given);
    - g_identity: G(raw, label) must return raw when the two agree. The data set gives no
      unmixed (raw_a, label_a) pair, so the consistent pair (target, mixed label) is used:
      pixel_weight * L1 + style_weight * style, as the note's id_loss.
    g_total = adv_weight*g_adv + l1_weight*g_l1 + style_weight*g_style + auxiliary_weight*g_aux
              + identity_weight*g_identity  (note: STYLE 0.45, ADV 0.05, PIXEL 0.5 = l1_weight).
    The discriminator weighs its terms equally: d_loss = 0.5*(d_real + d_fake) +
    0.5*(aux_real + aux_fake) (halved as pix2pix does).

    Feature network: VGG16 relu3_3 loaded from the file `vgg_weights`; without one, the
    discriminator's own trunk features (fallback). `feature_network` says which ("vgg16:PATH"
    or "discriminator"), and it is logged.

    Args:
        style_weight, adv_weight, auxiliary_weight, identity_weight: loss weights.
        vgg_weights: path of a `keras.applications.VGG16(include_top=False)` weights file.

    Reference: seed 001; Johnson et al., ECCV 2016 (eq. 3-4); Odena et al., ICML 2017 (ACGAN).
    """

    loss_names = ("d_loss", "d_real", "d_fake", "d_aux", "g_adv", "g_l1", "g_style", "g_aux", "g_identity", "g_div", "g_total")

    def __init__(self, generator, discriminator, adversarial="lsgan", l1_weight=0.5, style_weight=0.45,
                 adv_weight=0.05, auxiliary_weight=1.0, identity_weight=1.0, vgg_weights=None, **kwargs):
        super().__init__(generator, discriminator, adversarial=adversarial, l1_weight=l1_weight, **kwargs)
        self.style_weight = float(style_weight)
        self.adv_weight = float(adv_weight)
        self.auxiliary_weight = float(auxiliary_weight)
        self.identity_weight = float(identity_weight)
        self.vgg_weights = vgg_weights
        self.vgg = vgg16_features(vgg_weights, channels=generator.out_channels) if vgg_weights else None
        self.feature_network = f"vgg16:{vgg_weights}" if vgg_weights else "discriminator"
        log.info("MixLCGAN: style feature network %s", self.feature_network)

    def style_features(self, label, images, training):
        if self.vgg is not None:
            return feature_list(self.vgg(images))
        return self.discriminator([label, images], training=training)["features"]

    def style_loss(self, label, fake, target, training):
        real = [ops.stop_gradient(f) for f in self.style_features(label, target, training)]
        return style_distance(self.style_features(label, fake, training), real)

    def generator_losses(self, batch, carry=None, training=True):
        condition, target = batch
        label = condition["label"]
        fake = self.generator(condition, training=training)
        target = ops.cast(target, fake.dtype)
        out = self.discriminator([label, fake], training=training)
        g_adv = self.adversarial_loss.generator_term(self.discriminator, out["patch"])
        g_aux = auxiliary_cross_entropy(label, out["classes"])
        g_l1 = ops.mean(ops.abs(target - fake))
        g_style = self.style_loss(label, fake, target, training)
        identity = self.generator({"label": label, "raw": target}, training=training)
        g_identity = self.l1_weight * ops.mean(ops.abs(target - identity)) + self.style_weight * self.style_loss(
            label, identity, target, training
        )
        total = (self.adv_weight * g_adv + self.l1_weight * g_l1 + self.style_weight * g_style
                 + self.auxiliary_weight * g_aux + self.identity_weight * g_identity)
        g_div = self.diversity_term(condition, fake, training)
        total = total - self.diversity_weight * g_div
        losses = {"g_adv": g_adv, "g_l1": g_l1, "g_style": g_style, "g_aux": g_aux, "g_identity": g_identity,
                  "g_div": g_div, "g_total": total}
        return losses, fake

    def discriminator_losses(self, batch, carry, training=True):
        condition, target = batch
        label = condition["label"]
        on_real = self.discriminator([label, target], training=training)
        on_fake = self.discriminator([label, carry], training=training)  # carry: the generator phase's fake
        d_real = self.adversarial_loss.discriminator_term(self.discriminator, on_real["patch"], real=True)
        d_fake = self.adversarial_loss.discriminator_term(self.discriminator, on_fake["patch"], real=False)
        d_aux = 0.5 * (auxiliary_cross_entropy(label, on_real["classes"])
                       + auxiliary_cross_entropy(label, on_fake["classes"]))
        losses = {"d_real": d_real, "d_fake": d_fake, "d_aux": d_aux, "d_loss": 0.5 * (d_real + d_fake) + d_aux}
        return losses, carry

    def get_config(self):
        return {
            **super().get_config(), "style_weight": self.style_weight, "adv_weight": self.adv_weight,
            "auxiliary_weight": self.auxiliary_weight, "identity_weight": self.identity_weight,
            "vgg_weights": self.vgg_weights,
        }
