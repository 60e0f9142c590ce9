"""The GAN step on the current backend: it trains, threads all state, and honours precision."""

import keras
import numpy as np
import pytest

from cig_k3.models import PatchGANDiscriminator, UNetGenerator
from cig_k3.training.gans import Pix2PixGAN
from cig_k3.training.run import make_optimizers
from cig_k3.config import config_from_preset


def tiny_gan(dropout_layers=1, precision="float32"):
    keras.config.set_dtype_policy(precision)
    try:
        generator = UNetGenerator(3, 1, base_filters=8, depth=3, dropout_layers=dropout_layers, seed=0)
        discriminator = PatchGANDiscriminator(3, 1, base_filters=8, num_downsamples=2, padding="same")
        # Under the policy, as train() builds it: Keras must not wrap the optimiser container.
        return Pix2PixGAN(generator, discriminator)
    finally:
        keras.config.set_dtype_policy("float32")


def batches(seed=0, size=32):
    rng = np.random.default_rng(seed)
    while True:
        condition = np.eye(3, dtype="float32")[rng.integers(0, 3, (2, size, size))]
        yield condition, (condition[..., 1:2] * 2 - 1).astype("float32")


def values(variables):
    return [np.array(keras.ops.convert_to_numpy(v.value)) for v in variables]


def test_fit_updates_every_piece_of_state():
    gan = tiny_gan()
    gan.compile(keras.optimizers.Adam(2e-4, 0.5), keras.optimizers.Adam(2e-4, 0.5))
    generator_before = values(gan.generator.trainable_variables)
    discriminator_before = values(gan.discriminator.trainable_variables)
    bn = [v for v in gan.generator.non_trainable_variables if "moving_mean" in v.path]
    seeds = [v for v in gan.generator.non_trainable_variables if "seed_generator" in v.path]
    bn_before, seeds_before = values(bn), values(seeds)
    assert bn and seeds

    history = gan.fit(batches(), steps_per_epoch=3, epochs=1, verbose=0).history
    assert set(Pix2PixGAN.loss_names) <= set(history)
    assert all(np.isfinite(history[name][0]) for name in Pix2PixGAN.loss_names)
    for before, after in [(generator_before, gan.generator.trainable_variables),
                          (discriminator_before, gan.discriminator.trainable_variables),
                          (bn_before, bn)]:
        assert any(np.abs(b - a).max() > 0 for b, a in zip(before, values(after)))
    # A variable missing from JAX's stateless scope would read its initial value and never
    # advance: dropout seeds and both optimisers' counters must move with every step.
    assert all((a != b).any() for a, b in zip(seeds_before, values(seeds)))
    assert int(keras.ops.convert_to_numpy(gan.generator_optimizer.iterations)) == 3
    assert int(keras.ops.convert_to_numpy(gan.discriminator_optimizer.iterations)) == 3


def test_validation_metrics_are_logged():
    gan = tiny_gan()
    gan.compile(keras.optimizers.Adam(2e-4, 0.5), keras.optimizers.Adam(2e-4, 0.5))
    condition, target = next(batches(1))
    history = gan.fit(batches(), steps_per_epoch=2, epochs=1, validation_data=(condition, target), verbose=0).history
    assert {"val_l1", "val_psnr", "val_ssim"} <= set(history)
    fake = keras.ops.convert_to_numpy(gan.generator(condition))
    assert history["val_l1"][0] == pytest.approx(np.mean(np.abs(fake - target)), rel=1e-4)


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16", "mixed_float16"])
def test_each_precision_trains(precision):
    config = config_from_preset("cig", {"precision": precision})
    gan = tiny_gan(precision=precision)
    gan.compile(*make_optimizers(config))
    if precision == "mixed_float16":
        assert isinstance(gan.generator_optimizer, keras.optimizers.LossScaleOptimizer)
        assert isinstance(gan.discriminator_optimizer, keras.optimizers.LossScaleOptimizer)
    expected = {"float32": "float32", "mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}[precision]
    conv = gan.generator.get_layer("down0_conv")
    assert conv.compute_dtype == expected and conv.variable_dtype == "float32"
    # The heads (the image's and the logits' convolutions) compute in float32 (HEAD_DTYPE).
    assert gan.generator.get_layer("out_conv").compute_dtype == "float32"
    assert gan.discriminator.get_layer("block3_conv").compute_dtype == "float32"
    history = gan.fit(batches(), steps_per_epoch=2, epochs=1, verbose=0).history
    assert all(np.isfinite(history[name][0]) for name in Pix2PixGAN.loss_names)
    # Final activations stay float32.
    out = gan.generator(next(batches())[0])
    assert keras.backend.standardize_dtype(out.dtype) == "float32"


def test_diversity_term_rewards_the_distance_between_two_draws():
    """g_div is the capped mean |G(c) - G'(c)| of two draws, subtracted from g_total; it is
    0 with the term off, and outside training (no second draw)."""
    generator = UNetGenerator(3, 1, base_filters=8, depth=3, dropout_layers=0, noise=True, seed=0)
    for layer in generator.layers:
        if "noise" in layer.name:
            layer.scale.assign(np.ones(layer.scale.shape, "float32"))  # draws differ from the start
    discriminator = PatchGANDiscriminator(3, 1, base_filters=8, num_downsamples=2, padding="same")
    batch = tuple(keras.ops.convert_to_tensor(part) for part in next(batches()))

    gan = Pix2PixGAN(generator, discriminator, l1_weight=10.0, diversity_weight=2.0, diversity_cap=10.0)
    gan.compile(keras.optimizers.Adam(2e-4, 0.5), keras.optimizers.Adam(2e-4, 0.5))
    losses, _ = gan.generator_losses(batch, training=True)
    g_div = float(keras.ops.convert_to_numpy(losses["g_div"]))
    assert g_div > 1e-3
    expected = losses["g_adv"] + 10.0 * losses["g_l1"] - 2.0 * losses["g_div"]
    assert float(keras.ops.convert_to_numpy(losses["g_total"])) == pytest.approx(
        float(keras.ops.convert_to_numpy(expected)), rel=1e-5)
    assert float(keras.ops.convert_to_numpy(gan.generator_losses(batch, training=False)[0]["g_div"])) == 0.0

    capped = Pix2PixGAN(generator, discriminator, diversity_weight=2.0, diversity_cap=g_div / 10)
    assert float(keras.ops.convert_to_numpy(capped.generator_losses(batch)[0]["g_div"])) == pytest.approx(g_div / 10)
    off = Pix2PixGAN(generator, discriminator)
    assert float(keras.ops.convert_to_numpy(off.generator_losses(batch)[0]["g_div"])) == 0.0
    assert Pix2PixGAN.from_config(capped.get_config()).diversity_cap == pytest.approx(g_div / 10)

    with pytest.raises(ValueError, match="diversity_weight"):
        Pix2PixGAN(generator, discriminator, diversity_weight=-1.0)
