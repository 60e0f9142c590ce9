"""Noise injection, the latent code, camera noise and specks: when they draw, what they add, and a .keras round trip."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from cig_k3.inference.generate import reseed_dropout
from cig_k3.layers import CameraNoise, LatentCode, MCDropout, NoiseInjection, Specks, sampling, stochastic_layers


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def features(shape=(2, 8, 8, 3), seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def test_noise_is_one_image_per_pixel_times_a_per_channel_scale():
    x = features()
    layer = NoiseInjection(seed=0)
    layer.build(x.shape)
    np.testing.assert_array_equal(numpy(layer.scale), [0.0, 0.0, 0.0])  # StyleGAN's zero start
    layer.scale.assign(np.array([0.0, 1.0, -2.5], "float32"))
    added = numpy(layer(x, training=True)) - x
    np.testing.assert_allclose(added[..., 0], 0.0, atol=1e-6)
    noise = added[..., 1]
    np.testing.assert_allclose(added[..., 2], -2.5 * noise, atol=1e-5)
    # Standard normal noise, different at every pixel and for every image of the batch.
    assert abs(noise.mean()) < 0.3 and 0.7 < noise.std() < 1.3
    assert np.abs(noise[0] - noise[1]).max() > 0.1
    assert len(np.unique(noise.round(5))) == noise.size


def test_noise_draws_when_training_or_sampling_and_is_off_otherwise():
    x = features()
    layer = NoiseInjection(initial_scale=1.0, seed=0)
    model = keras.Sequential([keras.Input((None, None, 3)), layer])
    np.testing.assert_array_equal(numpy(model(x, training=False)), x)
    first, second = numpy(model(x, training=True)), numpy(model(x, training=True))
    assert np.abs(first - x).max() > 0.5 and np.abs(first - second).max() > 0.5
    with sampling(model) as count:
        third, fourth = numpy(model(x, training=False)), numpy(model(x, training=False))
    assert count == 1 and np.abs(third - fourth).max() > 0.5
    with sampling(model, enabled=False):
        np.testing.assert_array_equal(numpy(model(x, training=False)), x)
    np.testing.assert_array_equal(numpy(model(x, training=False)), x)  # the context put it back


def test_a_seed_gives_the_same_draws():
    x = features()
    a, b, c = NoiseInjection(1.0, seed=3), NoiseInjection(1.0, seed=3), NoiseInjection(1.0, seed=4)
    first = numpy(a(x, training=True))
    np.testing.assert_array_equal(numpy(b(x, training=True)), first)
    # Compare first draws only: Keras' torch backend seeds a draw with seed + counter, so
    # seed 3's second draw is seed 4's first.
    assert np.abs(numpy(c(x, training=True)) - first).max() > 0.1
    assert np.abs(numpy(a(x, training=True)) - first).max() > 0.1


def test_camera_noise_is_white_poisson_gaussian_and_clipped():
    """Variance read^2 + shot^2 (y + 1) / 2 at every level, independent between neighbours,
    inside [-1, 1], and off at plain inference."""
    levels = np.array([-1.0, 0.0, 1.0], "float32")
    x = np.broadcast_to(levels[:, None, None, None], (3, 96, 96, 1)).copy()
    layer = CameraNoise(read=0.02, shot=0.1, seed=0)
    out = numpy(layer(x, training=True))
    assert out.min() >= -1.0 and out.max() <= 1.0
    noise = out - x
    expected = np.sqrt(0.02**2 + 0.1**2 * (levels + 1) / 2)
    np.testing.assert_allclose(noise[1].std(), expected[1], rtol=0.05)
    # At -1 and 1 the clip keeps half of the noise: the other half's values lie outside the range.
    np.testing.assert_allclose(noise[0].std(), expected[0] * np.sqrt(1 / 2 - 1 / (2 * np.pi)), rtol=0.1)
    assert (noise[0] >= 0).all() and (noise[2] <= 0).all() and noise[2].min() < -0.05
    middle = noise[1, ..., 0]
    for neighbour in (middle[:, 1:], middle[1:, :], middle[1:, 1:]):
        correlation = np.corrcoef(middle[: neighbour.shape[0], : neighbour.shape[1]].ravel(), neighbour.ravel())[0, 1]
        assert abs(correlation) < 0.05, correlation
    np.testing.assert_array_equal(numpy(layer(x)), x)
    layer.sampling = True
    assert np.abs(numpy(layer(x)) - x).max() > 0.01
    # The learned sizes are the absolute values read and shot: a sign change draws the same.
    layer.read.assign(-0.02)
    layer.shot.assign(0.0)
    layer.sampling = False
    np.testing.assert_allclose(numpy(layer(x, training=True))[1].std(), 0.02, rtol=0.05)


def test_camera_noise_learns_only_the_sizes_it_is_told_to():
    learned, calibrated = CameraNoise(seed=0), CameraNoise(read=0.0076, seed=0, learned=("shot",))
    for layer in (learned, calibrated):
        layer.build((None, 8, 8, 1))
    assert {v.name for v in learned.trainable_weights} == {"read", "shot"}
    assert [v.name for v in calibrated.trainable_weights] == ["shot"]
    assert [v.name for v in calibrated.non_trainable_weights if v.name == "read"] == ["read"]
    np.testing.assert_allclose(numpy(calibrated.read), 0.0076)
    with pytest.raises(ValueError, match="learns 'read' and/or 'shot'"):
        CameraNoise(learned=("gain",))


def test_specks_come_at_their_density_with_their_peaks_and_only_when_drawing():
    """Isolated specks are Gaussian bumps whose peaks are the given amplitudes, as often as the
    density says, each channel its own; clipped to [-1, 1]; off at plain inference."""
    from scipy.ndimage import label, maximum_filter

    x = np.full((4, 96, 96, 2), -0.9, "float32")
    layer = Specks(density=0.002, amplitudes=[0.1, 0.3], size=0.8, seed=0)
    out = numpy(layer(x, training=True))
    added = out - x
    assert added.min() >= 0.0 and out.max() <= 1.0
    plane = np.zeros((3, 3, 3, 3), bool)
    plane[1, :, :, 1] = True  # neighbours within one image and channel
    blobs, count = label(added > 1e-4, structure=plane)
    np.testing.assert_allclose(count / x.size, 0.002, rtol=0.25)  # mostly one blob a speck at this density
    peaks = added[(added == maximum_filter(added, (1, 5, 5, 1))) & (added > 1e-4)]
    single = np.isclose(peaks, 0.1, atol=1e-4) | np.isclose(peaks, 0.3, atol=1e-4)
    assert single.mean() > 0.9, np.unique(peaks.round(3))
    assert 0.3 < np.isclose(peaks, 0.1, atol=1e-4).mean() < 0.7  # each amplitude as likely
    assert not np.array_equal(added[..., 0] > 1e-4, added[..., 1] > 1e-4)
    # A Gaussian of 0.8 px: a neighbour of an isolated peak carries exp(-1 / 1.28) of it.
    b, y, x_, c = np.nonzero(np.isclose(added, 0.3, atol=1e-5) & (added == maximum_filter(added, (1, 5, 5, 1))))
    inside = x_ < added.shape[2] - 1
    neighbours = added[b[inside], y[inside], x_[inside] + 1, c[inside]]
    assert np.isclose(neighbours, 0.3 * np.exp(-1 / 1.28), atol=1e-3).mean() > 0.8
    np.testing.assert_array_equal(numpy(layer(x)), x)
    layer.sampling = True
    assert numpy(layer(x)).max() > -0.85
    bright = numpy(Specks(density=0.01, amplitudes=[1.0], seed=1)(np.full((1, 32, 32, 1), 0.5, "float32"),
                                                                  training=True))
    assert bright.max() == 1.0
    np.testing.assert_array_equal(numpy(Specks(density=0.0, seed=1)(x, training=True)), x)
    with pytest.raises(ValueError, match="Specks needs 0 <= density < 1"):
        Specks(density=1.5, amplitudes=[0.1])


def test_latent_code_is_constant_over_space_random_per_image_and_zero_at_inference():
    x = features((3, 4, 5, 2))
    layer = LatentCode(6, seed=0)
    out = numpy(layer(x, training=True))
    assert out.shape == (3, 4, 5, 8) and layer.compute_output_shape((None, 4, 5, 2)) == (None, 4, 5, 8)
    np.testing.assert_array_equal(out[..., :2], x)
    code = out[..., 2:]
    np.testing.assert_array_equal(code, np.broadcast_to(code[:, :1, :1], code.shape))
    assert np.abs(code[0, 0, 0] - code[1, 0, 0]).max() > 0.1
    np.testing.assert_array_equal(numpy(layer(x, training=False))[..., 2:], 0.0)
    layer.sampling = True
    assert np.abs(numpy(layer(x, training=False))[..., 2:]).max() > 0.1


def test_tiled_fields_share_one_latent_code():
    """`generate_fields` (cig evaluate), `generate_for_mask` (cig generate) and the napari
    widget draw tiles; one field's tiles must share one code, or a field is a patchwork."""
    from cig_k3.evaluation.evaluate import generate_fields
    from cig_k3.inference.generate import GenerateOptions, generate_for_mask
    from cig_k3.layers import one_code_per_field

    inputs = keras.Input((None, None, 2))
    model = keras.Model(inputs, LatentCode(3, seed=0)(inputs)[..., -1:])  # the code's last value
    fields = [np.zeros((40, 56, 2), "float32"), np.zeros((40, 56, 2), "float32")]
    first, second = generate_fields(model, fields, tile=16, overlap=4, sample=True)
    assert np.ptp(first) < 1e-5 and np.ptp(second) < 1e-5 and abs(first[0, 0, 0]) > 1e-3
    assert abs(first[0, 0, 0] - second[0, 0, 0]) > 1e-3  # fields differ
    drawn = generate_fields(model, fields[:1], tile=16, overlap=4, samples=3)[0]
    assert np.ptp(drawn, axis=(1, 2, 3)).max() < 1e-5 and np.ptp(drawn[:, 0, 0, 0]) > 1e-3  # samples differ
    samples = generate_for_mask(model, fields[0], GenerateOptions(tile=16, overlap=4, samples=2), seed=5)
    again = generate_for_mask(model, fields[0], GenerateOptions(tile=16, overlap=4, samples=2), seed=5)
    assert all(np.ptp(sample) < 1e-5 for sample in samples)
    np.testing.assert_array_equal(samples[1], again[1])
    # Outside the context and at inference without sampling the layer is as before.
    with sampling(model), one_code_per_field(model, 1) as codes:
        np.testing.assert_allclose(numpy(model(fields[0][None]))[0, 0, 0, 0], codes[0][-1], rtol=1e-6)
    assert stochastic_layers(model)[0].fixed_code is None
    np.testing.assert_array_equal(numpy(model(fields[0][None])), 0.0)


