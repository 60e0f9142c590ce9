"""RegressionBaseline (the `regression` preset): L1 alone, no discriminator; fits through
Keras' fit() and train(), its loss falls on a fixed batch, and it saves and loads."""

import json

import keras
import numpy as np
import pytest

from cig_k3.config import config_from_preset
from cig_k3.models import CUSTOM_OBJECTS, Pix2PixHDGenerator
from cig_k3.training import train
from cig_k3.training.checkpoint import load_checkpoint, read_header
from cig_k3.training.gans import GAN_CUSTOM_OBJECTS, PRESETS, RegressionBaseline
from cig_k3.training.run import build_gan, make_optimizers

TINY_GENERATOR = {"base_filters": 4, "global_downsamples": 1, "global_blocks": 1, "local_blocks": 1}


def tiny_model(seed=0):
    return RegressionBaseline(Pix2PixHDGenerator(3, 2, seed=seed, **TINY_GENERATOR), l1_weight=1.0)


def fixed_batch():
    """Two 32x32 pairs whose target is a smooth function of the condition: learnable."""
    rng = np.random.default_rng(0)
    condition = rng.uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    target = np.tanh(np.stack([condition[..., 0] - condition[..., 1], 0.5 * condition[..., 2]], axis=-1))
    return condition, target.astype("float32")


def test_preset_is_pix2pixhd_without_its_discriminator():
    regression, pix2pixhd = PRESETS["regression"], PRESETS["pix2pixhd"]
    assert regression["data"] == pix2pixhd["data"]
    assert regression["model"]["generator"] == pix2pixhd["model"]["generator"]
    assert regression["model"]["generator_args"] == pix2pixhd["model"]["generator_args"]
    config = config_from_preset("regression", {"model": {"generator_args": TINY_GENERATOR}})
    model = build_gan(config, condition_channels=13, target_channels=3)
    assert isinstance(model, RegressionBaseline) and isinstance(model.generator, Pix2PixHDGenerator)
    assert (model.generator.in_channels, model.generator.out_channels) == (13, 3)
    assert not hasattr(model, "discriminator") and model.discriminator_names == ()
    assert [phase.name for phase in model.phases()] == ["generator"]
    model.compile(*make_optimizers(config))
    assert list(model.optimizer.optimizers) == ["generator"] and model.discriminator_optimizer is None
    # Every trainable variable is the generator's: nothing else is trained or saved.
    assert len(model.trainable_variables) == len(model.generator.trainable_variables)
    assert "discriminator" not in model.get_config()


def test_loss_by_hand_and_refused_weight():
    model = tiny_model()
    condition, target = fixed_batch()
    losses, fake = model.generator_losses((keras.ops.convert_to_tensor(condition), keras.ops.convert_to_tensor(target)))
    expected = np.mean(np.abs(target - keras.ops.convert_to_numpy(fake)))
    assert float(keras.ops.convert_to_numpy(losses["g_l1"])) == pytest.approx(expected, rel=1e-5)
    assert float(keras.ops.convert_to_numpy(losses["g_total"])) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="l1_weight of the regression gan must be > 0"):
        RegressionBaseline(Pix2PixHDGenerator(3, 2, **TINY_GENERATOR), l1_weight=0.0)


def test_fit_lowers_l1_on_a_fixed_batch_and_round_trips(tmp_path):
    keras.utils.set_random_seed(0)
    model = tiny_model()
    model.compile(keras.optimizers.Adam(2e-3))
    condition, target = fixed_batch()
    history = model.fit(condition, target, batch_size=2, epochs=25, verbose=0, shuffle=False).history
    assert set(history) >= {"g_l1", "g_total"} and not any("d_" in key for key in history)
    assert history["g_l1"][-1] < 0.7 * history["g_l1"][0], history["g_l1"]

    path = tmp_path / "regression.keras"
    model.save(path)
    restored = keras.saving.load_model(path, custom_objects={**CUSTOM_OBJECTS, **GAN_CUSTOM_OBJECTS}, compile=False)
    assert isinstance(restored, RegressionBaseline) and restored.l1_weight == 1.0
    assert not hasattr(restored, "discriminator")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(restored.generator(condition)),
                               keras.ops.convert_to_numpy(model.generator(condition)), atol=1e-5)


def test_train_writes_a_run_and_resumes(synthetic_shards, tmp_path):
    """train() end to end on mask -> image shards (any paired data will do), then a resume
    from the checkpoint, whose variables are the generator's and its one optimiser's."""
    out = tmp_path / "run"
    values = {"data": {"shards": str(synthetic_shards), "crop": 32, "batch_size": 2},
              "model": {"generator_args": TINY_GENERATOR}, "epochs": 1, "steps_per_epoch": 2, "out": str(out),
              "verbose": 0, "num_samples": 1}
    result = train(config_from_preset("regression", values))
    assert result.steps_done == 2
    history = json.loads((out / "history.json").read_text())
    assert {"g_l1", "g_total", "val_l1", "val_psnr"} <= set(history[-1])
    assert not any(key.startswith("d_") for key in history[-1])
    for name in ("generator.keras", "gan.keras", "checkpoint.npz"):
        assert (out / name).exists(), name
    assert len(list((out / "samples").glob("*.png"))) == 1

    config = config_from_preset("regression", {**values, "epochs": 2})
    model = build_gan(config, condition_channels=3, target_channels=1)
    model.compile(*make_optimizers(config))
    assert load_checkpoint(model, out)["step"] == 2  # the variable counts match: no discriminator stored
    resumed = train(config, resume=out)
    assert resumed.steps_done == 4 and read_header(out)["epoch"] == 2
