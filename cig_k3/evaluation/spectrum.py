"""Power spectra of image sets: blur, and checkerboards from strided upsampling (NumPy).

- `radial_power_spectrum(images)`: the radially averaged log10 power spectrum. Blur shows as
  missing power at high frequencies.
- `spectral_distance(real, fake)`: one number, the mean absolute difference of the two log
  spectra over the frequencies above 0, in decades of power (1.0 = a factor of 10 on average).
- `checkerboard_peak(images)`: stride-s transposed convolutions (and nearest/bilinear
  upsampling followed by convolutions) leave a pattern of period s, which puts peaks at the
  frequencies k/s cycles/pixel along the axes and diagonals. This is the largest ratio, in dB,
  of the power at one of those points to the median power around it. Report
  `checkerboard_peak(fake)["peak"] - checkerboard_peak(real)["peak"]` as the excess: <= 0
  means no more checkerboard than the real images have.
- `plot_spectra(curves, path)`: one PNG, log power against frequency, one line per set.

Every image is mapped from [-1, 1] to [0, 1], its mean is subtracted and a 2-D Hann window is
applied before the FFT, so that the jump between opposite edges of the periodic FFT does not
smear power over all frequencies. Power is |FFT|^2 divided by the window's energy.

Images: (H, W), (H, W, 1), (N, H, W), (N, H, W, C) (channel 0), or a list of (H, W) images; every image
of one call must have the same size.

Reference:
    Odena, Dumoulin, Olah (2016). Deconvolution and checkerboard artifacts. Distill.
    Durall, Keuper, Keuper (2020). Watch your up-convolution: CNN based generative deep neural
    networks are failing to reproduce spectral distributions. CVPR.
"""

import logging
from fractions import Fraction

import numpy as np

log = logging.getLogger(__name__)

_TINY = 1e-20  # power floor before log10: a constant image has zero power everywhere
_CHUNK = 64  # images per FFT batch, to bound memory on large sets


def _as_batch(images):
    """-> (N, H, W) float64 in [0, 1]."""
    if isinstance(images, (list, tuple)):
        images = [np.asarray(image, dtype=np.float64) for image in images]
        images = [image[..., 0] if image.ndim == 3 else image for image in images]
        shapes = {image.shape for image in images}
        if len(shapes) != 1:
            raise ValueError(f"spectrum: every image of one set must have the same size; got {sorted(shapes)}")
        images = np.stack(images)
    images = np.asarray(images, dtype=np.float64)
    if images.ndim == 2 or (images.ndim == 3 and images.shape[-1] == 1):
        images = images[None]  # one (H, W) or (H, W, 1) image
    if images.ndim == 4:
        images = images[..., 0]
    if images.ndim != 3 or min(images.shape[1:]) < 8:
        raise ValueError(f"spectrum: images must be (H, W), (N, H, W) or (N, H, W, C) with H, W >= 8; "
                         f"got {images.shape}")
    return np.clip((images + 1.0) / 2.0, 0.0, 1.0)


def _power_spectra(images):
    """Yield (n, H, W) windowed power spectra (unshifted), chunk by chunk."""
    height, width = images.shape[1:]
    window = np.outer(np.hanning(height), np.hanning(width))
    energy = (window**2).sum()
    for start in range(0, len(images), _CHUNK):
        chunk = images[start:start + _CHUNK]
        chunk = (chunk - chunk.mean(axis=(1, 2), keepdims=True)) * window
        yield np.abs(np.fft.fft2(chunk)) ** 2 / energy


def mean_power_spectrum(images):
    """The 2-D power spectrum averaged over images, (H, W), unshifted (index 0 = frequency 0)."""
    images = _as_batch(images)
    total = sum(power.sum(axis=0) for power in _power_spectra(images))
    return total / len(images)


def radial_power_spectrum(images):
    """Radially averaged log10 power spectrum of an image set.

    Frequencies are binned by their radius in units of 1 / min(H, W) cycles/pixel (integer
    radius for a square image), up to 0.5 (Nyquist along the shorter side). Per image the
    power is averaged in each bin and the log10 taken; the log spectra are then averaged
    over images.

    Returns:
        (frequencies, log_power): two (B,) float64 arrays; frequencies in cycles/pixel, from 0.

    Example:
        frequencies, real_curve = radial_power_spectrum(real_images)
    """
    images = _as_batch(images)
    height, width = images.shape[1:]
    side = min(height, width)
    radius = np.hypot(*np.meshgrid(np.fft.fftfreq(height), np.fft.fftfreq(width), indexing="ij"))
    bins = np.rint(radius * side).astype(np.int64).ravel()
    count = side // 2 + 1
    keep = bins < count  # the corners beyond Nyquist of the shorter side
    members = np.bincount(bins[keep], minlength=count)
    total = np.zeros(count)
    for power in _power_spectra(images):
        for item in power.reshape(len(power), -1):
            mean = np.bincount(bins[keep], weights=item[keep], minlength=count) / np.maximum(members, 1)
            total += np.log10(mean + _TINY)
    return np.arange(count) / side, total / len(images)


