"""The GAN families of issue 9 on the current backend: losses by hand, one tiny fit each,
class conditioning, saving, and a cyclegan run through train()."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from cig_k3.config import config_from_preset
from cig_k3.losses import gradient_penalty
from cig_k3.models import DCGANDiscriminator, DCGANEncoder, DCGANGenerator, ImagePatchGANDiscriminator, UNetGenerator
from cig_k3.training import train
from cig_k3.training.gans import BiGAN, ClassConditionalGAN, CycleGAN, DCGAN, WGANGP
from cig_k3.training.gans.cgan import density_class, thresholds_from_stream
from cig_k3.training.backend import step_module

LATENT = 4


def tiny(name):
    def generator(**kwargs):
        return DCGANGenerator(LATENT, 1, 32, base_filters=4, **kwargs)

    def judge(**kwargs):
        return DCGANDiscriminator(1, 32, base_filters=4, **kwargs)

    if name == "dcgan":
        return DCGAN(generator(), judge())
    if name == "cgan":
        return ClassConditionalGAN(generator(num_classes=3), judge(num_classes=3), class_thresholds=[0.3, 0.6])
    if name == "wgan-gp":
        return WGANGP(generator(), judge(norm="layer"), n_critic=2)
    if name == "bigan":
        return BiGAN(generator(), judge(latent_dim=LATENT), DCGANEncoder(1, 32, LATENT, base_filters=4))
    if name == "cyclegan":
        def unet():
            return UNetGenerator(1, 1, base_filters=4, depth=3, dropout_layers=0, norm="instance")

        def patch():
            return ImagePatchGANDiscriminator(1, base_filters=4, num_downsamples=2)

        return CycleGAN(unet(), unet(), patch(), patch(), image_size=32, pool_size=3)
    raise ValueError(name)


def batches(name, seed=0):
    rng = np.random.default_rng(seed)
    while True:
        condition = np.eye(3, dtype="float32")[rng.integers(0, 3, (2, 32, 32))]
        target = (condition[..., 1:2] * 2 - 1).astype("float32")
        yield (target, np.flip(target, axis=1).copy()) if name == "cyclegan" else (condition, target)


def values(variables):
    return [np.array(keras.ops.convert_to_numpy(v.value)) for v in variables]


def linear_critic(weights):
    """f(x) = sum(w * x): its input gradient is w everywhere."""
    image = keras.Input((32, 32, 1))
    score = keras.layers.Dense(1, use_bias=False, kernel_initializer=keras.initializers.Constant(weights.reshape(-1, 1)))(
        keras.layers.Flatten()(image))
    return keras.Model(image, score)


def test_gradient_penalty_of_a_linear_critic():
    weights = np.random.default_rng(0).normal(scale=0.05, size=(32, 32, 1)).astype("float32")
    critic = linear_critic(weights)
    rng = np.random.default_rng(1)
    real, fake = (rng.uniform(-1, 1, (3, 32, 32, 1)).astype("float32") for _ in range(2))
    alpha = keras.ops.convert_to_tensor(rng.uniform(size=(3, 1, 1, 1)).astype("float32"))
    points = gradient_penalty.interpolate(keras.ops.convert_to_tensor(real), keras.ops.convert_to_tensor(fake), alpha)
    penalty = gradient_penalty.gradient_penalty(critic, points, step_module().input_gradient, weight=10.0)
    expected = 10.0 * (np.linalg.norm(weights) - 1.0) ** 2
    assert float(keras.ops.convert_to_numpy(penalty)) == pytest.approx(expected, rel=1e-5)


def test_wgan_gp_critic_steps_follow_the_hand_gradient():
    """Two critic SGD steps (n_critic=2) with G(z) = 0 and f(x) = sum(w * x): the step must
    differentiate through the penalty: grad = -mean(real) + 10 * 2 (|w| - 1) w / |w|."""
    w = np.random.default_rng(0).normal(scale=0.05, size=(32, 32, 1)).astype("float32")
    noise = keras.Input((LATENT,))
    zero_image = keras.layers.Reshape((32, 32, 1))(keras.layers.Dense(32 * 32, kernel_initializer="zeros")(noise))
    generator = keras.Model(noise, zero_image)
    generator.latent_dim = LATENT
    gan = WGANGP(generator, linear_critic(w), n_critic=2)
    learning_rate = 0.1
    gan.compile(keras.optimizers.SGD(0.0), keras.optimizers.SGD(learning_rate))
    real = np.random.default_rng(2).uniform(-1, 1, (2, 32, 32, 1)).astype("float32")
    gan.fit(np.zeros((2, 1), "float32"), real, batch_size=2, epochs=1, verbose=0, shuffle=False)
    for _ in range(2):
        norm = np.linalg.norm(w)
        w = w - learning_rate * (-real.mean(axis=0) + 20.0 * (norm - 1.0) * w / norm)
    np.testing.assert_allclose(values(gan.critic.trainable_variables)[0].reshape(w.shape), w, atol=1e-5)
    assert int(keras.ops.convert_to_numpy(gan.discriminator_optimizer.iterations)) == 2


@pytest.mark.parametrize("name", ["dcgan", "cgan", "wgan-gp", "bigan", "cyclegan"])
def test_one_tiny_fit_updates_every_network_and_state(name):
    gan = tiny(name)
    gan.compile(keras.optimizers.Adam(2e-4, 0.5), keras.optimizers.Adam(2e-4, 0.5))
    owners = [owner for key in gan.optimizer_owners for owner in gan.owners(key)]
    before = [values(owner.trainable_variables) for owner in owners]
    pools = [gan.pool_a, gan.pool_b] if name == "cyclegan" else []
    states = [v for pool in pools for v in pool.non_trainable_variables] if pools else [gan.noise_seed.state]
    states_before = values(states)

    history = gan.fit(batches(name), steps_per_epoch=2, epochs=1, verbose=0).history
    assert set(gan.loss_names) <= set(history)
    assert all(np.isfinite(history[key][0]) for key in gan.loss_names)
    for owner, old in zip(owners, before):
        assert any(np.abs(a - b).max() > 0 for a, b in zip(old, values(owner.trainable_variables))), owner.name
    # Noise seeds and pools are state: a variable left out of JAX's scope would not advance.
    assert states and all((a != b).any() for a, b in zip(states_before, values(states)))
    n_critic = getattr(gan, "n_critic", 1)
    assert int(keras.ops.convert_to_numpy(gan.discriminator_optimizer.iterations)) == 2 * n_critic
    assert int(keras.ops.convert_to_numpy(gan.generator_optimizer.iterations)) == 2


def test_cgan_classes_come_from_the_label_and_change_the_samples():
    label = np.zeros((3, 32, 32, 3), "float32")
    label[..., 0] = 1
    label[1, :16, :, :] = [0, 1, 0]  # half foreground
    label[2, :, :, :] = [0, 0, 1]  # all foreground
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(density_class(label, [0.3, 0.6])), [0, 1, 2])
    gan = tiny("cgan")
    sparse, dense = (keras.ops.convert_to_numpy(gan.sample(k, 2, seed=0)) for k in (0, 2))
    assert sparse.shape == (2, 32, 32, 1)
    assert np.abs(sparse - dense).max() > 1e-6  # the class input reaches the image
    np.testing.assert_array_equal(sparse, keras.ops.convert_to_numpy(gan.sample(0, 2, seed=0)))
    with pytest.raises(ValueError, match="class_id"):
        gan.sample(3, 2)


class FractionStream:
    """A stand-in for BatchStream whose crops have known foreground fractions."""

    def __init__(self, fractions, batch_size):
        self.fractions, self.batch_size = list(fractions), batch_size

    def epoch(self, epoch):
        for first in range(0, len(self.fractions), self.batch_size):
            labels = []
            for fraction in self.fractions[first:first + self.batch_size]:
                label = np.zeros((10, 10, 3), "float32")
                label[..., 0] = 1  # background
                foreground = round(fraction * 100)
                label.reshape(100, 3)[:foreground] = [0, 1, 0]
                labels.append(label)
            yield np.stack(labels), np.zeros((len(labels), 10, 10, 1), "float32")


def test_cgan_thresholds_are_tertiles_of_the_training_crops():
    # Nine crops with foreground 0.0, 0.1, ..., 0.8 in three batches, and a fourth batch that
    # must not be read. Tertiles by linear interpolation: positions 8/3 and 16/3 of the
    # sorted fractions, i.e. 0.2 + 2/3 * 0.1 and 0.5 + 1/3 * 0.1.
    fractions = [0.4, 0.0, 0.8, 0.1, 0.7, 0.2, 0.6, 0.3, 0.5, 1.0, 1.0, 1.0]
    low, high = thresholds_from_stream(FractionStream(fractions, batch_size=3), batches=3)
    assert low == pytest.approx(0.2 + 0.2 / 3, abs=1e-6) and high == pytest.approx(0.5 + 0.1 / 3, abs=1e-6)
    label = np.concatenate([batch for batch, _ in FractionStream(fractions[:9], 9).epoch(0)])
    classes = keras.ops.convert_to_numpy(density_class(label, [low, high]))
    assert np.bincount(classes, minlength=3).tolist() == [3, 3, 3]  # the thresholds split the crops in thirds


def test_cgan_thresholds_split_real_training_crops_in_thirds(synthetic_shards):
    from cig_k3.data import BatchStream

    stream = BatchStream(synthetic_shards, batch_size=4, crop=32, steps_per_epoch=6)
    low, high = thresholds_from_stream(stream, batches=6)
    label = np.concatenate([condition for condition, _ in stream.epoch(0)])  # the same 24 crops
    fractions = 1.0 - label[..., 0].mean(axis=(1, 2))
    # What makes them tertiles, ties (empty crops) included: at least a third of the crops lie
    # at or below the first, at most a third strictly below it; two thirds for the second.
    assert low < high
    assert (fractions <= low).sum() >= 8 and (fractions < low).sum() <= 8
    assert (fractions <= high).sum() >= 16 and (fractions < high).sum() <= 16
    classes = keras.ops.convert_to_numpy(density_class(label, [low, high]))
    np.testing.assert_array_equal(classes, (fractions > low).astype(int) + (fractions > high))


def test_bigan_reports_reconstruction():
    gan = tiny("bigan")
    condition, target = next(batches("bigan"))
    metrics = gan.validation_metrics(condition, target)
    recon = keras.ops.convert_to_numpy(gan.generator(gan.encoder(target)))
    assert float(keras.ops.convert_to_numpy(metrics["recon_l1"])) == pytest.approx(np.abs(recon - target).mean(), rel=1e-5)


LOADER = r"""
import sys, numpy as np, keras
from cig_k3.models import CUSTOM_OBJECTS
from cig_k3.training.gans import GAN_CUSTOM_OBJECTS
folder = sys.argv[1]
objects = {**CUSTOM_OBJECTS, **GAN_CUSTOM_OBJECTS}
FAMILIES = ["dcgan", "cgan", "wgan-gp", "bigan", "cyclegan"]
for name in FAMILIES:
    gan = keras.saving.load_model(f"{folder}/{name}.keras", custom_objects=objects, compile=False)
    with np.load(f"{folder}/{name}.npz") as data:
        out = keras.ops.convert_to_numpy(gan.generator(data["inputs"], training=False))
        np.testing.assert_allclose(out, data["outputs"], atol=1e-5, err_msg=name)
