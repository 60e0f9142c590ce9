"""A fast, seeded generator of fluorescence-like nuclei fields with exact instance masks.

The fields imitate Hoechst-stained nuclei as in BBBC039 (Caicedo et al., Cytometry A 2019):
a dim, uneven background around 130-160 camera counts, nuclei of a few hundred to a few
thousand counts, 12-bit range (0-4095), uint16 storage. Each nucleus is an ellipse whose
radius is perturbed by a few low-order harmonics (irregular outlines), with a smooth
chromatin texture and a slightly brighter centre. Nuclei may touch; labels never overlap
(a nucleus that would be hidden for the most part is dropped, so every label stays visible).
The image formation is: signal -> optical blur -> Poisson photon noise -> Gaussian read
noise -> offset -> clip to 12 bits.

It is the embedded data set of `make run` and of the tests, so it is written for speed:
every nucleus is drawn inside its own bounding box, and smooth random fields are upsampled
from coarse grids with OpenCV.

Example:
    >>> rng = np.random.default_rng(0)
    >>> raw, instances = make_field(rng, 256)
    >>> raw.dtype, instances.dtype, raw.shape
    (dtype('uint16'), dtype('uint16'), (256, 256))
"""

import cv2
import numpy as np

MAX_VALUE = 4095  # 12-bit camera, as BBBC039
CHANNELS = ("hoechst",)

# Nucleus size in pixels at the default scale (BBBC039 nuclei: median area ~650 px).
RADIUS_RANGE = (7.0, 16.0)
# Fraction of the field covered by nuclei, drawn per field: sparse to crowded.
COVERAGE_RANGE = (0.08, 0.3)
# A candidate nucleus is kept only if this share of its pixels is still free.
MIN_VISIBLE = 0.75


def _smooth_field(rng, shape, cell):
    """Smooth noise in about [-1, 1]: a coarse normal grid upsampled bicubically."""
    height, width = shape
    grid = rng.standard_normal((max(2, height // cell + 2), max(2, width // cell + 2)))
    return cv2.resize(grid.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)


def _nucleus_shape(rng, radius):
    """Boolean mask and normalised radial distance (0 at centre, 1 at the edge) of one nucleus."""
    aspect = rng.uniform(1.0, 1.6)
    semi_major = radius * np.sqrt(aspect)
    semi_minor = radius / np.sqrt(aspect)
    angle = rng.uniform(0.0, np.pi)
    # Irregular outline: harmonics 2..4 with small random amplitudes and phases.
    orders = np.arange(2, 5)
    amplitudes = rng.uniform(0.0, 0.08, size=orders.size) / orders * 2
    phases = rng.uniform(0.0, 2 * np.pi, size=orders.size)
    half = int(np.ceil(semi_major * (1.0 + amplitudes.sum()))) + 1
    axis = np.arange(-half, half + 1, dtype=np.float32)
    ys, xs = axis[:, None], axis[None, :]
    cos_a, sin_a = np.float32(np.cos(angle)), np.float32(np.sin(angle))
    u = xs * cos_a + ys * sin_a
    v = ys * cos_a - xs * sin_a
    # e^{i theta} without arctan2: cos(k theta + phase) = Re(z^k e^{i phase}).
    z = (u + 1j * v) / np.maximum(np.hypot(u, v), np.float32(1e-6))
    rotations = (amplitudes * np.exp(1j * phases)).astype(np.complex64)
    power = z
    perturbation = np.ones_like(u)
    for order in range(1, orders[-1] + 1):
        if order > 1:
            power = power * z
        if order >= orders[0]:
            perturbation += (power * rotations[order - orders[0]]).real
    distance = np.sqrt((u / semi_major) ** 2 + (v / semi_minor) ** 2) / perturbation
    return distance <= 1.0, distance


def make_field(rng, size=256, scale=1.0):
    """Draw one field of fluorescent nuclei.

    Args:
        rng: a `numpy.random.Generator`; the field depends on nothing else.
        size: field height and width in pixels (an int), or a (height, width) pair.
        scale: nucleus size relative to BBBC039 (1.0: radii of about 7-16 px).

    Returns:
        (raw, instances): uint16 H x W image with 12-bit values, and uint16 H x W instance
        labels (0 = background, 1..N = one nucleus each, no gaps).
    """
    height, width = (size, size) if np.isscalar(size) else (int(size[0]), int(size[1]))
    instances = np.zeros((height, width), np.uint16)
    signal = np.zeros((height, width), np.float32)
    texture = 1.0 + 0.22 * _smooth_field(rng, (height, width), cell=4)

    coverage = rng.uniform(*COVERAGE_RANGE)
    mean_area = np.pi * (np.mean(RADIUS_RANGE) * scale) ** 2
    target = int(coverage * height * width / mean_area)
    label = 0
    for _ in range(3 * target + 3):
        if label >= target:
            break
        cy, cx = int(rng.integers(0, height)), int(rng.integers(0, width))
        if instances[cy, cx]:
            continue  # the centre is taken: the nucleus would be hidden for the most part
        radius = rng.uniform(*RADIUS_RANGE) * scale
        inside, distance = _nucleus_shape(rng, radius)
        half = inside.shape[0] // 2
        # Clip the nucleus box to the field; nuclei cut by the border are kept, as in real data.
        y0, y1 = max(cy - half, 0), min(cy + half + 1, height)
        x0, x1 = max(cx - half, 0), min(cx + half + 1, width)
        box = (slice(y0 - cy + half, y1 - cy + half), slice(x0 - cx + half, x1 - cx + half))
        inside, distance = inside[box], distance[box]
        area = inside.sum()
        if area < 12:
            continue
        free = inside & (instances[y0:y1, x0:x1] == 0)
        if free.sum() < MIN_VISIBLE * area:
            continue
        label += 1
        instances[y0:y1, x0:x1][free] = label
        # Brightness varies per nucleus (cell cycle: G1 dim, G2/mitotic bright), lognormal.
        brightness = 520.0 * rng.lognormal(0.0, 0.4)
        profile = 1.0 + 0.25 * (1.0 - distance[free] ** 2)
        signal[y0:y1, x0:x1][free] = brightness * profile

    signal *= texture
    signal = cv2.GaussianBlur(signal, (0, 0), sigmaX=rng.uniform(0.8, 1.6))
    # Uneven illumination: a tilted plane plus a broad smooth bump, around 140 counts.
    ys = np.linspace(-1.0, 1.0, height, dtype=np.float32)[:, None]
    xs = np.linspace(-1.0, 1.0, width, dtype=np.float32)[None, :]
    tilt_y, tilt_x = rng.uniform(-0.08, 0.08, size=2)
    background = rng.uniform(15.0, 35.0) * (
        1.0 + tilt_y * ys + tilt_x * xs + 0.08 * _smooth_field(rng, (height, width), cell=64)
    )
    # Photon counting: the camera gain maps photons to counts; offset ~110 counts.
    gain = 2.0
    photons = rng.poisson(np.maximum(signal + background, 0.0) / gain).astype(np.float32)
    counts = photons * gain + 110.0 + rng.normal(0.0, 3.0, size=(height, width)).astype(np.float32)
    raw = np.clip(np.rint(counts), 0, MAX_VALUE).astype(np.uint16)
    return raw, instances


def field_rng(seed, index):
    """The generator for field `index` of a data set drawn with `seed`.

    Each field has its own stream, so a field does not depend on the order in which
    workers draw them, and field 7 of `count=10` equals field 7 of `count=1000`.
    """
    return np.random.default_rng([int(seed), int(index)])