def curve_distance(real_curve, fake_curve):
    """Mean |log10 power difference| over frequencies > 0 of two `radial_power_spectrum` results."""
    (real_frequencies, real_power), (fake_frequencies, fake_power) = real_curve, fake_curve
    if real_frequencies.shape != fake_frequencies.shape or not np.allclose(real_frequencies, fake_frequencies):
        raise ValueError("spectrum: the two spectra have different frequency bins: "
                         "real and generated images must have the same size")
    above_zero = real_frequencies > 0
    return float(np.mean(np.abs(fake_power[above_zero] - real_power[above_zero])))


def spectral_distance(real, fake):
    """Mean absolute difference of the real and generated log10 radial spectra, frequency > 0.

    In decades of power: 0 for the same spectrum, 0.3 for a factor 2 everywhere. The DC bin
    is left out because the mean is subtracted before the FFT.

    Example:
        spectral_distance(real_images, fake_images)
    """
    return curve_distance(radial_power_spectrum(real), radial_power_spectrum(fake))


def checkerboard_points(factors=(2, 4, 8)):
    """The frequencies (fy, fx), cycles/pixel, where period-s patterns put their peaks.

    All (a/s, b/s) with 0 <= a <= s/2 and -s/2 < b <= s/2, except (0, 0); (0, -b) is the
    mirror of (0, b) and is left out (the power spectrum of a real image is symmetric).
    """
    points = set()
    for factor in factors:
        if factor < 2:
            raise ValueError(f"spectrum: checkerboard factors must be >= 2; got {factor}")
        for a in range(factor // 2 + 1):
            for b in range(-((factor - 1) // 2), factor // 2 + 1):
                if (a, b) != (0, 0) and not (a == 0 and b < 0):
                    points.add((Fraction(a, factor), Fraction(b, factor)))
    return sorted(points)


def checkerboard_peak(images, factors=(2, 4, 8), inner=2, outer=5):
    """The strongest periodic-pattern peak of an image set, in dB above its surroundings.

    From the mean 2-D power spectrum: at each point of `checkerboard_points(factors)`, the
    mean power of the 3x3 bins around it (the Hann window spreads a pure tone over them)
    divided by the median power of the ring of bins at Chebyshev distance `inner` to `outer`
    (indices wrap, as the spectrum is periodic). The result is 10 log10 of the largest ratio.
    Noise alone gives a few dB; a checkerboard gives tens.

    Returns:
        {"peak": float dB, "at": (fy, fx) in cycles/pixel, "unit": "dB"}

    Example:
        excess = checkerboard_peak(fake)["peak"] - checkerboard_peak(real)["peak"]
    """
    power = mean_power_spectrum(images)
    height, width = power.shape
    offsets = np.arange(-outer, outer + 1)
    ring = np.maximum(np.abs(offsets)[:, None], np.abs(offsets)[None, :])
    centre, around = ring <= 1, (ring >= inner) & (ring <= outer)
    best = {"peak": float("-inf"), "at": (0.0, 0.0), "unit": "dB"}
    for frequency_y, frequency_x in checkerboard_points(factors):
        row, column = round(float(frequency_y) * height), round(float(frequency_x) * width)
        window = power[np.ix_((row + offsets) % height, (column + offsets) % width)]
        background = np.median(window[around])
        ratio = 10.0 * np.log10((window[centre].mean() + _TINY) / (background + _TINY))
        if ratio > best["peak"]:
            best = {"peak": float(ratio), "at": (float(frequency_y), float(frequency_x)), "unit": "dB"}
    return best


def plot_spectra(curves, path, title="radially averaged power spectrum"):
    """Plot log10 power against frequency, one line per named curve; write a PNG.

    Args:
        curves: {name: (frequencies, log_power)} from `radial_power_spectrum`.
        path: the PNG file to write.

    Returns:
        path.

    Example:
        plot_spectra({"real": radial_power_spectrum(real), "generated": radial_power_spectrum(fake)},
                     "spectra.png")
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axis = pyplot.subplots(figsize=(5, 3.5))
    for name, (frequencies, log_power) in curves.items():
        frequencies, log_power = np.asarray(frequencies), np.asarray(log_power)
        above_zero = frequencies > 0
        axis.plot(frequencies[above_zero], log_power[above_zero], label=str(name), linewidth=1.2)
    axis.set_xlabel("frequency (cycles/pixel)")
    axis.set_ylabel("log10 power")
    axis.set_title(title, fontsize=9)
    axis.legend(fontsize=7)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return path
