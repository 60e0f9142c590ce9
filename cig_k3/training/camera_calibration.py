"""Before training: the camera's read and shot noise, measured on the train split.

A generator that ends with camera noise (`CameraNoise`, `generator_args.camera_noise`) can
learn the noise's size, but the game sets it badly both ways. With noise added to the
targets by augmentation it learned their level, twice the real grain; on targets as
recorded it switched the noise off within 600 steps and drew the grain through its
convolutions instead (benchmarks/RESULTS.md, issue 14). The read noise is a property of the
camera that the data shows directly: far from every object, a fluorescence image holds only
the camera's noise on a nearly flat background. `camera_noise: "calibrated"` measures it
there, before training, and keeps it fixed; `cig train` writes the figure into the run's
config (`generator_args.camera_read`), so it is logged and reused on resume.

The measure is the standard deviation of the differences between neighbouring pixels
(horizontal and vertical) over pairs that lie farther than a margin from every labelled
pixel, divided by sqrt(2): white noise of deviation s gives differences of deviation
s sqrt(2), while the background's slow shading hardly changes from one pixel to the next. The
median over fields is kept, so a field with debris or a bright speck does not set it. The
margin is 10 px (past a nucleus's blur and glow) where the fields leave that much
background, else the widest of 5 and 2 px that does (dense or small fields).
Written here rather than taken from `skimage.restoration.estimate_sigma`, whose wavelet
estimate takes the whole image: the nuclei's texture would count as noise.

The shot noise is measured inside the objects, where the photon count is high: its variance
grows with the level, sigma^2 = read^2 + shot^2 (y + 1) / 2 (`CameraNoise`'s model). The
per-pixel noise is the image filtered with Immerkaer's 3 x 3 second-difference mask / 6,
which gives white noise's own deviation and cancels the slow shading across a nucleus; its
robust deviation (1.4826 x the median absolute deviation) is taken in ten bins of the 3 x 3
local level over the interior (over 3 px inside every object, off its edge), and shot^2 is
the least-squares slope of the variance on (y + 1) / 2 through the background's point (its
median level, its measured noise). The background carries some shot noise of its own, so
the read noise is then what is left of the background's noise once the model's shot noise
at that level is taken off: without this the background's grain came out 0.0086 against
0.0077 real. Pixels next to a clipped one are left out (the data's normalisation saturates
the brightest nuclei, which takes their noise away: the synthetic set's photon noise came
out 11 % low with them, 3 % with them left out). On BBBC039 the ten bins each give 0.032
to 0.036 (the Poisson-Gaussian signature: variance linear in the level); read 0.0054, shot
0.0364. A generator trained with the shot noise learned drew 0.011 inside the nuclei
against 0.025 real, its shot noise switched off by the game (benchmarks/RESULTS.md, issue 14). Fields whose objects leave no interior leave the shot
noise learned. No library fits this curve over masked pixels; scikit-image's
`estimate_sigma` assumes one level for the whole image.

The background also holds small bright specks (debris), which a generator trained by the
game draws ten times too rarely (`Specks`, `generator_args.specks`). `measure_specks` finds
them on the far background as `cig evaluate` counts them (`cell_features.speck_peaks`: local
maxima of the high-pass image above 5 robust deviations of the grain) and keeps their density
per background pixel and their peak brightnesses (16 quantiles). On BBBC039 train: 3071 specks
on 64 fields' far background, 2.6e-4 a pixel, median peak 0.054.
"""

import logging

import numpy as np

log = logging.getLogger(__name__)

MARGINS = (10, 5, 2)  # px from the nearest labelled pixel, widest first: past the nuclei's blur and glow
MIN_PAIRS = 200  # neighbour pairs a field needs to count
INTERIOR = 3  # px inside an object (its edge's gradient is not noise) where the shot noise is measured
MIN_INTERIOR = 2000  # interior pixels, over all fields, that the shot fit needs
LEVEL_BINS = 10
SPECK_QUANTILES = 16  # peak brightnesses kept, as quantiles
MIN_SPECK_AREA = 10_000  # far-background pixels, over all fields, that the speck density needs
SECOND_DIFFERENCE = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float64) / 6.0  # white noise keeps its deviation


