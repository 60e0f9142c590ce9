"""low_pass_l1: the plain L1 at scale 1; blind to texture inside the blocks, not to brightness.
spectrum_l1: blind to where texture lies, not to a checkerboard or to grain painted flat.
interior_spectrum_l1: the same for the texture inside a mask, blind to everything outside it,
to the objects' brightness and to their outlines.
rim_l1: a block L1 at the objects' rims alone, blind to their insides and the far background."""

import keras
import numpy as np
import pytest

from cig_k3.losses.reconstruction import interior_spectrum_l1, interior_texture, low_pass_l1, rim_band, rim_l1, spectrum_l1
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


def rim(target, fake, mask, scale=4, width=3):
    return float(keras.ops.convert_to_numpy(rim_l1(*map(keras.ops.convert_to_tensor, (target, fake, mask)), scale,
                                                   width)))


def test_rim_band_runs_from_the_outermost_pixel_to_width_beyond():
    mask = np.zeros((1, 32, 32, 1), "float32")
    mask[:, 10:20, 10:20] = 1
    band = keras.ops.convert_to_numpy(rim_band(keras.ops.convert_to_tensor(mask), 3))[0, :, :, 0]
    row = band[15]
    assert set(np.unique(band)) == {0.0, 1.0}
    assert list(np.flatnonzero(row)) == [7, 8, 9, 10, 19, 20, 21, 22]  # 3 px out, the edge pixel in
    assert band[12:18, 12:18].sum() == 0 and band[:6].sum() == 0


def test_rim_l1_sees_the_edges_not_the_insides_nor_the_far_background():
    rng = np.random.default_rng(1)
    mask = np.zeros((2, 32, 32, 1), "float32")
    mask[:, 8:24, 8:24] = 1  # rim blocks: those touching rows/columns 5-8 and 23-26
    target = rng.uniform(-1, 1, mask.shape).astype("float32")
    inside, far, edge = (np.zeros(mask.shape, "float32") for _ in range(3))
    inside[:, 12:20, 12:20] = 0.5  # the 4x4 blocks wholly inside, clear of the rim
    far[:, :4, :4] = 0.5  # a corner block, 4 px and more from the object
    edge[:, 4:8, 8:24] = 0.5  # four blocks just above the object, within its rim
    assert rim(target, target + inside, mask) == pytest.approx(0.0, abs=1e-6)
    assert rim(target, target + far, mask) == pytest.approx(0.0, abs=1e-6)
    assert rim(target, target + edge, mask) == pytest.approx(0.5 * 4 / 64, rel=1e-5)  # over all 64 blocks
    assert rim(target, target + inside + far + edge, mask) == pytest.approx(value(target, target + edge, 4), rel=1e-5)
    assert rim(target, target + 0.25, np.zeros_like(mask)) == pytest.approx(0.0, abs=1e-6)  # no objects, no rims


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
    assert "g_cspec" in gan.loss_names and gan.cell_spectrum_weight == 0  # logged only unless asked
    assert FeatureMatchingGAN(ConstantGenerator(), two_scale_discriminator("lsgan"),
                              cell_spectrum_weight=2).get_config()["cell_spectrum_weight"] == 2
    with pytest.raises(ValueError, match="cell_spectrum_weight"):
        FeatureMatchingGAN(ConstantGenerator(), two_scale_discriminator("lsgan"), cell_spectrum_weight=-1)
    assert "g_bspec" in gan.loss_names and gan.background_spectrum_weight == 0
    assert FeatureMatchingGAN(ConstantGenerator(), two_scale_discriminator("lsgan"),
                              background_spectrum_weight=2).get_config()["background_spectrum_weight"] == 2
    with pytest.raises(ValueError, match="background_spectrum_weight"):
        FeatureMatchingGAN(ConstantGenerator(), two_scale_discriminator("lsgan"), background_spectrum_weight=-1)
    assert gan.rim_l1_scale == 0 and gan.get_config()["rim_width"] == 3  # the rims as the rest unless asked
    rims = FeatureMatchingGAN(ConstantGenerator(), two_scale_discriminator("lsgan"), rim_l1_scale=4, rim_width=2)
    assert rims.get_config()["rim_l1_scale"] == 4 and rims.get_config()["rim_width"] == 2
    for name, bad in (("rim_l1_scale", 1.5), ("rim_l1_scale", -2), ("rim_width", 0)):
        with pytest.raises(ValueError, match=name):
            FeatureMatchingGAN(ConstantGenerator(), two_scale_discriminator("lsgan"), **{name: bad})


