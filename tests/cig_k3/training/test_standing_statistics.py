"""Standing statistics: batch-norm statistics measured again for the weights a run saves."""

import json

import keras
import numpy as np
import pytest

from cig_k3.training.standing_statistics import batch_norm_layers, standing_statistics
from tests.helpers import tiny_config


def numpy(value):
    return keras.ops.convert_to_numpy(value)


def two_norm_model():
    image = keras.Input((8, 8, 2))
    x = keras.layers.Conv2D(3, 3, padding="same", name="conv1")(image)
    x = keras.layers.BatchNormalization(momentum=0.9, name="norm1")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv2")(x)
    x = keras.layers.BatchNormalization(momentum=0.9, name="norm2")(x)
    return keras.Model(image, x)


def test_each_norm_takes_the_statistics_of_all_batches_as_one():
    model = two_norm_model()
    rng = np.random.default_rng(0)
    # Batches that differ in level, so that the variance of the batch means matters.
    batches = [(rng.normal(size=(2, 8, 8, 2)) + shift).astype("float32") for shift in (0.0, 1.0, -2.0)]
    norms = batch_norm_layers(model)
    assert [layer.name for layer in norms] == ["norm1", "norm2"]
    probe = keras.Model(model.inputs[0], [layer.input for layer in norms])
    inputs = [[numpy(a).astype(np.float64) for a in probe(batch, training=True)] for batch in batches]
    trainable = [numpy(w) for w in model.trainable_weights]

    assert standing_statistics(model, iter(batches)) == 3

    for index, layer in enumerate(norms):
        seen = [batch[index] for batch in inputs]
        means = np.stack([a.mean(axis=(0, 1, 2)) for a in seen])
        variances = np.stack([a.var(axis=(0, 1, 2)) for a in seen])
        everything = np.concatenate([a.reshape(-1, a.shape[-1]) for a in seen])
        np.testing.assert_allclose(numpy(layer.moving_mean), means.mean(0), rtol=1e-4, atol=1e-5)
        # All the batches as one: equal batches, so the pooled variance of every value.
        np.testing.assert_allclose(numpy(layer.moving_variance), everything.var(0), rtol=1e-4, atol=1e-5)
        assert np.all(numpy(layer.moving_variance) >= variances.mean(0) - 1e-6) and layer.momentum == 0.9
    for before, after in zip(trainable, model.trainable_weights):
        np.testing.assert_array_equal(before, numpy(after))
    # Inference now normalises the training data as training did, on the whole.
    out = np.concatenate([numpy(model(batch, training=False)) for batch in batches])
    assert abs(out.mean()) < 0.2 and 0.7 < out.std() < 1.3


def test_no_batches_or_no_norm_changes_nothing():
    model = two_norm_model()
    before = [numpy(w) for w in model.weights]
    assert standing_statistics(model, iter([])) == 0
    for a, b in zip(before, model.weights):
        np.testing.assert_array_equal(a, numpy(b))
    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    assert batch_norm_layers(plain) == [] and standing_statistics(plain, iter([np.ones((1, 4))])) == 0


def test_nested_generators_are_searched():
    from cig_k3.models.instance_encoder import InstanceUNetGenerator

    generator = InstanceUNetGenerator(3, 1, base_filters=8, depth=3, encoder="intensity", feature_dim=2)
    inner = [layer for layer in generator.unet.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert inner and batch_norm_layers(generator) == inner


def test_train_measures_the_saved_generators_statistics_again(synthetic_shards, tmp_path):
    """generator.keras holds batch-norm statistics measured after training, not the moving
    averages the checkpoint keeps; its trainable weights are the checkpoint's."""
    from cig_k3.config import TrainConfig
    from cig_k3.training import train
    from cig_k3.training.checkpoint import load_checkpoint
    from cig_k3.training.run import build_gan, make_optimizers

    run = tmp_path / "run"
    train(tiny_config(synthetic_shards, run, optimizer={"standing_statistics": 3}))
    config = TrainConfig.from_dict(json.loads((run / "config.json").read_text()))
    assert config.optimizer.standing_statistics == 3
    gan = build_gan(config, 3, 1)
    gan.compile(*make_optimizers(config))
    load_checkpoint(gan, run)
    saved = keras.saving.load_model(run / "generator.keras", compile=False)
    for kept, measured in zip(batch_norm_layers(gan.generator), batch_norm_layers(saved), strict=True):
        assert not np.allclose(numpy(kept.moving_variance), numpy(measured.moving_variance)), kept.name
        assert not np.allclose(numpy(kept.moving_mean), numpy(measured.moving_mean)), kept.name
    for kept, measured in zip(gan.generator.trainable_weights, saved.trainable_weights, strict=True):
        np.testing.assert_array_equal(numpy(kept), numpy(measured))


@pytest.mark.backend_independent
def test_the_option_is_checked(synthetic_shards, tmp_path):
    from cig_k3.config import config_from_preset

    with pytest.raises(ValueError, match=r"optimizer.standing_statistics -1"):
        tiny_config(synthetic_shards, tmp_path / "run", optimizer={"standing_statistics": -1})
    with pytest.raises(ValueError, match=r"optimizer.standing_statistics: the 'dcgan' gan"):
        config_from_preset("dcgan", {"optimizer": {"standing_statistics": 5}})


@pytest.mark.backend_independent
def test_cli_flag_and_old_run_configs(synthetic_shards, tmp_path):
    from cig_k3.cli import build_parser
    from cig_k3.commands.train import config_from_args
    from cig_k3.config import TrainConfig

    argv = ["train", "--data", str(synthetic_shards), "--preset", "cig", "--out", str(tmp_path / "run")]
    assert config_from_args(build_parser().parse_args(argv)).optimizer.standing_statistics == 0  # cig: off
    given = config_from_args(build_parser().parse_args([*argv, "--standing-statistics", "7"]))
    assert given.optimizer.standing_statistics == 7
    default = config_from_args(build_parser().parse_args([*argv[:-4], "--standing-statistics", "200"]))
    assert default.preset == "realistic-instance" and default.optimizer.standing_statistics == 200
    # A run folder written before the option existed resumes with it off.
    old = given.to_dict()
    del old["optimizer"]["standing_statistics"]
    assert TrainConfig.from_dict(old).optimizer.standing_statistics == 0
