"""The cVAE-GAN of the realistic-style preset: the KL term by hand, the style input of the
generator phase, and a few steps of the real `fit()` with g_kl in the logs."""

import json
import math

import keras
import numpy as np
import pytest

from cig_k3.config import config_from_preset
from cig_k3.losses.kl import gaussian_kl
from cig_k3.models import MultiScaleDiscriminator, StyleUNetGenerator, UNetGenerator
from cig_k3.training.gans import FeatureMatchingGAN, PRESETS

TINY_STYLE = {"generator_args": {"base_filters": 4, "depth": 2, "max_filters": 8, "encoder_filters": 4,
                                 "encoder_downsamples": 2, "full_resolution_noise": False},
              "discriminator_args": {"base_filters": 4, "num_downsamples": 2, "num_scales": 2}}


@pytest.mark.backend_independent
def test_kl_by_hand():
    mu = np.array([[1.0, -2.0], [0.0, 0.5]], "float32")
    logvar = np.array([[0.0, np.log(4.0)], [-1.0, 0.0]], "float32")
    # per sample: -0.5 * sum(1 + logvar - mu^2 - exp(logvar))
    first = -0.5 * ((1 + 0 - 1 - 1) + (1 + np.log(4.0) - 4 - 4))
    second = -0.5 * ((1 - 1 - 0 - np.exp(-1.0)) + (1 + 0 - 0.25 - 1))
    assert float(gaussian_kl(mu, logvar)) == pytest.approx((first + second) / 2, rel=1e-5)
    assert float(gaussian_kl(np.zeros((3, 4)), np.zeros((3, 4)))) == 0.0


def test_preset_is_realistic_plus_a_style_encoder():
    styled, plain = PRESETS["realistic-style"], PRESETS["realistic"]
    assert styled["model"]["generator"] == "style_unet" and plain["model"]["generator"] == "unet"
    assert styled["loss"]["extra"]["kl_weight"] == 0.01 and "kl_weight" not in plain["loss"]["extra"]
    assert styled["model"]["generator_args"] == {**plain["model"]["generator_args"], "latent_dim": 8,
                                                 "encoder_pooling": "average_max", "camera_noise": "calibrated"}
    assert styled["model"]["discriminator_args"] == plain["model"]["discriminator_args"]


def tiny_gan(generator, kl_weight=0.05):
    discriminator = MultiScaleDiscriminator(3, 1, base_filters=4, num_downsamples=2, num_scales=2)
    gan = FeatureMatchingGAN(generator, discriminator, l1_weight=1.0, vgg_weight=0.0, kl_weight=kl_weight)
    gan.compile(keras.optimizers.Adam(1e-4), keras.optimizers.Adam(1e-4))
    return gan


def test_g_kl_only_with_a_style_encoder_and_the_target_is_the_style():
    rng = np.random.default_rng(0)
    condition = keras.ops.convert_to_tensor(rng.random((2, 32, 32, 3)).astype("float32"))
    target = keras.ops.convert_to_tensor(rng.uniform(-1, 1, (2, 32, 32, 1)).astype("float32"))
    plain = tiny_gan(UNetGenerator(3, 1, base_filters=4, depth=2))
    assert "g_kl" not in plain.loss_names and "g_kl" not in plain.trackers
    losses, _ = plain.generator_losses((condition, target), training=False)
    assert "g_kl" not in losses

    generator = StyleUNetGenerator(3, 1, latent_dim=4, base_filters=4, depth=2, encoder_filters=4, seed=0)
    gan = tiny_gan(generator, kl_weight=2.0)
    assert gan.loss_names[-2:] == ("g_kl", "g_total") and list(gan.trackers) == list(gan.loss_names)
    losses, fake = gan.generator_losses((condition, target), training=False)
    mu, logvar = generator.encode(target)
    assert float(losses["g_kl"]) == pytest.approx(float(gaussian_kl(mu, logvar)), rel=1e-5)
    assert float(losses["g_kl"]) > 0
    # Outside training z = mu of the target: the fake is synthesize(condition, mu).
    np.testing.assert_allclose(keras.ops.convert_to_numpy(fake),
                               keras.ops.convert_to_numpy(generator.synthesize(condition, mu)), atol=1e-5)
    value = {name: float(loss) for name, loss in losses.items()}
    expected = value["g_adv"] + 10.0 * value["g_fm"] + 1.0 * value["g_l1"] + 2.0 * value["g_kl"]
    assert value["g_total"] == pytest.approx(expected, rel=1e-5)
    assert FeatureMatchingGAN.from_config(gan.get_config()).kl_weight == 2.0
    with pytest.raises(ValueError, match="kl_weight"):
        tiny_gan(generator, kl_weight=-1.0)


def test_realistic_style_fits_and_logs_g_kl(synthetic_shards, tmp_path):
    from cig_k3.export import load_generator
    from cig_k3.training import train

    out = tmp_path / "run"
    config = config_from_preset("realistic-style", {
        "data": {"shards": str(synthetic_shards), "crop": 32, "batch_size": 2}, "model": TINY_STYLE,
        "epochs": 1, "steps_per_epoch": 3, "out": str(out), "verbose": 0, "num_samples": 1,
        "optimizer": {"standing_statistics": 2}})  # its inputs: a style from another image of the batch
    train(config)
    history = json.loads((out / "history.json").read_text())[-1]
    assert {"g_kl", "g_fm", "g_adv", "g_div", "d_loss", "val_l1"} <= set(history), sorted(history)
    assert all(math.isfinite(history[key]) for key in ("g_kl", "g_total", "val_l1"))
    assert history["g_kl"] > 0
    generator = load_generator(out / "generator.keras")
    assert type(generator).__name__ == "StyleUNetGenerator" and generator.latent_dim == 8
    # The camera noise measured on the shards before training, in the run's config.
    arguments = json.loads((out / "config.json").read_text())["model"]["generator_args"]
    assert arguments["camera_noise"] == "calibrated" and arguments["camera_read"] > 0
