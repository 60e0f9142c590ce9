"""The realistic-instance preset: instance maps reach the generator (never D), a few steps of
the real `fit()`, and k-means centres fitted on the train split before generator.keras."""

import json
import math
from pathlib import Path

import keras
import numpy as np
import pytest

from cig_k3.config import config_from_preset
from cig_k3.models import InstanceUNetGenerator, MultiScaleDiscriminator
from cig_k3.training.gans import FeatureMatchingGAN, PRESETS

TINY_INSTANCE = {"generator_args": {"base_filters": 4, "depth": 2, "max_filters": 8, "encoder_filters": 4,
                                    "full_resolution_noise": False, "latent_dim": 2},
                 "discriminator_args": {"base_filters": 4, "num_downsamples": 2, "num_scales": 2}}


def test_preset_is_realistic_plus_instance_intensity_features():
    instanced, plain = PRESETS["realistic-instance"], PRESETS["realistic"]
    assert instanced["model"]["generator"] == "instance_unet" and plain["model"]["generator"] == "unet"
    assert instanced["model"]["generator_args"] == {**plain["model"]["generator_args"], "encoder": "intensity",
                                                    "feature_dim": 2, "num_clusters": 10,
                                                    "camera_noise": "calibrated", "specks": "calibrated"}
    assert instanced["loss"] == {**plain["loss"], "extra": {**plain["loss"]["extra"],
                                                            "background_spectrum_weight": 1.0, "l1_scale": 8}}
    assert plain["loss"]["extra"].get("background_spectrum_weight", 0) == 0  # a deep copy: `realistic` keeps 0
    assert plain["loss"]["extra"]["l1_scale"] == 4  # and its L1 on 4x4 block means
    assert instanced["data"] == plain["data"]
    assert "standing_statistics" not in plain["optimizer"]  # off: measured, not adopted (RESULTS.md)
    assert instanced["optimizer"] == {**plain["optimizer"], "decay_fraction": 1 / 3,
                                      "discriminator_learning_rate": 0.0008}  # TTUR: 4x the generator's
    assert "discriminator_learning_rate" not in plain["optimizer"]  # a deep copy: `realistic` keeps equal rates


@pytest.mark.parametrize("overrides, decay_start", [
    ({"epochs": 18}, 12 * 300),                                         # the preset: the last third
    ({"epochs": 18, "optimizer": {"decay_epochs": 2}}, 16 * 300),       # decay_epochs wins
    ({"epochs": 18, "optimizer": {"decay_fraction": 0.0}}, None),       # no decay
])
def test_learning_rates_decay_over_the_last_share_of_the_epochs(overrides, decay_start):
    from cig_k3.training.run import make_optimizers

    config = config_from_preset("realistic-instance", {"steps_per_epoch": 300, **overrides})
    generator_optimizer, discriminator_optimizer = make_optimizers(config)
    for optimizer, base in ((generator_optimizer, 2e-4), (discriminator_optimizer, 8e-4)):  # TTUR: D at 4x
        rate = optimizer.learning_rate if decay_start is None else optimizer._learning_rate
        if decay_start is None:
            assert float(keras.ops.convert_to_numpy(rate)) == pytest.approx(base)
            continue
        at = lambda step: float(keras.ops.convert_to_numpy(rate(step)))  # noqa: E731
        assert at(0) == pytest.approx(base) and at(decay_start) == pytest.approx(base)
        assert at((decay_start + 5400) / 2) == pytest.approx(base / 2) and at(5400) == pytest.approx(0.0, abs=1e-12)


def test_keeping_the_discriminator_rate_decays_the_generator_alone():
    from cig_k3.training.run import make_optimizers

    config = config_from_preset("realistic-instance", {"epochs": 18, "steps_per_epoch": 300,
                                                       "optimizer": {"decay_discriminator": False}})
    generator_optimizer, discriminator_optimizer = make_optimizers(config)
    at = lambda step: float(keras.ops.convert_to_numpy(generator_optimizer._learning_rate(step)))  # noqa: E731
    assert at(12 * 300) == pytest.approx(2e-4) and at(5400) == pytest.approx(0.0, abs=1e-12)
    assert float(keras.ops.convert_to_numpy(discriminator_optimizer.learning_rate)) == pytest.approx(8e-4)


@pytest.mark.backend_independent
def test_keep_discriminator_rate_flag_and_old_run_configs(tmp_path):
    from cig_k3.cli import build_parser
    from cig_k3.commands.train import config_from_args
    from cig_k3.config import TrainConfig

    argv = ["train", "--data", str(tmp_path), "--out", str(tmp_path / "run")]
    assert config_from_args(build_parser().parse_args(argv)).optimizer.decay_discriminator is True
    kept = config_from_args(build_parser().parse_args([*argv, "--keep-discriminator-rate"]))
    assert kept.optimizer.decay_discriminator is False
    old = kept.to_dict()  # a run folder written before the option existed resumes with both decaying
    del old["optimizer"]["decay_discriminator"]
    assert TrainConfig.from_dict(old).optimizer.decay_discriminator is True