def interior(target, fake, mask):
    return float(keras.ops.convert_to_numpy(interior_spectrum_l1(*map(keras.ops.convert_to_tensor,
                                                                       (target, fake, mask)))))


def test_interior_spectrum_l1_reads_the_texture_inside_the_objects_alone():
    rng = np.random.default_rng(1)
    y, x = np.mgrid[:48, :48]
    # Two discs (nuclei) of different brightness on a dim background, grain everywhere.
    first, second = (y - 14) ** 2 + (x - 15) ** 2 < 11 ** 2, (y - 33) ** 2 + (x - 32) ** 2 < 12 ** 2
    mask = np.broadcast_to((first | second)[None, :, :, None], (4, 48, 48, 1)).astype("float32")
    smooth = (0.1 + 0.4 * first + 0.8 * second)[None, :, :, None]
    grain = rng.standard_normal((4, 48, 48, 1)).astype("float32")
    target = (smooth + 0.05 * grain).astype("float32")
    assert interior(target, target, mask) == pytest.approx(0.0, abs=1e-6)
    # The background's grain, brighter nuclei and flat edges change nothing inside the eroded
    # objects: exactly the same term.
    background_flat = np.where(mask > 0, target, 0.1).astype("float32")
    brighter = (target + 0.2 * mask).astype("float32")
    assert interior(target, background_flat, mask) == pytest.approx(0.0, abs=1e-6)
    assert interior(target, brighter, mask) == pytest.approx(0.0, abs=1e-6)
    # The nuclei's grain at half amplitude: a quarter of the power, log 4 at every frequency
    # (the box blur's residual is linear); the grain redrawn costs much less.
    weaker = (smooth + 0.05 * np.where(mask > 0, 0.5, 1.0) * grain).astype("float32")
    assert interior(target, weaker, mask) == pytest.approx(np.log(4), rel=0.02)
    redrawn = (smooth + 0.05 * rng.standard_normal((4, 48, 48, 1))).astype("float32")
    assert interior(target, redrawn, mask) < 0.5 * np.log(4)
    # The whole-crop spectrum, most of it background here, sees the weaker nuclei far less.
    assert spectrum(target, weaker) < 0.5 * interior(target, weaker, mask)
    # What is compared: the residual of a 7 x 7 box blur inside the mask eroded by 3 px, the
    # 3-px border cut off.
    texture = keras.ops.convert_to_numpy(interior_texture(keras.ops.convert_to_tensor(target),
                                                          keras.ops.convert_to_tensor(mask)))
    assert texture.shape == (4, 42, 42, 1)
    from scipy import ndimage
    eroded = ndimage.binary_erosion(mask[0, :, :, 0], np.ones((7, 7)), border_value=1)[3:-3, 3:-3]
    residual = (target[0, :, :, 0] - ndimage.uniform_filter(target[0, :, :, 0], 7))[3:-3, 3:-3]
    assert np.array_equal(texture[0, :, :, 0] != 0, eroded)
    np.testing.assert_allclose(texture[0, :, :, 0][eroded], residual[eroded], atol=1e-5)
    # Fields too small for one 4 x 4 block of interior: 0, not the mean of nothing (NaN).
    tiny = target[:, :9, :9]
    assert interior(tiny, tiny + 1.0, mask[:, :9, :9]) == 0.0



def test_the_foreground_of_one_hot_and_single_channel_labels():
    gan = FeatureMatchingGAN(ConstantGenerator(), two_scale_discriminator("lsgan"))
    ids = np.array([[0, 1], [2, 0]])
    one_hot = np.eye(3, dtype="float32")[ids][None]
    expected = (ids > 0).astype("float32")[None, :, :, None]
    for label in (one_hot, ids[None, :, :, None].astype("float32"), {"label": one_hot, "raw": one_hot[..., :1]}):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(gan.foreground(label)), expected)