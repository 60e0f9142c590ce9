"""The attention and bigan presets as issue 14 stabilised them: the attention generator
behaves the same in inference as in training after identity-loss steps (instance norm, no
running statistics to mix), and BiGAN's discriminator has ALI's dropout and a slower
learning rate."""

import keras
import numpy as np

from cig_k3.config import config_from_preset
from cig_k3.models import CUSTOM_OBJECTS, DCGANDiscriminator
from cig_k3.training.run import build_gan, make_optimizers


def test_attention_generator_infers_as_it_trains_after_identity_steps():
    config = config_from_preset("attention", {
        "data": {"crop": 32},
        "model": {"generator_args": {"base_filters": 4, "depth": 2, "max_filters": 8, "dropout_layers": 0},
                  "discriminator_args": {"base_filters": 4, "depth": 2}},
    })
    assert config.model.generator_args["norm"] == "instance"
    assert config.optimizer.generator_learning_rate == config.optimizer.discriminator_learning_rate == 1e-4
    keras.utils.set_random_seed(0)
    gan = build_gan(config, condition_channels=3, target_channels=1)
    gan.compile(*make_optimizers(config))
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, (4, 32, 32))
    condition = np.eye(3, dtype="float32")[labels]
    target = np.where(labels > 0, 0.6, -0.8).astype("float32")[..., None]
    history = gan.fit(condition, target, batch_size=4, epochs=3, verbose=0).history
    assert np.isfinite(history["g_identity"][-1])
    # Batch norm would normalise inference inputs with statistics averaged over mask and
    # identity (image) batches, and these two would differ.
    inferred = keras.ops.convert_to_numpy(gan.generator(condition, training=False))
    trained = keras.ops.convert_to_numpy(gan.generator(condition, training=True))
    np.testing.assert_allclose(inferred, trained, atol=1e-5)


def test_bigan_preset_has_dropout_in_its_discriminator_and_a_slower_one():
    config = config_from_preset("bigan", {"data": {"crop": 16},
                                          "model": {"generator_args": {"latent_dim": 4, "base_filters": 4},
                                                    "discriminator_args": {"base_filters": 4}}})
    assert config.optimizer.discriminator_learning_rate < config.optimizer.generator_learning_rate
    gan = build_gan(config, condition_channels=3, target_channels=1)
    dropouts = [layer for layer in gan.discriminator.layers if isinstance(layer, keras.layers.Dropout)]
    assert dropouts and all(layer.rate == 0.2 for layer in dropouts)
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in gan.encoder.layers)


def test_dcgan_discriminator_dropout_round_trips_and_is_off_in_inference(tmp_path):
    judge = DCGANDiscriminator(image_size=16, base_filters=4, latent_dim=4, dropout=0.5, seed=1)
    plain = DCGANDiscriminator(image_size=16, base_filters=4, latent_dim=4)
    # Without dropout no layer is added: files written before the option keep their layers.
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in plain.layers)
    assert [w.shape for w in judge.weights if "seed" not in w.path] == [w.shape for w in plain.weights]
    rng = np.random.default_rng(0)
    inputs = [rng.normal(size=(4, 16, 16, 1)).astype("float32"), rng.normal(size=(4, 4)).astype("float32")]
    first, second = (keras.ops.convert_to_numpy(judge(inputs, training=True)) for _ in range(2))
    assert not np.allclose(first, second)  # dropout draws new masks each call in training
    inferred = keras.ops.convert_to_numpy(judge(inputs, training=False))
    path = tmp_path / "judge.keras"
    judge.save(path)
    restored = keras.saving.load_model(path, custom_objects=CUSTOM_OBJECTS)
    assert (restored.dropout, restored.seed) == (0.5, 1)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(restored(inputs, training=False)), inferred, atol=1e-5)