def background_read_noise(image, foreground, margin=MARGINS[0]):
    """Read-noise standard deviation of one field: neighbour differences over the far
    background, / sqrt(2). None when the field has fewer than MIN_PAIRS such pairs.

    Args:
        image: (H, W) or (H, W, C) float image, in the model's [-1, 1] range.
        foreground: (H, W) bool, the labelled pixels.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> image = -0.9 + 0.01 * rng.standard_normal((128, 128))
        >>> round(background_read_noise(image, np.zeros((128, 128), bool)), 3)
        0.01
    """
    from scipy.ndimage import distance_transform_edt

    return _read_noise(image, distance_transform_edt(~np.asarray(foreground, bool)) > margin)


def _read_noise(image, far):
    """`background_read_noise` over the pixel pairs that both lie where `far` (H, W) holds."""
    image = np.asarray(image, np.float64)
    image = image[..., None] if image.ndim == 2 else image
    differences = []
    for axis in (0, 1):
        later = (slice(None), slice(1, None)) if axis else (slice(1, None),)
        earlier = (slice(None), slice(None, -1)) if axis else (slice(None, -1),)
        both = far[later] & far[earlier]
        differences.append((image[later] - image[earlier])[both].ravel())
    differences = np.concatenate(differences)
    if differences.size < MIN_PAIRS * image.shape[-1]:
        return None
    return float(differences.std() / np.sqrt(2))


def _foreground(condition):
    """Labelled pixels of a mask -> image condition (H, W, C): not class 0 of a one-hot label,
    or above the background's -1 of a single scaled channel ("raw" encoding)."""
    condition = np.asarray(condition)
    if condition.shape[-1] > 1:
        return condition[..., 0] < 0.5
    return condition[..., 0] > -1.0 + 1e-6


def _fields(shards, split, max_fields):
    """Up to `max_fields` whole (condition, target) fields of mask -> image `shards`, file order,
    no augmentation; a one-line ValueError for other shards."""
    from cig_k3.data import BatchStream

    stream = BatchStream(shards, split=split, batch_size=1, crop=None, augment=None, training=False)
    if stream.task != "mask2image":
        raise ValueError(f"{shards}: camera_noise 'calibrated' measures the camera's noise on "
                         f"mask -> image shards, and these are {stream.task}; use camera_noise: true (learned)")
    for seen, (condition, target) in enumerate(stream.epoch(0)):
        if seen >= max_fields:
            break
        yield condition[0], target[0]


def interior_noise(image, inside):
    """(level, noise) of the pixels where `inside` (H, W) holds: the 3 x 3 local mean and the
    second-difference residual (white noise's deviation), channels pooled. Pixels with a
    clipped neighbour (at -1 or 1, where the data's normalisation saturates) are left out:
    clipping takes noise away."""
    from scipy.ndimage import convolve, maximum_filter, uniform_filter

    image = np.asarray(image, np.float64)
    image = image[..., None] if image.ndim == 2 else image
    levels, noise = [], []
    for channel in np.moveaxis(image, -1, 0):
        keep = inside & (maximum_filter(np.abs(channel), 3, mode="reflect") < 1.0 - 1e-6)
        levels.append(uniform_filter(channel, 3, mode="reflect")[keep])
        noise.append(convolve(channel, SECOND_DIFFERENCE, mode="reflect")[keep])
    return np.concatenate(levels), np.concatenate(noise)


def fit_shot_noise(levels, noise, background_noise, background_level=-1.0):
    """The shot-noise deviation at full brightness from interior (level, noise) samples:
    robust variance in `LEVEL_BINS` quantile bins of the level, then the least-squares slope
    of the variance on (level + 1) / 2 through the background's own point
    (`background_level`, `background_noise`^2), so that the model meets the background's
    measured noise where the background is.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> level = rng.uniform(-0.5, 0.8, 100_000)
        >>> noise = np.sqrt(0.01**2 + 0.04**2 * (level + 1) / 2) * rng.standard_normal(level.size)
        >>> round(fit_shot_noise(level, noise, 0.01), 3)
        0.04
    """
    edges = np.quantile(levels, np.linspace(0, 1, LEVEL_BINS + 1))
    bins = np.clip(np.searchsorted(edges, levels, side="right") - 1, 0, LEVEL_BINS - 1)
    photons, excess = [], []
    for index in range(LEVEL_BINS):
        values = noise[bins == index]
        if values.size < 10:
            continue
        deviation = 1.4826 * np.median(np.abs(values - np.median(values)))
        photons.append((np.mean(levels[bins == index]) - background_level) / 2.0)
        excess.append(deviation**2 - background_noise**2)
    photons, excess = np.array(photons), np.array(excess)
    return float(np.sqrt(max(np.sum(photons * excess) / np.sum(photons * photons), 0.0)))