def test_decay_discriminator_must_be_a_boolean():
    with pytest.raises(ValueError, match="decay_discriminator 'no': true or false"):
        config_from_preset("realistic-instance", {"optimizer": {"decay_discriminator": "no"}}).validate()


def test_decay_fraction_outside_zero_to_one_is_refused_in_one_line():
    with pytest.raises(ValueError, match="decay_fraction 1.5 .*--decay-fraction"):
        config_from_preset("realistic-instance", {"optimizer": {"decay_fraction": 1.5}}).validate()


def test_generator_reads_the_target_per_instance_and_the_discriminator_only_the_label():
    rng = np.random.default_rng(0)
    label = rng.random((2, 32, 32, 3)).astype("float32")
    instances = np.zeros((2, 32, 32, 1), "int32")
    instances[:, 4:12, 4:12], instances[:, 16:28, 10:20] = 1, 2
    target = rng.uniform(-1, 1, (2, 32, 32, 1)).astype("float32")
    label, instances, target = (keras.ops.convert_to_tensor(x) for x in (label, instances, target))
    generator = InstanceUNetGenerator(3, 1, base_filters=4, depth=2, encoder_filters=4, seed=0)
    discriminator = MultiScaleDiscriminator(3, 1, base_filters=4, num_downsamples=2, num_scales=2)
    gan = FeatureMatchingGAN(generator, discriminator, l1_weight=1.0, vgg_weight=0.0, cell_spectrum_weight=0.5,
                             background_spectrum_weight=0.25)
    gan.compile(keras.optimizers.Adam(1e-4), keras.optimizers.Adam(1e-4))
    losses, fake = gan.generator_losses(({"label": label, "instances": instances}, target), training=False)
    expected = generator.synthesize(label, instances, generator.encode_instances(target, instances))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(fake), keras.ops.convert_to_numpy(expected), atol=1e-5)
    # The texture spectra inside the objects and in the background read the instance map's
    # objects, each added at its weight.
    from cig_k3.losses.reconstruction import interior_spectrum_l1
    number = {name: float(keras.ops.convert_to_numpy(value)) for name, value in losses.items()}
    objects = keras.ops.cast(instances > 0, "float32")
    cspec = float(keras.ops.convert_to_numpy(interior_spectrum_l1(target, fake, objects)))
    bspec = float(keras.ops.convert_to_numpy(interior_spectrum_l1(target, fake, 1.0 - objects)))
    assert number["g_cspec"] == pytest.approx(cspec, rel=1e-5) and cspec > 0
    assert number["g_bspec"] == pytest.approx(bspec, rel=1e-5) and bspec > 0 and bspec != pytest.approx(cspec)
    others = number["g_adv"] + 10 * number["g_fm"] + number["g_l1"]
    assert number["g_total"] == pytest.approx(others + 0.5 * cspec + 0.25 * bspec, rel=1e-4)
    # Another target changes the fake through the encoder alone: the label is the same.
    _, other = gan.generator_losses(({"label": label, "instances": instances}, -target), training=False)
    assert np.abs(keras.ops.convert_to_numpy(other) - keras.ops.convert_to_numpy(fake)).max() > 1e-6
    d_losses, _ = gan.discriminator_losses(({"label": label, "instances": instances}, target), fake)
    assert all(math.isfinite(float(value)) for value in d_losses.values())
    # With rim_l1_scale, the L1 adds the fine blocks at the instance map's objects' rims.
    from cig_k3.losses.reconstruction import low_pass_l1, rim_l1
    gan.l1_scale, gan.rim_l1_scale = 8, 4
    losses, fake = gan.generator_losses(({"label": label, "instances": instances}, target), training=False)
    coarse = float(keras.ops.convert_to_numpy(low_pass_l1(target, fake, 8)))
    rims = float(keras.ops.convert_to_numpy(rim_l1(target, fake, objects, 4, 3)))
    assert rims > 0 and float(keras.ops.convert_to_numpy(losses["g_l1"])) == pytest.approx(coarse + rims, rel=1e-5)


