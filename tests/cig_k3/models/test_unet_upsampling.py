"""The U-Net's upsampling modes, noise injection and latent code; old files still load."""

import json
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

from cig_k3.inference.generate import reseed_dropout
from cig_k3.export.loading import load_generator
from cig_k3.layers import sampling
from cig_k3.models import UNetGenerator

DATA = Path(__file__).parent / "data"
MODES = ("transpose", "resize_conv", "bilinear_conv", "subpixel")


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def period_two_fraction(image):
    """Share of an image's non-constant power on the Nyquist lines (a period-2 pattern)."""
    image = image - image.mean()
    power = np.abs(np.fft.fft2(image)) ** 2
    half_rows, half_cols = image.shape[0] // 2, image.shape[1] // 2
    nyquist = power[half_rows].sum() + power[:, half_cols].sum() - power[half_rows, half_cols]
    return nyquist / max(power.sum(), 1e-30)


def disc_condition(size=64):
    """A one-hot semantic condition: background with one large disc of interior."""
    rows, cols = np.mgrid[:size, :size]
    inside = (rows - 30) ** 2 + (cols - 34) ** 2 < 15**2
    condition = np.zeros((1, size, size, 3), "float32")
    condition[0, ~inside, 0] = 1.0
    condition[0, inside, 1] = 1.0
    return condition


def set_noise_scales(generator, value):
    for layer in generator.layers:
        if layer.name.endswith("_noise"):
            layer.scale.assign(np.full(layer.scale.shape, value, "float32"))


@pytest.mark.parametrize("mode", MODES)
def test_shapes_range_and_size_multiple(mode):
    generator = UNetGenerator(3, 2, base_filters=8, depth=3, upsample=mode, noise=True, latent_dim=4)
    out = numpy(generator(np.random.default_rng(0).random((2, 32, 64, 3)).astype("float32")))
    assert out.shape == (2, 32, 64, 2) and out.dtype == np.float32
    assert np.all(np.abs(out) <= 1.0)
    assert generator.size_multiple == 8
    assert generator.get_config()["upsample"] == mode


def test_resize_conv_and_subpixel_draw_no_checkerboard_where_transposed_does():
    """Random-initialised generators, no noise: the transposed convolutions paint a period-2
    pattern on a constant condition (Odena et al. 2016); the other two modes do not, and on a
    disc they draw structure without one."""
    constant = np.zeros((1, 64, 64, 3), "float32")
    constant[..., 0] = 1.0
    for seed in range(2):
        fractions = {}
        for mode in MODES:
            keras.utils.set_random_seed(seed)
            generator = UNetGenerator(3, 1, base_filters=8, depth=3, upsample=mode)
            # The centre, away from the zero padding's border effects.
            flat = numpy(generator(constant, training=False))[0, 16:48, 16:48, 0]
            disc = numpy(generator(disc_condition(), training=False))[0, 8:56, 8:56, 0]
            fractions[mode] = period_two_fraction(flat), period_two_fraction(disc), disc.std()
        transposed = fractions["transpose"]
        assert transposed[0] > 0.3 and transposed[1] > 0.1, fractions
        for mode in ("resize_conv", "bilinear_conv", "subpixel"):
            on_flat, on_disc, structure = fractions[mode]
            # Bilinear resizing on torch samples with its own pixel-centre rule, which leaves a
            # trace of period 2 (about 2 % of the transposed convolution's); nearest and sub-pixel
            # leave none on any backend.
            bound = 0.05 if mode == "bilinear_conv" else 0.01
            assert on_flat < bound * transposed[0], (mode, fractions)
            assert on_disc < bound / 10 and structure > 1e-3, (mode, fractions)


@pytest.mark.parametrize("mode", ["resize_conv", "subpixel"])
def test_noise_changes_samples_only_when_drawn(mode):
    condition = disc_condition(32)
    generator = UNetGenerator(3, 1, base_filters=8, depth=3, dropout_layers=0, upsample=mode, noise=True, seed=0)
    # The learned scales start at 0 (StyleGAN), so a fresh model ignores its noise.
    with sampling(generator):
        np.testing.assert_array_equal(numpy(generator(condition)), numpy(generator(condition)))
    set_noise_scales(generator, 0.5)
    plain = numpy(generator(condition, training=False))
    np.testing.assert_array_equal(numpy(generator(condition, training=False)), plain)
    with sampling(generator) as count:
        first, second = numpy(generator(condition)), numpy(generator(condition))
    assert count == 2  # one NoiseInjection per decoder block, no dropout
    assert np.abs(first - second).max() > 1e-2 and np.abs(first - plain).max() > 1e-2
    with sampling(generator, enabled=False):
        np.testing.assert_array_equal(numpy(generator(condition)), plain)
    # Training steps draw too.
    assert np.abs(numpy(generator(condition, training=True)) - numpy(generator(condition, training=True))).max() > 1e-2
    # `cig generate` reseeds before each mask: the same seed gives the same K samples.
    with sampling(generator):
        reseed_dropout(generator, 3)
        again = numpy(generator(condition))
        reseed_dropout(generator, 3)
        np.testing.assert_array_equal(numpy(generator(condition)), again)


