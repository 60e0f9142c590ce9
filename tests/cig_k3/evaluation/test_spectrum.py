from fractions import Fraction

import numpy as np
import pytest
from scipy import ndimage

from cig_k3.evaluation import spectrum

pytestmark = pytest.mark.backend_independent

SIZE = 64


def scenes(rng, count=4, size=SIZE):
    """Smooth random blobs plus fine noise, in [-1, 1]: power at every frequency."""
    smooth = ndimage.gaussian_filter(rng.normal(0, 1, (count, size, size)), (0, 2, 2)) * 0.6
    return np.clip(smooth + rng.normal(0, 0.03, smooth.shape), -1, 1)


def test_radial_spectrum_of_white_noise_is_flat_and_bins_are_in_cycles_per_pixel(rng):
    frequencies, log_power = spectrum.radial_power_spectrum(rng.normal(0, 0.2, (4, SIZE, SIZE)))
    assert frequencies.shape == log_power.shape == (SIZE // 2 + 1,)
    assert frequencies[0] == 0 and frequencies[-1] == pytest.approx(0.5)
    # White noise of std 0.1 in [0, 1] units has power 0.01 at every frequency (the low bins
    # hold few FFT points, so their log scatters more).
    np.testing.assert_allclose(log_power[4:], np.log10(0.01), atol=0.15)
    assert np.mean(log_power[1:]) == pytest.approx(np.log10(0.01), abs=0.08)


def test_hann_window_keeps_edge_jumps_out_of_high_frequencies(rng):
    """A ramp is smooth, but the periodic FFT sees a jump between its left and right edges."""
    ramp = np.linspace(-0.8, 0.8, SIZE)[None, :] + rng.normal(0, 0.01, (SIZE, SIZE))
    frequencies, log_power = spectrum.radial_power_spectrum(ramp)
    noise_floor = np.log10(0.005**2)  # the noise's std is 0.005 in [0, 1] units
    np.testing.assert_allclose(log_power[frequencies >= 0.125], noise_floor, atol=0.3)
    assert spectrum.checkerboard_peak(ramp)["peak"] < 8.0


def test_a_sine_puts_its_power_in_its_radial_bin():
    rows = np.arange(SIZE)[:, None] * np.ones((1, SIZE))
    frequencies, log_power = spectrum.radial_power_spectrum(0.5 * np.sin(2 * np.pi * rows * 8 / SIZE))
    assert frequencies[np.argmax(log_power)] == pytest.approx(8 / SIZE)


def test_blur_removes_high_frequencies_and_distance_grows_with_sigma(rng):
    real = scenes(rng)
    frequencies, real_curve = spectrum.radial_power_spectrum(real)
    distances = []
    for sigma in (0.5, 1.0, 2.0, 4.0):
        blurred = ndimage.gaussian_filter(real, (0, sigma, sigma))
        _, blurred_curve = spectrum.radial_power_spectrum(blurred)
        high = frequencies > 0.25
        assert np.all(blurred_curve[high] < real_curve[high] - 0.1), sigma
        distances.append(spectrum.spectral_distance(real, blurred))
    assert distances == sorted(distances) and distances[0] > 0.05
    assert spectrum.spectral_distance(real, real) == pytest.approx(0.0, abs=1e-12)
    assert spectrum.spectral_distance(real, scenes(rng)) < distances[0]


def test_spectral_distance_rejects_images_of_different_sizes(rng):
    with pytest.raises(ValueError, match="same size"):
        spectrum.spectral_distance(scenes(rng, 2, 64), scenes(rng, 2, 32))
    with pytest.raises(ValueError, match="same size"):
        spectrum.radial_power_spectrum([np.zeros((32, 32)), np.zeros((32, 40))])


def test_checkerboard_points_cover_the_upsampling_frequencies():
    points = spectrum.checkerboard_points((2, 4))
    for point in ((0, Fraction(1, 2)), (Fraction(1, 2), 0), (Fraction(1, 2), Fraction(1, 2)),
                  (Fraction(1, 4), 0), (Fraction(1, 4), Fraction(-1, 4))):
        assert point in points
    assert (0, 0) not in points and (0, Fraction(-1, 4)) not in points


def test_a_checkerboard_gives_a_clearly_higher_peak_than_clean_images(rng):
    clean = scenes(rng)
    rows, columns = np.mgrid[:SIZE, :SIZE]
    checker = clean + 0.02 * (-1.0) ** (rows + columns)  # alternating +-a every pixel
    clean_peak = spectrum.checkerboard_peak(clean)
    checker_peak = spectrum.checkerboard_peak(checker)
    assert clean_peak["peak"] < 8.0  # noise alone: a few dB
    assert checker_peak["peak"] - clean_peak["peak"] > 10.0
    assert checker_peak["at"] == (0.5, 0.5)
    assert checker_peak["unit"] == "dB"


def test_period_two_pattern_on_upsampled_images_is_found(rng):
    """A stride-2 transposed convolution's mark: a fixed 2x2 pattern tiled over the image."""
    upsampled = np.repeat(np.repeat(scenes(rng, 4, SIZE // 2), 2, axis=1), 2, axis=2)
    tile = np.tile(np.array([[0.03, -0.01], [-0.01, -0.01]]), (SIZE // 2, SIZE // 2))
    plain, marked = spectrum.checkerboard_peak(upsampled), spectrum.checkerboard_peak(upsampled + tile)
    assert marked["peak"] - plain["peak"] > 10.0
    assert marked["at"] in ((0.0, 0.5), (0.5, 0.0), (0.5, 0.5))
    period_four = scenes(rng) + 0.03 * np.cos(2 * np.pi * np.arange(SIZE) / 4)[None, :, None]
    assert spectrum.checkerboard_peak(period_four)["at"] == (0.25, 0.0)


def test_accepts_nhwc_batches_and_single_images(rng):
    images = scenes(rng, 2)
    np.testing.assert_allclose(spectrum.radial_power_spectrum(images[..., None])[1],
                               spectrum.radial_power_spectrum(list(images))[1])
    np.testing.assert_allclose(spectrum.radial_power_spectrum(images[0])[1],
                               spectrum.radial_power_spectrum(images[0][..., None])[1])


def test_plot_spectra_writes_a_png(rng, tmp_path):
    curves = {"real": spectrum.radial_power_spectrum(scenes(rng)),
              "blurred": spectrum.radial_power_spectrum(ndimage.gaussian_filter(scenes(rng), (0, 2, 2)))}
    path = spectrum.plot_spectra(curves, str(tmp_path / "spectra.png"))
    assert path == str(tmp_path / "spectra.png")
    with open(path, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