def test_realistic_instance_fits_and_saves_fitted_centres(synthetic_shards, tmp_path):
    from mlflow.entities import LoggedModelStatus
    from mlflow.tracking import MlflowClient

    from cig_k3.export import load_generator
    from cig_k3.tracking import MLflowCallback, end_run, start_run
    from cig_k3.training import train
    from cig_k3.training.run import prepare_run
    from tests.cig_k3.tracking.conftest import new_store

    out = tmp_path / "run"
    config = config_from_preset("realistic-instance", {
        "data": {"shards": str(synthetic_shards), "crop": 32, "batch_size": 2}, "model": TINY_INSTANCE,
        "epochs": 1, "steps_per_epoch": 2, "out": str(out), "verbose": 0, "num_samples": 2,
        "optimizer": {"standing_statistics": 2}})
    store = new_store(tmp_path / "store")
    prepared = prepare_run(config)  # as `cig train` does: the checks (and the calibration) first
    run = start_run(config, json.loads((synthetic_shards / "manifest.json").read_text()), out, tracking_uri=store)
    callback = MLflowCallback(run, log_every=1, batch_size=2)
    train(config, callbacks=[callback], prepared=prepared)
    end_run(run)
    # The tracked model is the generator's one-graph form (label + instance ids in), with the
    # clusters fitted before it was logged.
    assert not callback.disabled
    logged = MlflowClient(store).get_logged_model(run.model_id)
    assert logged.status == LoggedModelStatus.READY
    logged_file = next(Path(logged.artifact_location.removeprefix("file://")).rglob("*.keras"))
    field = load_generator(logged_file)
    assert type(field).__name__ == "InstanceFieldGenerator" and field.inputs[0].shape[-1] == 3 + 1
    assert np.abs(keras.ops.convert_to_numpy(field.painter.table)).max() > 0
    history = json.loads((out / "history.json").read_text())[-1]
    assert {"g_fm", "g_adv", "g_l1", "g_div", "d_loss", "val_l1"} <= set(history), sorted(history)
    assert all(math.isfinite(history[key]) for key in ("g_total", "d_loss", "val_l1"))
    generator = load_generator(out / "generator.keras")
    assert type(generator).__name__ == "InstanceUNetGenerator" and generator.fitted
    # The tracked model was logged after the batch-norm statistics were measured again.
    from cig_k3.training.standing_statistics import batch_norm_layers

    for logged_norm, saved_norm in zip(batch_norm_layers(field), batch_norm_layers(generator), strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(logged_norm.moving_variance),
                                      keras.ops.convert_to_numpy(saved_norm.moving_variance))
    # The read and shot noise were measured on the train split before training, recorded in
    # the run's config and the tracked params, and kept through training.
    arguments = json.loads((out / "config.json").read_text())["model"]["generator_args"]
    params = MlflowClient(store).get_run(run.run_id).data.params
    camera = generator.unet.get_layer("camera_noise")
    for size in ("read", "shot"):
        level = arguments[f"camera_{size}"]
        assert 0 < level < 0.2 and params[f"model.generator_args.camera_{size}"] == str(level)
        assert float(keras.ops.convert_to_numpy(getattr(camera, size))) == pytest.approx(level)
    # So were the specks (the synthetic set's far background holds few or none).
    specks = generator.unet.get_layer("specks")
    assert (specks.density, specks.amplitudes) == (arguments["speck_density"], arguments["speck_amplitudes"])
    assert params["model.generator_args.speck_density"] == str(arguments["speck_density"])
    assert generator.encoder_kind == "intensity"
    centres = keras.ops.convert_to_numpy(generator.cluster_centres)
    # Each centre is a (mean, standard deviation) of train nuclei: a spread is never negative.
    assert centres.shape == (10, 2) and np.abs(centres).max() > 0 and (centres[:, 1] >= 0).all()


def test_the_texture_encoder_trains_and_fits_three_feature_centres(synthetic_shards, tmp_path):
    from cig_k3.export import load_generator
    from cig_k3.training import train

    out = tmp_path / "run"
    model = {**TINY_INSTANCE, "generator_args": {**TINY_INSTANCE["generator_args"], "encoder": "texture",
                                                 "feature_dim": 3}}
    config = config_from_preset("realistic-instance", {
        "data": {"shards": str(synthetic_shards), "crop": 32, "batch_size": 2}, "model": model,
        "epochs": 1, "steps_per_epoch": 2, "out": str(out), "verbose": 0, "num_samples": 2})
    train(config)
    generator = load_generator(out / "generator.keras")
    assert generator.encoder_kind == "texture" and generator.fitted
    centres = keras.ops.convert_to_numpy(generator.cluster_centres)
    # Each centre is a (mean, standard deviation, texture RMS) of train nuclei: the synthetic
    # nuclei carry texture, and neither spread is ever negative.
    assert centres.shape == (10, 3) and (centres[:, 1:] >= 0).all() and centres[:, 2].max() > 0
    history = json.loads((out / "history.json").read_text())[-1]
    assert all(math.isfinite(history[key]) for key in ("g_total", "d_loss", "val_l1"))


@pytest.mark.backend_independent
def test_instance_means_by_hand_and_compacted_crop_ids():
    from cig_k3.data.pipeline import compact_instances
    from cig_k3.training.instance_clusters import instance_means

    feature_map = np.arange(12, dtype="float64").reshape(2, 3, 2)
    ids = np.array([[0, 7, 7], [9, 9, 0]])
    np.testing.assert_allclose(instance_means(feature_map, ids), [[3.0, 4.0], [7.0, 8.0]])
    # A crop inside one object has no background: its one object is still an object.
    np.testing.assert_allclose(instance_means(feature_map, np.full((2, 3), 4)), [[5.0, 6.0]])
    np.testing.assert_array_equal(compact_instances(ids), [[0, 1, 1], [2, 2, 0]])
    np.testing.assert_array_equal(compact_instances(np.array([[300, 12]])), [[2, 1]])