def lag_one_correlation(image):
    """Correlation of horizontally neighbouring pixels: near 1 for 2x2 blocks, near 0 for
    independent per-pixel noise."""
    left, right = image[:, :-1].ravel(), image[:, 1:].ravel()
    return float(np.corrcoef(left, right)[0, 1])


def test_full_resolution_noise_varies_from_pixel_to_pixel():
    """Noise drawn only at half resolution reaches the image as blocks of correlated pixels;
    the full-resolution block's noise gives sample differences with far less neighbour
    correlation."""
    condition = disc_condition(32)
    generator = UNetGenerator(3, 1, base_filters=8, depth=3, dropout_layers=0, upsample="bilinear_conv",
                              noise=True, full_resolution_noise=True, seed=0)
    assert generator.get_config()["full_resolution_noise"] is True
    assert generator.get_layer("out_conv").kernel.shape == (3, 3, 8, 1)

    def difference(noise_layers):
        for layer in generator.layers:
            if layer.name.endswith("_noise"):
                layer.scale.assign(np.full(layer.scale.shape, 0.5 if layer.name in noise_layers else 0.0, "float32"))
        with sampling(generator) as count:
            first, second = numpy(generator(condition)), numpy(generator(condition))
        assert count == 3  # two decoder blocks and the full-resolution block
        return (first - second)[0, 4:-4, 4:-4, 0]

    half = difference({"up1_noise"})
    full = difference({"full_noise"})
    assert np.abs(full).max() > 1e-3 and np.abs(half).max() > 1e-3
    assert lag_one_correlation(full) < lag_one_correlation(half) - 0.2, (lag_one_correlation(full),
                                                                          lag_one_correlation(half))
    plain = numpy(generator(condition))
    np.testing.assert_array_equal(numpy(generator(condition)), plain)


def test_without_noise_or_dropout_samples_are_identical():
    condition = disc_condition(32)
    generator = UNetGenerator(3, 1, base_filters=8, depth=3, dropout_layers=0, upsample="resize_conv")
    with sampling(generator) as count:
        assert count == 0
        np.testing.assert_array_equal(numpy(generator(condition)), numpy(generator(condition)))


def test_latent_code_changes_samples():
    condition = disc_condition(32)
    generator = UNetGenerator(3, 1, base_filters=8, depth=3, dropout_layers=0, latent_dim=8, seed=0)
    plain = numpy(generator(condition))
    np.testing.assert_array_equal(numpy(generator(condition)), plain)
    with sampling(generator):
        first, second = numpy(generator(condition)), numpy(generator(condition))
    assert np.abs(first - second).max() > 1e-3


def test_bad_arguments_name_the_option():
    with pytest.raises(ValueError, match="unknown upsample 'deconv' in UNetGenerator's generator_args"):
        UNetGenerator(3, 1, base_filters=8, depth=3, upsample="deconv")
    with pytest.raises(ValueError, match="latent_dim=-1"):
        UNetGenerator(3, 1, base_filters=8, depth=3, latent_dim=-1)


def test_a_file_saved_before_these_options_loads_unchanged():
    """unet_855e458.keras was saved by the U-Net of commit 855e458 (before `upsample`,
    `noise`, `latent_dim`), with random non-trivial weights; it loads through CIG's own
    loader and computes what it computed then."""
    path = DATA / "unet_855e458.keras"
    with zipfile.ZipFile(path) as archive:
        assert "upsample" not in json.loads(archive.read("config.json"))["config"]
    generator = load_generator(path)
    config = generator.get_config()
    assert (config["upsample"], config["noise"], config["latent_dim"]) == ("transpose", False, 0)
    expected = np.load(DATA / "unet_855e458.npz")
    np.testing.assert_allclose(numpy(generator(expected["condition"], training=False)), expected["image"], atol=1e-5)
    # The defaults still build exactly the same weights, by name and shape.
    fresh = UNetGenerator(3, 1, base_filters=4, depth=3, dropout_layers=1, seed=0)
    assert [(v.path, tuple(v.shape)) for v in fresh.weights] == [(v.path, tuple(v.shape)) for v in generator.weights]


