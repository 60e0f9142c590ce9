"""FeatureMatchingGAN (pix2pixHD): multi-scale LSGAN + feature matching by hand; tiny fit."""

import keras
import numpy as np
import pytest

from cig_k3.training.gans import FeatureMatchingGAN
from tests.cig_k3.training.systems_tiny import fit_and_check
from tests.cig_k3.training.test_losses import CONDITION, FAKE, TARGET, ConstantGenerator, numbers


def two_scale_discriminator(adversarial):
    """Scale 0: [image, image]; scale 1: [2x2 mean of image, same] (features, logits)."""
    condition, image = keras.Input((None, None, 1)), keras.Input((None, None, 1))
    pooled = keras.layers.AveragePooling2D(2)(image)
    model = keras.Model([condition, image], [[keras.layers.Identity()(image), keras.layers.Identity()(image)],
                                             [keras.layers.Identity()(pooled), keras.layers.Identity()(pooled)]])
    model.compile(loss={"lsgan": "mse", "hinge": "hinge"}[adversarial])
    return model


def by_hand(adversarial, fake):
    scales_fake, scales_real = [fake, fake.mean(keepdims=True)], [TARGET, TARGET.mean(keepdims=True)]
    fm = np.mean([np.mean(np.abs(r - f)) for r, f in zip(scales_real, scales_fake)])
    if adversarial == "lsgan":
        adv = np.mean([np.mean((f - 1) ** 2) for f in scales_fake])
        d_real = np.mean([np.mean((r - 1) ** 2) for r in scales_real])
        d_fake = np.mean([np.mean(f**2) for f in scales_fake])
    else:
        adv = np.mean([-np.mean(f) for f in scales_fake])
        d_real = np.mean([np.mean(np.maximum(1 - r, 0)) for r in scales_real])
        d_fake = np.mean([np.mean(np.maximum(1 + f, 0)) for f in scales_fake])
    return adv, fm, d_real, d_fake


@pytest.mark.parametrize("adversarial", ["lsgan", "hinge"])
def test_multiscale_losses_by_hand(adversarial):
    gan = FeatureMatchingGAN(ConstantGenerator(), two_scale_discriminator(adversarial), adversarial=adversarial,
                             l1_weight=2.0, feature_matching_weight=10.0, spectrum_weight=0.5)
    assert gan.feature_network == "none"
    g, _ = gan.generator_losses((keras.ops.convert_to_tensor(FAKE), keras.ops.convert_to_tensor(TARGET)))
    g = numbers(g)
    adv, fm, d_real, d_fake = by_hand(adversarial, FAKE)
    l1 = np.mean(np.abs(TARGET - FAKE))
    assert g["g_adv"] == pytest.approx(adv, rel=1e-5)
    assert g["g_fm"] == pytest.approx(fm, rel=1e-5)
    assert g["g_vgg"] == 0.0
    assert g["g_spec"] > 0
    assert g["g_total"] == pytest.approx(adv + 10 * fm + 2 * l1 + 0.5 * g["g_spec"], rel=1e-5)
    condition, target, fake = (keras.ops.convert_to_tensor(x) for x in (CONDITION, TARGET, FAKE))
    d = numbers(gan.discriminator_losses((condition, target), fake)[0])
    assert d["d_real"] == pytest.approx(d_real, rel=1e-5)
    assert d["d_fake"] == pytest.approx(d_fake, rel=1e-5)
    assert d["d_loss"] == pytest.approx(0.5 * (d_real + d_fake), rel=1e-5)


def test_preset_fits(synthetic_shards, tmp_path):
    """The preset, its feature matching over 4-px blocks (`fm_scale`; the SPADE and realistic
    presets fit with the cell-by-cell match elsewhere), through the compiled step."""
    _, history = fit_and_check("pix2pixhd", synthetic_shards, tmp_path, ["g_fm", "g_adv", "d_loss"],
                               loss={"extra": {"fm_scale": 4}})
    assert history["g_fm"] > 0
    assert '"fm_scale": 4' in (tmp_path / "config.json").read_text()
