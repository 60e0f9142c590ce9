"""Multi-scale adversarial loss with feature matching: pix2pixHD (LSGAN) and SPADE (hinge)."""

import logging

import keras
from keras import ops

from cig_k3.losses.kl import gaussian_kl
from cig_k3.losses.perceptual import feature_list, feature_matching, vgg16_features
from cig_k3.losses.reconstruction import interior_spectrum_l1, low_pass_l1, rim_l1, spectrum_l1
from cig_k3.models.instance_encoder import takes_instances
from cig_k3.models.style_encoder import has_style_encoder
from cig_k3.training.gans.pix2pix import Pix2PixGAN

log = logging.getLogger(__name__)


def _whole_pixels(name, value):
    """`value` of loss.extra `name` as a whole number of pixels >= 1, or a one-line error."""
    if int(value) != value or value < 1:
        raise ValueError(f"loss.extra {name} must be a whole number of pixels >= 1; got {value}")
    return int(value)


def _weight(name, value):
    """`value` of loss.extra `name` as a weight >= 0, or a one-line error."""
    if float(value) < 0:
        raise ValueError(f"loss.extra {name} must be >= 0; got {value}")
    return float(value)


@keras.saving.register_keras_serializable(package="cig_k3")
class FeatureMatchingGAN(Pix2PixGAN):
    """Pix2PixGAN for a `MultiScaleDiscriminator` (a list over scales of [features...,
    logits]).

    g_total = g_adv + feature_matching_weight * g_fm + vgg_weight * g_vgg + l1_weight * g_l1
              + spectrum_weight * g_spec + cell_spectrum_weight * g_cspec
              + background_spectrum_weight * g_bspec - diversity_weight * g_div
              [+ kl_weight * g_kl]
    - g_adv: the mean over scales of the adversarial term on each scale's logits;
    - g_fm: the mean over scales and layers of mean |D(real) - D(fake)| features (real ones
      without gradient), lambda = 10 as in pix2pixHD; with fm_scale > 1, each map averaged
      over blocks of fm_scale image pixels first (`feature_matching`): the same reason as
      l1_scale, for the discriminator's texture filters;
    - g_vgg: optional perceptual loss, mean L1 between VGG16 features of fake and target,
      from a weights file (`vgg_weights`); 0 without one;
    - g_l1: logged always, added with l1_weight (0 in the pix2pixhd and spade presets);
      with l1_scale > 1, the L1 of the two images averaged over l1_scale-pixel blocks
      (`low_pass_l1`): brightness and layout, not the texture a mask cannot predict;
      with rim_l1_scale > 0, plus the L1 on rim_l1_scale-pixel blocks over the blocks that
      touch an object's rim, from its outermost pixel to rim_width pixels beyond (`rim_l1`;
      objects as for g_cspec): coarse blocks inside the objects, fine ones at their edges;
    - g_spec: logged always, added with spectrum_weight: the L1 between the log 2-D power
      spectra of the fake and the real batch (`spectrum_l1`), blind to where texture lies,
      not to how much power it has at each frequency: no checkerboard peaks, no grain
      painted flat;
    - g_cspec: logged always, added with cell_spectrum_weight: the same over the texture
      inside the objects alone (`interior_spectrum_l1`: the detail finer than 7 px, within
      the foreground eroded by 3 px), the foreground being the instance map's objects for a
      generator that takes one, else the label's non-background classes. Over whole crops
      the background's grain holds g_spec, and the nuclei's own texture can fall short;
    - g_bspec: logged always, added with background_spectrum_weight: the same over the
      background, 3 px or more from any object. There the real texture is camera noise and
      specks, stationary grain that a power spectrum describes whole, so matching it asks
      for the right grain rather than only the right amount (inside the nuclei, where
      chromatin has shapes the spectrum cannot see, g_cspec drew pixel speckle);
    - g_div: the mode-seeking term of `Pix2PixGAN` (0 unless diversity_weight > 0);
    - g_kl: only for a generator with a style encoder (`StyleUNetGenerator`, a cVAE-GAN as
      SPADE's and BicycleGAN's): the generator draws the label in the style of the batch's
      own target, {"label": condition, "raw": target}, with z = mu + sigma * eps from the
      encoder, and g_kl = KL(N(mu, sigma^2) || N(0, I)) (`gaussian_kl`) keeps the codes near
      the prior, so that a draw from N(0, I) is a plausible style. L1, feature matching and
      the adversarial term then train encoder and generator together. Validation and the
      sample grid draw in the target's own style too (a reconstruction).
    A generator that takes an instance map (`InstanceUNetGenerator`, pix2pixHD's feature
    encoder) gets batches whose condition is {"label", "instances"} and draws
    {"label", "instances", "raw": target}: its encoder reads each nucleus's features from the
    target, trained end to end by the same losses; the discriminator sees the label alone.
    The discriminator's loss is 0.5 * (real + fake), each the mean over scales of its
    compiled loss ("mse" for LSGAN, "hinge" for SPADE) on that scale's logits.

    Args:
        feature_matching_weight: lambda of g_fm (pix2pixHD and SPADE: 10).
        vgg_weight: weight of g_vgg (pix2pixHD and SPADE: 10 when used).
        vgg_weights: path of a VGG16 `include_top=False` weights file, or None.
        kl_weight: weight of g_kl (SPADE: 0.05); used only with a style encoder.
        l1_scale: block size of g_l1 (1: per pixel).
        rim_l1_scale: block size of g_l1 over the objects' rims (0: the rims as the rest).
        rim_width: how far beyond an object's edge its rim reaches, in pixels.
        spectrum_weight: weight of g_spec (0: logged only).
        cell_spectrum_weight: weight of g_cspec (0: logged only).
        background_spectrum_weight: weight of g_bspec (0: logged only).
        fm_scale: block size, in image pixels, of g_fm (1: cell by cell, pix2pixHD). On
            BBBC039, 8 drew striped nuclei and scored worse (FID 33 against 25;
            benchmarks/RESULTS.md), so no preset sets it.

    Reference: Wang et al., pix2pixHD, CVPR 2018, eq. 4-5; Park et al., SPADE, CVPR 2019,
    sec. 3, 4 and appendix A (hinge loss, TTUR, KL weight 0.05); Zhu et al., BicycleGAN,
    NeurIPS 2017, sec. 3.2 (cVAE-GAN).
    """

    loss_names = ("d_loss", "d_real", "d_fake", "g_adv", "g_fm", "g_vgg", "g_l1", "g_spec", "g_cspec", "g_bspec",
                  "g_div", "g_total")

    def __init__(self, generator, discriminator, adversarial="lsgan", l1_weight=0.0, feature_matching_weight=10.0,
                 vgg_weight=10.0, vgg_weights=None, kl_weight=0.05, l1_scale=1, spectrum_weight=0.0,
                 fm_scale=1, cell_spectrum_weight=0.0, background_spectrum_weight=0.0, rim_l1_scale=0,
                 rim_width=3, **kwargs):
        super().__init__(generator, discriminator, adversarial=adversarial, l1_weight=l1_weight, **kwargs)
        self.l1_scale = _whole_pixels("l1_scale", l1_scale)
        self.fm_scale = _whole_pixels("fm_scale", fm_scale)
        self.rim_l1_scale = _whole_pixels("rim_l1_scale", rim_l1_scale) if rim_l1_scale else 0
        self.rim_width = _whole_pixels("rim_width", rim_width)
        self.spectrum_weight = _weight("spectrum_weight", spectrum_weight)
        self.cell_spectrum_weight = _weight("cell_spectrum_weight", cell_spectrum_weight)
        self.background_spectrum_weight = _weight("background_spectrum_weight", background_spectrum_weight)
        self.kl_weight = _weight("kl_weight", kl_weight)
        self.styled = has_style_encoder(generator)
        self.instanced = takes_instances(generator)
        if self.styled:
            # g_kl exists only for a style encoder; its tracker goes before g_total.
            self.loss_names = (*type(self).loss_names[:-1], "g_kl", "g_total")
            self.trackers = {name: self.trackers.get(name) or keras.metrics.Mean(name=name)
                             for name in self.loss_names}
        self.feature_matching_weight = float(feature_matching_weight)
        self.vgg_weight = float(vgg_weight)
        self.vgg_weights = vgg_weights
        self.vgg = None
        if vgg_weights:
            self.vgg = vgg16_features(vgg_weights, channels=generator.output.shape[-1],
                                      layers=("block1_conv2", "block2_conv2", "block3_conv3"))
        self.feature_network = f"vgg16:{vgg_weights}" if vgg_weights else "none"
        log.info("%s: perceptual feature network %s", type(self).__name__, self.feature_network)

    def adversarial_terms(self, outputs):
        return [self.adversarial_loss.generator_term(self.discriminator, scale[-1]) for scale in outputs]

    def generator_input(self, condition, target):
        """What the generator takes: the condition, or {"label", "raw"} with the target as
        the style for a generator with a style encoder, or {"label", "instances", "raw"} with
        the target to encode per instance for a generator that takes an instance map."""
        if self.instanced:
            return {"label": condition["label"], "instances": condition["instances"], "raw": target}
        return {"label": condition, "raw": target} if self.styled else condition

    def discriminator_condition(self, condition):
        """The label the discriminator is conditioned on (never the instance map)."""
        return condition["label"] if self.instanced else condition

    def foreground(self, condition):
        """Where the objects are, (batch, height, width, 1) of 0 and 1: the instance map's
        objects, or the label's classes but the first (background) when one-hot, its nonzero
        values when it has one channel."""
        if self.instanced:
            return ops.cast(condition["instances"] > 0, "float32")
        label = condition["label"] if isinstance(condition, dict) else condition
        label = ops.cast(label, "float32")
        if label.shape[-1] == 1:
            return ops.cast(label > 0, "float32")
        return 1.0 - label[..., :1]

    def generator_losses(self, batch, carry=None, training=True):
        condition, target = batch
        inputs = self.generator_input(condition, target)
        fake = self.generator(inputs, training=training)
        target = ops.cast(target, fake.dtype)
        label = self.discriminator_condition(condition)
        fake_outputs = self.discriminator([label, fake], training=training)
        real_outputs = self.discriminator([label, target], training=training)
        g_adv = ops.mean(ops.stack(self.adversarial_terms(fake_outputs)))
        g_fm = feature_matching(real_outputs, fake_outputs, self.fm_scale, fake.shape[1])
        g_vgg = ops.zeros((), "float32")
        if self.vgg is not None:
            fake_features, real_features = feature_list(self.vgg(fake)), feature_list(self.vgg(target))
            g_vgg = ops.mean(ops.stack([
                ops.mean(ops.abs(ops.stop_gradient(r) - f)) for r, f in zip(real_features, fake_features)
            ]))
        foreground = self.foreground(condition)
        g_l1 = low_pass_l1(target, fake, self.l1_scale)
        if self.rim_l1_scale:
            g_l1 = g_l1 + rim_l1(target, fake, foreground, self.rim_l1_scale, self.rim_width)
        g_spec = spectrum_l1(target, fake)
        g_cspec = interior_spectrum_l1(target, fake, foreground)
        g_bspec = interior_spectrum_l1(target, fake, 1.0 - foreground)
        g_div = self.diversity_term(inputs, fake, training)
        total = (g_adv + self.feature_matching_weight * g_fm + self.vgg_weight * g_vgg + self.l1_weight * g_l1
                 + self.spectrum_weight * g_spec - self.diversity_weight * g_div)
        if self.cell_spectrum_weight:
            total = total + self.cell_spectrum_weight * g_cspec
        if self.background_spectrum_weight:
            total = total + self.background_spectrum_weight * g_bspec
        losses = {"g_adv": g_adv, "g_fm": g_fm, "g_vgg": g_vgg, "g_l1": g_l1, "g_spec": g_spec, "g_cspec": g_cspec,
                  "g_bspec": g_bspec, "g_div": g_div}
        if self.styled:
            # The encoder runs again on the same target: the same (mu, logvar) the generator's
            # code was drawn from (no dropout or batch statistics in the encoder).
            losses["g_kl"] = gaussian_kl(*self.generator.encode(target, training=training))
            total = total + self.kl_weight * losses["g_kl"]
        return {**losses, "g_total": total}, fake

    def discriminator_losses(self, batch, carry, training=True):
        condition, target = batch
        fake = carry  # the generator phase's fake, detached
        label = self.discriminator_condition(condition)
        real_outputs = self.discriminator([label, target], training=training)
        fake_outputs = self.discriminator([label, fake], training=training)
        term = self.adversarial_loss.discriminator_term
        d_real = ops.mean(ops.stack([term(self.discriminator, scale[-1], real=True) for scale in real_outputs]))
        d_fake = ops.mean(ops.stack([term(self.discriminator, scale[-1], real=False) for scale in fake_outputs]))
        return {"d_real": d_real, "d_fake": d_fake, "d_loss": 0.5 * (d_real + d_fake)}, fake

    def validation_metrics(self, condition, target):
        return super().validation_metrics(self.generator_input(condition, target), target)

    def grid_columns(self, condition, target, num_samples):
        return super().grid_columns(self.generator_input(condition, target), target, num_samples)

    def get_config(self):
        return {
            **super().get_config(), "feature_matching_weight": self.feature_matching_weight,
            "vgg_weight": self.vgg_weight, "vgg_weights": self.vgg_weights, "kl_weight": self.kl_weight,
            "l1_scale": self.l1_scale, "spectrum_weight": self.spectrum_weight, "fm_scale": self.fm_scale,
            "cell_spectrum_weight": self.cell_spectrum_weight,
            "background_spectrum_weight": self.background_spectrum_weight,
            "rim_l1_scale": self.rim_l1_scale, "rim_width": self.rim_width,
        }