def test_sampling_and_reseeding_reach_every_noise_layer():
    inputs = keras.Input((None, None, 3))
    x = NoiseInjection(1.0, seed=0, name="noise")(inputs)
    x = LatentCode(2, seed=1, name="latent")(x)
    x = MCDropout(0.5, seed=2, name="dropout")(x)
    x = Specks(0.05, [0.5], seed=4, name="specks")(x)
    model = keras.Model(inputs, CameraNoise(seed=3, name="camera")(x))
    assert [layer.name for layer in stochastic_layers(model)] == ["noise", "latent", "dropout", "specks", "camera"]
    x = features()
    with sampling(model) as count:
        assert count == 5
        reseed_dropout(model, 7)
        first = numpy(model(x))
        reseed_dropout(model, 7)
        np.testing.assert_array_equal(numpy(model(x)), first)
        assert np.abs(numpy(model(x)) - first).max() > 0.1


LOAD_AND_DRAW = """
import sys, numpy as np, keras
from cig_k3.inference.generate import reseed_dropout
from cig_k3.layers import sampling
from cig_k3.models import CUSTOM_OBJECTS
model = keras.saving.load_model(sys.argv[1], custom_objects=CUSTOM_OBJECTS, safe_mode=True)
x = np.load(sys.argv[2])
plain = keras.ops.convert_to_numpy(model(x, training=False))
with sampling(model):
    reseed_dropout(model, 11)
    drawn = keras.ops.convert_to_numpy(model(x, training=False))
np.savez(sys.argv[3], plain=plain, drawn=drawn)
print(*[type(layer).__name__ for layer in model.layers[1:]])
"""