def measure_camera_noise(shards, split="train", max_fields=64):
    """(read, shot) of `shards`' `split` in the model's range, as `CameraNoise` takes them:
    the background's noise (`measure_read_noise`), the shot noise fitted over the objects'
    interiors of up to `max_fields` fields (`fit_shot_noise`), and the read noise then set so
    that read^2 + shot^2 (y + 1) / 2 gives the background's noise at the background's median
    level y (the shot noise would otherwise count twice there). shot is None when the fields
    hold fewer than `MIN_INTERIOR` interior pixels (small or thin objects): it is then left
    to training, and read is the background's noise.

    Example:
        >>> measure_camera_noise("data/bbbc039")
        (0.0054, 0.0364)
    """
    from scipy.ndimage import distance_transform_edt

    reads = {margin: [] for margin in MARGINS}
    levels, noise, floors, seen = [], [], [], 0
    for condition, target in _fields(shards, split, max_fields):  # one pass: read and shot
        seen += 1
        foreground = _foreground(condition)
        outside = distance_transform_edt(~foreground)
        _add_read_levels(reads, target, outside)
        level, residual = interior_noise(target, distance_transform_edt(foreground) > INTERIOR)
        levels.append(level)
        noise.append(residual)
        if (outside > INTERIOR).any():
            floors.append(float(np.median(np.asarray(target)[outside > INTERIOR])))
    background = _median_read(reads, seen, shards, split)
    levels, noise = np.concatenate(levels), np.concatenate(noise)
    if levels.size < MIN_INTERIOR or not floors:
        log.info("camera shot noise left to training: %d %s fields of %s hold %d pixels over %d px inside an "
                 "object, under %d", seen, split, shards, levels.size, INTERIOR, MIN_INTERIOR)
        return background, None
    floor = float(np.median(floors))
    shot = fit_shot_noise(levels, noise, background, floor)
    read = float(np.sqrt(max(background**2 - shot**2 * (floor + 1.0) / 2.0, 0.0)))
    log.info("camera shot noise %.5f: %d pixels over %d px inside the objects of %d %s fields of %s; read noise "
             "%.5f (%.5f on the background at level %.3f, less its shot noise)",
             shot, levels.size, INTERIOR, seen, split, shards, read, background, floor)
    return read, shot


def measure_read_noise(shards, split="train", max_fields=64):
    """The read-noise standard deviation of `shards`' `split`, in the model's [-1, 1] range:
    the median of `background_read_noise` over up to `max_fields` whole fields (file order,
    no augmentation), at the widest of `MARGINS` that some field has the background for.

    Raises ValueError (one line, naming the shards) for virtual-staining shards, which have
    no mask to find the background by, and when no field has enough background.

    Example:
        >>> measure_read_noise("data/bbbc039")
        0.0076
    """
    from scipy.ndimage import distance_transform_edt

    levels, seen = {margin: [] for margin in MARGINS}, 0
    for condition, target in _fields(shards, split, max_fields):
        seen += 1
        _add_read_levels(levels, target, distance_transform_edt(~_foreground(condition)))
    return _median_read(levels, seen, shards, split)


def _add_read_levels(levels, target, outside):
    """Append one field's `_read_noise` at every margin to `levels` {margin: [...]}, from its
    distance to the nearest labelled pixel (`outside`): one transform for every margin."""
    for margin in MARGINS:
        level = _read_noise(target, outside > margin)
        if level is not None:
            levels[margin].append(level)


def _median_read(levels, seen, shards, split):
    """The median read noise at the widest margin that some field had; the one-line error if none."""
    margin = next((margin for margin in MARGINS if levels[margin]), None)
    if margin is None:
        raise ValueError(f"{shards}: no {split} field has {MIN_PAIRS} neighbour pairs {MARGINS[-1]} px or more "
                         "from every labelled pixel, so camera_noise 'calibrated' cannot measure the read noise; "
                         "give generator_args.camera_read, or use camera_noise: true (learned)")
    read = float(np.median(levels[margin]))
    log.info("camera read noise %.5f: median over %d of %d %s fields of %s (background over %d px from any object)",
             read, len(levels[margin]), seen, split, shards, margin)
    return read


