"""low_pass_l1: the plain L1 at scale 1; blind to texture inside the blocks, not to brightness.
spectrum_l1: blind to where texture lies, not to a checkerboard or to grain painted flat."""

import keras
import numpy as np
import pytest

from cig_k3.losses.reconstruction import low_pass_l1, spectrum_l1
from cig_k3.training.gans import FeatureMatchingGAN
from tests.cig_k3.training.test_losses import ConstantGenerator
from tests.cig_k3.training.test_pix2pixhd import two_scale_discriminator


def value(target, fake, scale):
    return float(keras.ops.convert_to_numpy(low_pass_l1(keras.ops.convert_to_tensor(target),
                                                        keras.ops.convert_to_tensor(fake), scale)))


def test_low_pass_l1_keeps_brightness_and_frees_texture():
    rng = np.random.default_rng(0)
    target = rng.uniform(-1, 1, (2, 16, 16, 1)).astype("float32")
    fake = rng.uniform(-1, 1, (2, 16, 16, 1)).astype("float32")
    assert value(target, fake, 1) == pytest.approx(np.mean(np.abs(target - fake)), rel=1e-6)
    # Texture that sums to zero in every 4x4 block: invisible at scale 4, not at scale 1.
    texture = np.tile(np.array([[1, -1], [-1, 1]], "float32"), (8, 8))[None, :, :, None] * 0.3
    assert value(target, target + texture, 4) == pytest.approx(0.0, abs=1e-6)
    assert value(target, target + texture, 1) == pytest.approx(0.3, rel=1e-5)
    # A brightness offset is seen at every scale; a side not a multiple of 4 drops the remainder.
    assert value(target, target + 0.25, 4) == pytest.approx(0.25, rel=1e-5)
    assert value(target[:, :14, :14], target[:, :14, :14] - 0.5, 4) == pytest.approx(0.5, rel=1e-5)


def spectrum(target, fake):
    return float(keras.ops.convert_to_numpy(spectrum_l1(keras.ops.convert_to_tensor(target),
                                                        keras.ops.convert_to_tensor(fake))))


def test_spectrum_l1_sees_checkerboards_and_flat_grain_not_position():
    rng = np.random.default_rng(0)
    # Smooth blobs plus grain, as a stand-in for nuclei with texture.
    y, x = np.mgrid[:32, :32]
    blobs = np.tanh(np.sin(x / 3.0)[None] * np.cos(y / 4.0 + rng.uniform(0, 6, (4, 1, 1))))
    target = (0.5 * blobs + 0.1 * rng.standard_normal((4, 32, 32)))[..., None].astype("float32")
    assert spectrum(target, target) == pytest.approx(0.0, abs=1e-6)
    # A circular shift moves everything and keeps the spectrum: 0, where the pixel L1 is large.
    shifted = np.roll(target, (5, 11), axis=(1, 2))
    assert spectrum(target, shifted) == pytest.approx(0.0, abs=1e-4)
    assert value(target, shifted, 1) > 0.1
    # The same grain drawn afresh costs far less than the grain painted flat.
    redrawn = (0.5 * blobs + 0.1 * rng.standard_normal((4, 32, 32)))[..., None].astype("float32")
    flat = (0.5 * blobs)[..., None].astype("float32")
    assert spectrum(target, flat) > 3 * spectrum(target, redrawn)
    # A faint checkerboard puts one peak in the spectrum: a cost that grows with its strength.
    board = np.tile(np.array([[1, -1], [-1, 1]], "float32"), (16, 16))[None, :, :, None]
    faint, strong = spectrum(target, target + 0.05 * board), spectrum(target, target + 0.5 * board)
    assert 0 < faint < strong
    # By hand with NumPy's FFT; a half-precision fake (mixed precision) is computed in float32.
    def log_power(images):
        planes = images[..., 0] - images[..., 0].mean(axis=(1, 2), keepdims=True)
        return np.log(np.mean(np.abs(np.fft.fft2(planes)) ** 2, axis=0) / planes[0].size + 1e-8)

    expected = np.mean(np.abs(log_power(target) - log_power(redrawn)))
    assert spectrum(target, redrawn) == pytest.approx(expected, rel=1e-4)
    assert spectrum(target, redrawn.astype("float16")) == pytest.approx(expected, rel=2e-2)


def test_feature_matching_gan_takes_l1_scale_fm_scale_and_spectrum_weight():
    gan = FeatureMatchingGAN(ConstantGenerator(), two_scale_discriminator("lsgan"), l1_scale=2, spectrum_weight=0.5,
                             fm_scale=8)
    assert gan.get_config()["l1_scale"] == 2 and gan.get_config()["spectrum_weight"] == 0.5
    assert gan.get_config()["fm_scale"] == 8 and FeatureMatchingGAN(ConstantGenerator(), two_scale_discriminator(
        "lsgan")).fm_scale == 1  # pix2pixHD's cell-by-cell match unless asked
    for bad in (0, 2.5):
        with pytest.raises(ValueError, match="fm_scale"):
            FeatureMatchingGAN(ConstantGenerator(), two_scale_discriminator("lsgan"), fm_scale=bad)
    assert "g_spec" in gan.loss_names
    for bad in (0, 1.5):
        with pytest.raises(ValueError, match="l1_scale"):
            FeatureMatchingGAN(ConstantGenerator(), two_scale_discriminator("lsgan"), l1_scale=bad)
    with pytest.raises(ValueError, match="spectrum_weight"):
        FeatureMatchingGAN(ConstantGenerator(), two_scale_discriminator("lsgan"), spectrum_weight=-1)