def test_noise_layers_round_trip_in_a_fresh_process(tmp_path):
    """Saved here, loaded with safe_mode in a new process: same scale, same seeded draws."""
    inputs = keras.Input((None, None, 3))
    noise = NoiseInjection(initial_scale=0.25, seed=5)
    camera = CameraNoise(seed=7)
    outputs = camera(Specks(0.05, [0.2, 0.4], seed=8)(LatentCode(2, seed=6)(noise(inputs))))
    model = keras.Model(inputs, outputs)
    model.build((None, None, None, 3))
    noise.scale.assign(np.array([0.5, -1.0, 2.0], "float32"))
    camera.read.assign(0.3)
    x = features()
    path, data, out = tmp_path / "noise.keras", tmp_path / "x.npy", tmp_path / "out.npz"
    model.save(path)
    np.save(data, x)
    with sampling(model):
        reseed_dropout(model, 11)
        drawn = numpy(model(x, training=False))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", LOAD_AND_DRAW, path, data, out], env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["NoiseInjection", "LatentCode", "Specks", "CameraNoise"]
    loaded = np.load(out)
    np.testing.assert_allclose(loaded["plain"], numpy(model(x, training=False)), atol=1e-6)
    np.testing.assert_allclose(loaded["drawn"], drawn, atol=1e-5)  # the learned scale came back


@pytest.mark.parametrize("layer", [NoiseInjection(0.1, seed=3), LatentCode(4, seed=2), CameraNoise(0.01, 0.02, seed=3),
                                   CameraNoise(0.01, 0.02, seed=3, learned=("shot",)), Specks(3e-4, [0.05, 0.1], 1.2, 2)])
def test_config_stores_every_argument(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    assert config["seed"] in (2, 3)