print("loaded", len(FAMILIES))
"""


def test_each_family_saves_and_loads_in_a_fresh_process(tmp_path):
    for name in ["dcgan", "cgan", "wgan-gp", "bigan", "cyclegan"]:
        gan = tiny(name)
        condition, target = next(batches(name))
        if name == "cyclegan":
            inputs = condition
            gan.pool_a(target)  # some pool state to save
        else:
            inputs = np.random.default_rng(0).normal(size=(2, LATENT)).astype("float32")
            if name == "cgan":
                inputs = [inputs, np.eye(3, dtype="float32")[[0, 2]]]
        outputs = keras.ops.convert_to_numpy(gan.generator(inputs, training=False))
        gan.save(tmp_path / f"{name}.keras")
        if name == "cgan":
            inputs = inputs[0]  # (the loader below feeds one input; cgan is checked by config)
            outputs = keras.ops.convert_to_numpy(gan.generator([inputs, np.eye(3, dtype="float32")[[0, 0]]]))
        np.savez(tmp_path / f"{name}.npz", inputs=inputs, outputs=outputs)
    loader = LOADER.replace('data["inputs"]', '_inputs(name, data["inputs"])').replace(
        "folder = sys.argv[1]", "folder = sys.argv[1]\n"
        "def _inputs(name, x):\n    return [x, np.eye(3, dtype='float32')[[0, 0]]] if name == 'cgan' else x")
    result = subprocess.run([sys.executable, "-c", loader, str(tmp_path)], capture_output=True, text=True,
                            env=dict(os.environ))
    assert result.returncode == 0, result.stderr[-3000:]


def test_cyclegan_trains_through_train_with_two_shard_folders(synthetic_shards, tmp_path):
    config = config_from_preset("cyclegan", {
        "data": {"shards": str(synthetic_shards), "shards_b": str(synthetic_shards), "crop": 32, "batch_size": 2,
                 "validation_batches": 1},
        "model": {"generator_args": {"base_filters": 4, "depth": 3, "dropout_layers": 0, "norm": "instance"},
                  "discriminator_args": {"base_filters": 4, "num_downsamples": 2}},
        "loss": {"extra": {"pool_size": 4}},
        "epochs": 1, "steps_per_epoch": 2, "out": str(tmp_path / "run"), "verbose": 0,
    })
    result = train(config)
    assert result.steps_done == 2
    for name in ("gan.keras", "generator.keras", "checkpoint.npz"):
        assert (tmp_path / "run" / name).exists()
    assert {"g_cycle", "d_loss", "val_cycle_l1"} <= set(result.history)
    assert len(list((tmp_path / "run" / "samples").glob("*.png"))) == 1