def field_specks(image, outside, margin):
    """(peaks, area) of one field: the peak brightnesses of its specks more than `margin` px from
    every labelled pixel (`outside`: the distance to the nearest), channels pooled
    (`cell_features.speck_peaks`, which `cig evaluate` counts too), and the number of such
    pixels times the channels.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> image = -0.9 + 0.005 * rng.standard_normal((128, 128))
        >>> image[40, 50] += 0.1  # one speck of a single pixel
        >>> peaks, area = field_specks(image, np.full((128, 128), 99.0), 10)
        >>> len(peaks), area
        (1, 16384)
    """
    from cig_k3.evaluation.cell_features import speck_peaks

    image = np.asarray(image, np.float64)
    image = image[..., None] if image.ndim == 2 else image
    far = outside > margin
    if not far.any():
        return np.zeros(0), 0
    peaks = [speck_peaks(channel, far) for channel in np.moveaxis(image, -1, 0)]
    return np.concatenate(peaks), int(far.sum()) * image.shape[-1]


def measure_specks(shards, split="train", max_fields=64):
    """(density, amplitudes) of the specks on `shards`' `split`, as `Specks` takes them: specks
    per far-background pixel and `SPECK_QUANTILES` quantiles of their peak brightness, over up
    to `max_fields` fields, at the widest of `MARGINS` whose background holds `MIN_SPECK_AREA`
    pixels; (0.0, [0.0]) (no specks) when none does or none is found.

    Example:
        >>> round(measure_specks("data/bbbc039")[0], 7)
        0.0002636
    """
    from scipy.ndimage import distance_transform_edt

    found = {margin: ([], 0) for margin in MARGINS}
    for condition, target in _fields(shards, split, max_fields):
        outside = distance_transform_edt(~_foreground(condition))
        for margin in MARGINS:
            peaks, area = field_specks(target, outside, margin)
            found[margin] = (found[margin][0] + [peaks], found[margin][1] + area)
    margin = next((margin for margin in MARGINS if found[margin][1] >= MIN_SPECK_AREA), None)
    peaks = np.concatenate(found[margin][0]) if margin is not None else np.zeros(0)
    if not peaks.size:
        log.info("no specks: %s fields of %s hold %s", split, shards,
                 "none" if margin is None else f"none over {margin} px from every object")
        return 0.0, [0.0]
    density = peaks.size / found[margin][1]
    amplitudes = np.quantile(peaks, (np.arange(SPECK_QUANTILES) + 0.5) / SPECK_QUANTILES)
    log.info("specks: %d over %d background px (over %d px from any object) of %s fields of %s: density %.2e, "
             "median peak %.4f", peaks.size, found[margin][1], margin, split, shards, density, np.median(peaks))
    return float(density), [float(value) for value in amplitudes]


def calibrate_camera_noise(config):
    """Fill `config.model.generator_args` from the data: "camera_read" and "camera_shot" when the
    generator's camera noise is "calibrated" and no read level is given yet (a run calibrated
    before the shot noise was measured keeps its shot noise learned on resume), and
    "speck_density" and "speck_amplitudes" when its specks are "calibrated" and not given yet.
    Returns (read, shot), or None when the camera noise is not calibrated."""
    arguments = config.model.generator_args
    if arguments.get("specks") == "calibrated" and arguments.get("speck_density") is None:
        density, amplitudes = measure_specks(config.data.shards)
        arguments["speck_density"] = float(f"{density:.4g}")
        arguments["speck_amplitudes"] = [round(value, 5) for value in amplitudes]
    if arguments.get("camera_noise") != "calibrated":
        return None
    if arguments.get("camera_read") is None:
        if arguments.get("camera_shot") is None:
            read, shot = measure_camera_noise(config.data.shards)
            arguments["camera_shot"] = None if shot is None else round(shot, 6)
        else:
            read = measure_read_noise(config.data.shards)
        arguments["camera_read"] = round(read, 6)
    return arguments["camera_read"], arguments.get("camera_shot")
