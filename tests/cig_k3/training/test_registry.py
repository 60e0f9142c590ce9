"""The one GAN contract: one registry, presets beside their class, the same signatures for
every GAN, the adversarial modes each class refuses, and gan.keras files written before the
Pix2PixGAN rename still loading."""

import inspect
from pathlib import Path

import keras
import numpy as np
import pytest

from cig_k3.config import PRESETS, config_from_preset
from cig_k3.models import CUSTOM_OBJECTS, PatchGANDiscriminator, UNetGenerator
from cig_k3.training import gans
from cig_k3.training.gan import GAN, Networks, Phase
from cig_k3.training.gans import GAN_CUSTOM_OBJECTS, GANS, Pix2PixGAN
from cig_k3.training.run import build_gan

DATA = Path(__file__).parent / "data"
CONTRACT = ("phases", "generator_losses", "discriminator_losses", "validation_metrics", "grid_columns", "build")
# One preset per gan, at tiny widths (32x32 crops).
TINY = {
    "cig": {"generator_args": {"base_filters": 4, "depth": 3, "max_filters": 8, "dropout_layers": 1},
            "discriminator_args": {"base_filters": 4, "num_downsamples": 2}},
    "attention": {"generator_args": {"base_filters": 4, "depth": 2, "max_filters": 8},
                  "discriminator_args": {"base_filters": 4, "depth": 2}},
    "mixlc": {"generator_args": {"base_filters": 4, "depth": 2, "max_filters": 8},
              "discriminator_args": {"base_filters": 4, "num_downsamples": 2}},
    "spade": {"generator_args": {"base_filters": 4, "num_upsamples": 2, "hidden_filters": 4},
              "discriminator_args": {"base_filters": 4, "num_downsamples": 2, "num_scales": 2}},
    "dcgan": {"generator_args": {"latent_dim": 4, "base_filters": 4}, "discriminator_args": {"base_filters": 4}},
    "cgan": {"generator_args": {"latent_dim": 4, "base_filters": 4}, "discriminator_args": {"base_filters": 4}},
    "wgan-gp": {"generator_args": {"latent_dim": 4, "base_filters": 4}, "discriminator_args": {"base_filters": 4}},
    "bigan": {"generator_args": {"latent_dim": 4, "base_filters": 4}, "discriminator_args": {"base_filters": 4}},
    "cyclegan": {"generator_args": {"base_filters": 4, "depth": 3, "dropout_layers": 0},
                 "discriminator_args": {"base_filters": 4, "num_downsamples": 2}},
    "regression": {"generator_args": {"base_filters": 4, "global_downsamples": 1, "global_blocks": 1,
                                      "local_blocks": 1}},
}


def tiny_config(preset, **loss):
    values = {"data": {"shards": "unused", "shards_b": "unused", "crop": 32}, "model": TINY[preset],
              "loss": {"extra": {"class_thresholds": [0.3, 0.6]} if preset == "cgan" else {}, **loss}}
    return config_from_preset(preset, values)


def test_one_registry_and_presets_beside_their_class():
    # one preset of every gan here
    assert set(TINY) == set(PRESETS) - {"pix2pix", "pix2pixhd", "realistic", "realistic-style",
                                         "realistic-instance"}
    assert {PRESETS[name]["model"]["gan"] for name in TINY} == set(GANS)
    assert PRESETS is gans.PRESETS  # config reads the merged registry, it keeps no presets of its own
    for name, (gan_class, presets) in gans._REGISTRY.items():
        module = inspect.getmodule(gan_class)
        beside = Path(module.__file__).with_name(Path(module.__file__).stem + "_presets.py")
        assert beside.is_file(), beside
        assert all(preset["model"]["gan"] == name for preset in presets.values())
    with pytest.raises(ValueError, match=r"unknown gan 'nope'; choose one of \['attention'"):
        gans.gan_class("nope")