def test_camera_noise_modes_are_checked_and_saved():
    learned = UNetGenerator(3, 1, base_filters=4, depth=2, camera_noise=True, seed=0)
    assert {"read", "shot"} <= {v.name for v in learned.get_layer("camera_noise").trainable_weights}
    calibrated = UNetGenerator(3, 1, base_filters=4, depth=2, camera_noise="calibrated", camera_read=0.0076)
    config = calibrated.get_config()
    assert (config["camera_noise"], config["camera_read"]) == ("calibrated", 0.0076)
    assert UNetGenerator.from_config(config).get_layer("camera_noise").learned == ("shot",)
    # With the shot noise measured too, neither size trains; both are saved.
    both = UNetGenerator(3, 1, base_filters=4, depth=2, camera_noise="calibrated", camera_read=0.0076,
                         camera_shot=0.0345)
    config = both.get_config()
    assert (config["camera_read"], config["camera_shot"]) == (0.0076, 0.0345)
    restored = UNetGenerator.from_config(config).get_layer("camera_noise")
    assert restored.learned == () and not restored.trainable_weights
    assert float(numpy(restored.shot)) == pytest.approx(0.0345)
    with pytest.raises(ValueError, match="camera_noise 'calibrated' .* needs camera_read"):
        UNetGenerator(3, 1, base_filters=4, depth=2, camera_noise="calibrated")
    with pytest.raises(ValueError, match="camera_noise='always'"):
        UNetGenerator(3, 1, base_filters=4, depth=2, camera_noise="always")


def test_specks_are_calibrated_only_sit_before_the_camera_noise_and_are_saved():
    generator = UNetGenerator(3, 1, base_filters=4, depth=2, camera_noise=True, specks="calibrated",
                              speck_density=3e-4, speck_amplitudes=[0.05, 0.1], seed=0)
    names = [layer.name for layer in generator.layers]
    assert names[-3:] == ["image", "specks", "camera_noise"]
    config = generator.get_config()
    assert (config["specks"], config["speck_density"], config["speck_amplitudes"]) == ("calibrated", 3e-4, [0.05, 0.1])
    restored = UNetGenerator.from_config(config).get_layer("specks")
    assert (restored.density, restored.amplitudes, restored.seed) == (3e-4, [0.05, 0.1], 5000)
    assert "specks" not in [layer.name for layer in UNetGenerator(3, 1, base_filters=4, depth=2).layers]
    with pytest.raises(ValueError, match="specks 'calibrated' .* needs speck_density and speck_amplitudes"):
        UNetGenerator(3, 1, base_filters=4, depth=2, specks="calibrated")
    with pytest.raises(ValueError, match="specks=True"):
        UNetGenerator(3, 1, base_filters=4, depth=2, specks=True, speck_density=3e-4, speck_amplitudes=[0.1])


def test_a_training_step_learns_the_noise_scales_and_advances_every_seed():
    """Through the per-backend GAN step (JAX's stateless one included): the noise scales get
    gradients from their zero start, and every noise layer's seed moves on."""
    from cig_k3.models import PatchGANDiscriminator
    from cig_k3.training.gans import Pix2PixGAN

    generator = UNetGenerator(3, 1, base_filters=8, depth=3, dropout_layers=1, upsample="subpixel", noise=True,
                              latent_dim=2, camera_noise="calibrated", camera_read=0.0076, specks="calibrated",
                              speck_density=0.01, speck_amplitudes=[0.1], seed=0)
    gan = Pix2PixGAN(generator, PatchGANDiscriminator(3, 1, base_filters=8, num_downsamples=2, padding="same"))
    gan.compile(keras.optimizers.Adam(1e-2, 0.5), keras.optimizers.Adam(2e-4, 0.5))
    seeds = [v for v in generator.non_trainable_variables if "seed_generator" in v.path]
    seeds_before = [numpy(v.value).copy() for v in seeds]
    assert len(seeds) == 6  # two NoiseInjection, one LatentCode, one MCDropout, one Specks, one CameraNoise
    camera = generator.get_layer("camera_noise")
    sizes_before = numpy(camera.read), numpy(camera.shot)

    def batches():
        rng = np.random.default_rng(0)
        while True:
            condition = np.eye(3, dtype="float32")[rng.integers(0, 3, (2, 32, 32))]
            yield condition, (condition[..., 1:2] * 2 - 1).astype("float32")

    history = gan.fit(batches(), steps_per_epoch=2, epochs=1, verbose=0, shuffle=False).history
    assert all(np.isfinite(values[0]) for values in history.values())
    decoder = [layer for layer in generator.layers if layer.name.startswith("up") and layer.name.endswith("_noise")]
    scales = [numpy(layer.scale) for layer in decoder]
    assert len(scales) == 2 and all(np.abs(scale).max() > 0 for scale in scales)
    assert all((numpy(v.value) != before).any() for v, before in zip(seeds, seeds_before))
    # The calibrated read noise stays at its measured level; the shot noise is learned.
    assert numpy(camera.read) == np.float32(0.0076) == sizes_before[0] and numpy(camera.shot) != sizes_before[1]
