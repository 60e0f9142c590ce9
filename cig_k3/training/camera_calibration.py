"""Before training: the camera's read noise, measured on the train split's background.

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
"""

import logging

import numpy as np

log = logging.getLogger(__name__)

MARGINS = (10, 5, 2)  # px from the nearest labelled pixel, widest first: past the nuclei's blur and glow
MIN_PAIRS = 200  # neighbour pairs a field needs to count


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

    from cig_k3.data import BatchStream

    stream = BatchStream(shards, split=split, batch_size=1, crop=None, augment=None, training=False)
    if stream.task != "mask2image":
        raise ValueError(f"{shards}: camera_noise 'calibrated' measures the read noise on the background of "
                         f"mask -> image shards, and these are {stream.task}; use camera_noise: true (learned)")
    levels, seen = {margin: [] for margin in MARGINS}, 0
    for condition, target in stream.epoch(0):
        if seen >= max_fields:
            break
        seen += 1
        distance = distance_transform_edt(~_foreground(condition[0]))  # one transform for every margin
        for margin in MARGINS:
            level = _read_noise(target[0], distance > margin)
            if level is not None:
                levels[margin].append(level)
    margin = next((margin for margin in MARGINS if levels[margin]), None)
    if margin is None:
        raise ValueError(f"{shards}: no {split} field has {MIN_PAIRS} neighbour pairs {MARGINS[-1]} px or more "
                         "from every labelled pixel, so camera_noise 'calibrated' cannot measure the read noise; "
                         "give generator_args.camera_read, or use camera_noise: true (learned)")
    read = float(np.median(levels[margin]))
    log.info("camera read noise %.5f: median over %d of %d %s fields of %s (background over %d px from any object)",
             read, len(levels[margin]), seen, split, shards, margin)
    return read


def calibrate_camera_noise(config):
    """Fill `config.model.generator_args["camera_read"]` from the data when the generator's
    camera noise is "calibrated" and no level is given yet; returns the level, or None when
    there is nothing to calibrate."""
    arguments = config.model.generator_args
    if arguments.get("camera_noise") != "calibrated":
        return None
    if arguments.get("camera_read") is None:
        arguments["camera_read"] = round(measure_read_noise(config.data.shards), 6)
    return arguments["camera_read"]