@pytest.mark.parametrize("gan_class", sorted(set(GANS.values()), key=lambda cls: cls.__name__),
                         ids=lambda cls: cls.__name__)
def test_every_gan_keeps_the_contract(gan_class):
    assert issubclass(gan_class, GAN)
    # A GAN without a discriminator (regression) has no discriminator phase to define.
    losses = ("generator_losses", "discriminator_losses") if gan_class.discriminator_names else ("generator_losses",)
    for name in set(CONTRACT) - {"generator_losses", "discriminator_losses"} | set(losses):
        assert getattr(gan_class, name) is not getattr(GAN, name), f"{gan_class.__name__} does not define {name}"
    for name in losses:
        parameters = list(inspect.signature(getattr(gan_class, name)).parameters)
        assert parameters == ["self", "batch", "carry", "training"], (name, parameters)
    assert list(inspect.signature(gan_class.grid_columns).parameters)[1:] == ["condition", "target", "num_samples"]
    # Built from networks and loss settings: no constructor argument takes a run config.
    assert not {"config", "train_config"} & set(inspect.signature(gan_class.__init__).parameters)
    assert set(gan_class.adversarial_losses) <= {"lsgan", "bce", "hinge", "wasserstein"}


@pytest.mark.parametrize("preset", sorted(TINY))
def test_each_gan_builds_declares_its_phases_and_refuses_what_config_refuses(preset):
    gan = build_gan(tiny_config(preset), 1 if preset == "cyclegan" else 3, 1)
    phases = gan.phases()
    assert phases and all(isinstance(phase, Phase) and phase.loss_name in gan.loss_names for phase in phases)
    assert {phase.optimizer for phase in phases} == set(gan.optimizer_owners)
    gan_class = type(gan)
    refused = next(mode for mode in ("hinge", "wasserstein") if mode not in gan_class.adversarial_losses)
    config = tiny_config(preset)
    config.loss.adversarial = refused  # past config.validate, which would refuse it first
    with pytest.raises(ValueError, match=rf"{gan_class.__name__} trains with an adversarial loss in "):
        build_gan(config, 1 if preset == "cyclegan" else 3, 1)


def test_a_gan_from_plain_keywords_round_trips_its_config():
    networks = Networks("unet", {"base_filters": 2, "depth": 2, "dropout_layers": 0}, "patchgan",
                        {"base_filters": 2, "num_downsamples": 1, "padding": "same"}, condition_channels=3,
                        target_channels=1, image_size=16)
    gan = Pix2PixGAN.build(networks, adversarial="bce", l1_weight=3.0)
    assert (gan.adversarial, gan.l1_weight, gan.generator.in_channels) == ("bce", 3.0, 3)
    restored = Pix2PixGAN.from_config(gan.get_config(), custom_objects=CUSTOM_OBJECTS)
    assert (restored.adversarial, restored.l1_weight) == ("bce", 3.0)
    assert [v.shape for v in restored.variables] == [v.shape for v in gan.variables]


def test_gan_file_from_before_the_rename_loads():
    """conditional_gan_bded276.keras was saved by ConditionalGAN at commit bded276 (a tiny
    U-Net and PatchGAN, bce, l1_weight 50); it loads as a Pix2PixGAN and draws the same."""
    gan = keras.saving.load_model(DATA / "conditional_gan_bded276.keras",
                                  custom_objects={**CUSTOM_OBJECTS, **GAN_CUSTOM_OBJECTS}, compile=False)
    assert isinstance(gan, Pix2PixGAN) and (gan.adversarial, gan.l1_weight) == ("bce", 50.0)
    assert isinstance(gan.generator, UNetGenerator) and isinstance(gan.discriminator, PatchGANDiscriminator)
    expected = np.load(DATA / "conditional_gan_bded276.npz")
    generated = keras.ops.convert_to_numpy(gan.generator(expected["condition"], training=False))
    np.testing.assert_allclose(generated, expected["generated"], atol=1e-5)
