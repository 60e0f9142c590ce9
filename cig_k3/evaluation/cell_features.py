"""Cell-level features: what a biologist reads in an image, object by object (NumPy, scikit-image).

For every object of an instance mask (0 = background, 1..N objects) this measures, on the
image mapped from [-1, 1] to [0, 1]:

- intensity: mean, std, coefficient of variation (std / mean), percentiles p10, p50, p90;
- Haralick GLCM texture: contrast, homogeneity, correlation and entropy (bits). The object's
  bounding box is quantised to `levels` grey levels over the FIXED range [0, 1] (not the
  object's own min/max, so a flat object stays flat), pixels outside the object get one
  extra reserved level, and that level's row and column are dropped from the co-occurrence
  matrix, so only pairs of pixels that both lie inside the object count. Distances 1 and 2,
  angles 0, 45, 90, 135 degrees, symmetric, averaged over the pairs that exist;
- local binary patterns (P=8, R=1, 'uniform', on the image quantised to 256 levels so that
  round-off does not count as texture), over the object's interior (pixels whose 3x3
  neighbourhood lies inside it; all its pixels if none does): the entropy of the 10-bin
  histogram (bits), the fraction of uniform patterns and the fraction of 'flat' patterns
  (every neighbour >= the centre);
- boundary sharpness: the mean Sobel gradient magnitude on the object's inner rim.

The background (pixels further than `background_margin` pixels from every object, so that the
blurred halo of an object is not read as background texture) gets the same intensity, GLCM
and LBP statistics, once per image, under the key prefix `background_`, and its density of
small bright specks (debris): `speck_peaks`' local maxima per 10,000 pixels of the far
background (over `SPECK_MARGIN` px from every object, past the objects' blur and glow). GLCM
and LBP read the grain and miss them: a generator that drew a tenth of the real specks
matched every other background feature within an IQR (benchmarks/RESULTS.md, issue 14).

Objects smaller than `min_object_pixels` (16) are skipped: their percentiles and
co-occurrences rest on too few pixels to mean anything.

`compare(real_table, fake_table)` scores each feature by Wasserstein-1 / real IQR, gives a
Fréchet distance over the standardised object features and names the five features furthest
off in a sentence.

Reference:
    Haralick, Shanmugam, Dinstein (1973). Textural features for image classification.
    IEEE Trans. SMC 3(6).
    Ojala, Pietikäinen, Mäenpää (2002). Multiresolution gray-scale and rotation invariant
    texture classification with local binary patterns. IEEE TPAMI 24(7).
"""

import logging

import numpy as np

log = logging.getLogger(__name__)

INTENSITY_FEATURES = ("intensity_mean", "intensity_std", "intensity_cv", "intensity_p10",
                      "intensity_p50", "intensity_p90")
TEXTURE_FEATURES = ("glcm_contrast", "glcm_homogeneity", "glcm_correlation", "glcm_entropy",
                    "lbp_entropy", "lbp_uniform_fraction", "lbp_flat_fraction")
OBJECT_FEATURES = INTENSITY_FEATURES + TEXTURE_FEATURES + ("boundary_sharpness",)
BACKGROUND_FEATURES = tuple(f"background_{key}" for key in INTENSITY_FEATURES + TEXTURE_FEATURES) + (
    "background_speck_density",)
IMAGE_INDEX = "image_index"

FEATURE_NAMES = {
    "intensity_mean": "mean intensity",
    "intensity_std": "intensity std",
    "intensity_cv": "intensity coefficient of variation",
    "intensity_p10": "10th intensity percentile",
    "intensity_p50": "median intensity",
    "intensity_p90": "90th intensity percentile",
    "glcm_contrast": "texture contrast (GLCM)",
    "glcm_homogeneity": "texture homogeneity (GLCM)",
    "glcm_correlation": "texture correlation (GLCM)",
    "glcm_entropy": "texture entropy (GLCM)",
    "lbp_entropy": "local-binary-pattern entropy",
    "lbp_uniform_fraction": "fraction of uniform local binary patterns",
    "lbp_flat_fraction": "fraction of flat local binary patterns",
    "boundary_sharpness": "boundary sharpness (gradient on the rim)",
}
FEATURE_NAMES.update({f"background_{key}": FEATURE_NAMES[key]
                      for key in INTENSITY_FEATURES + TEXTURE_FEATURES})
FEATURE_NAMES["background_speck_density"] = "specks per 10,000 px"

GLCM_DISTANCES = (1, 2)
GLCM_ANGLES = (0.0, np.pi / 4, np.pi / 2, 3 * np.pi / 4)
LBP_POINTS, LBP_RADIUS = 8, 1
HIGH_PASS = 2.0  # px, the Gaussian blur a speck's brightness is measured against
SPECK_SIZE = 0.8  # px, a speck's Gaussian size, for its peak (`Specks.size`); 1.2 matched worse
SPECK_THRESHOLD = 5.0  # robust deviations of the background's high-pass that a speck's peak exceeds
MIN_SPECK = 0.004  # a speck's least high-pass peak (one 8-bit grey level of [0, 1]): a grain-free image has none
SPECK_MARGIN = 10  # px from every object: the far background where specks are counted
MIN_SPECK_PIXELS = 1000  # far-background pixels an image needs for its speck density
_EPS = 1e-12


def _unit_image(image):
    """One image in [-1, 1] -> 2-D float64 in [0, 1]: (H, W), (H, W, C) or (1, H, W, C), channel 0."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 4 and image.shape[0] == 1:
        image = image[0]
    if image.ndim == 3:
        image = image[..., 0]
    if image.ndim != 2:
        raise ValueError(f"cell_features: an image must be (H, W), (H, W, C) or (1, H, W, C); got {image.shape}")
    return np.clip((image + 1.0) / 2.0, 0.0, 1.0)


def _labels(instances):
    instances = np.asarray(instances)
    if instances.ndim == 3 and instances.shape[-1] == 1:
        instances = instances[..., 0]
    if instances.ndim != 2 or not np.issubdtype(instances.dtype, np.integer):
        raise ValueError("cell_features: a mask must be a 2-D integer instance label array "
                         f"(0 = background); got {instances.dtype} {instances.shape}")
    return instances


def _as_list(images, name):
    """A batch (N, H, W) / (N, H, W, C) array or a list of single images -> list."""
    if isinstance(images, np.ndarray) and images.ndim in (3, 4):
        return list(images)
    if isinstance(images, np.ndarray):
        raise ValueError(f"cell_features: {name} must be a batch (N, H, W[, C]) or a list; got {images.shape}")
    return list(images)


def _intensity(values):
    mean, std = values.mean(), values.std()
    p10, p50, p90 = np.percentile(values, (10, 50, 90))
    return {"intensity_mean": mean, "intensity_std": std, "intensity_cv": std / max(mean, 1e-6),
            "intensity_p10": p10, "intensity_p50": p50, "intensity_p90": p90}


def _glcm(quantised, inside, levels):
    """Contrast, homogeneity, correlation, entropy of the pixel pairs inside `inside`."""
    from skimage.feature import graycomatrix, graycoprops

    patch = np.where(inside, quantised, levels).astype(np.uint8)  # `levels` = reserved outside
    counts = graycomatrix(patch, distances=GLCM_DISTANCES, angles=GLCM_ANGLES, levels=levels + 1,
                          symmetric=True, normed=False)[:levels, :levels].astype(np.float64)
    counts = counts.reshape(levels, levels, -1, 1)
    counts = counts[:, :, counts.sum(axis=(0, 1, 3)) > 0]  # offsets with no pair inside
    if counts.shape[2] == 0:
        return dict.fromkeys(("glcm_contrast", "glcm_homogeneity", "glcm_correlation", "glcm_entropy"), np.nan)
    result = {f"glcm_{prop}": float(graycoprops(counts, prop).mean())
              for prop in ("contrast", "homogeneity", "correlation")}
    # Entropy in bits, written here (graycoprops gained 'entropy' only in recent versions).
    probability = counts / counts.sum(axis=(0, 1), keepdims=True)
    logs = np.log2(np.where(probability > 0, probability, 1.0))
    result["glcm_entropy"] = float(-(probability * logs).sum(axis=(0, 1)).mean())
    return result


def _lbp(codes):
    histogram = np.bincount(codes, minlength=LBP_POINTS + 2).astype(np.float64) / codes.size
    nonzero = histogram[histogram > 0]
    return {"lbp_entropy": float(-(nonzero * np.log2(nonzero)).sum()),
            "lbp_uniform_fraction": float(histogram[: LBP_POINTS + 1].sum()),  # code P + 1 = non-uniform
            "lbp_flat_fraction": float(histogram[LBP_POINTS])}  # all neighbours >= centre


def _prepare(image, levels):
    from skimage.feature import local_binary_pattern

    unit = _unit_image(image)
    quantised = np.minimum((unit * levels).astype(np.int64), levels - 1)
    grey = np.rint(unit * 255).astype(np.uint8)
    codes = local_binary_pattern(grey, LBP_POINTS, LBP_RADIUS, method="uniform").astype(np.int64)
    return unit, quantised, codes


def object_features(image, instances, min_object_pixels=16, levels=32):
    """Intensity, texture and boundary features of every object of one image.

    Args:
        image: one image in [-1, 1]: (H, W), (H, W, C) or (1, H, W, C); channel 0 is measured.
        instances: (H, W) integer instance labels, 0 = background.
        min_object_pixels: objects with fewer pixels are skipped.
        levels: grey levels of the GLCM, over the fixed range [0, 1].

    Returns:
        {feature: (n_objects,) float64} for every key of `OBJECT_FEATURES`, plus
        "label": (n_objects,) the instance label of each row.

    Example:
        rows = object_features(fake_image, instances)
        rows["glcm_contrast"].mean()
    """
    instances = _labels(instances)
    unit, quantised, codes = _prepare(image, levels)
    _check_shapes(unit, instances)
    return _object_rows(unit, quantised, codes, instances, min_object_pixels, levels)


def _check_shapes(unit, instances):
    if unit.shape != instances.shape:
        raise ValueError(f"cell_features: image is {unit.shape} but its mask is {instances.shape}")


def _object_rows(unit, quantised, codes, instances, min_object_pixels, levels):
    from scipy import ndimage
    from skimage.filters import sobel
    from skimage.segmentation import find_boundaries

    gradient = sobel(unit)
    rim = find_boundaries(instances, mode="inner")
    # LBP codes read a pixel's 3x3 neighbourhood: on the rim they see the background and
    # describe the edge, not the texture, so objects take their histogram from the interior.
    interior = ndimage.minimum_filter(instances, 3) == ndimage.maximum_filter(instances, 3)
    rows = {key: [] for key in OBJECT_FEATURES + ("label",)}
    # find_objects gives each label's bounding box, so every object costs its box, not the field.
    for index, box in enumerate(ndimage.find_objects(instances), start=1):
        if box is None:
            continue
        inside = instances[box] == index
        if inside.sum() < min_object_pixels:
            continue
        row = _intensity(unit[box][inside])
        row.update(_glcm(quantised[box], inside, levels))
        core = interior[box] & inside
        row.update(_lbp(codes[box][core] if core.any() else codes[box][inside]))
        edge = rim[box] & inside
        row["boundary_sharpness"] = gradient[box][edge].mean() if edge.any() else np.nan
        row["label"] = index
        for key, value in row.items():
            rows[key].append(value)
    table = {key: np.asarray(values, dtype=np.float64) for key, values in rows.items()}
    table["label"] = table["label"].astype(np.int64)
    return table


def background_features(image, instances, background_margin=3, levels=32, min_pixels=16):
    """Intensity and texture statistics of the background of one image.

    The background is every pixel further than `background_margin` pixels from an object
    (with no pixels left, the margin is dropped). GLCM pairs and LBP codes are taken only
    there, as for objects.

    Returns:
        {"background_<feature>": float} for every key of `BACKGROUND_FEATURES` (NaN when
        fewer than `min_pixels` background pixels exist).

    Example:
        background_features(real_image, instances)["background_intensity_std"]
    """
    instances = _labels(instances)
    unit, quantised, codes = _prepare(image, levels)
    _check_shapes(unit, instances)
    return _background_row(unit, quantised, codes, instances, background_margin, levels, min_pixels)


def speck_peaks(image, far):
    """Peak brightnesses of the small bright specks of one 2-D image where `far` (H, W) holds:
    local maxima (5 x 5) of the high-pass image (less its Gaussian blur of `HIGH_PASS` px) over
    `SPECK_THRESHOLD` robust deviations (1.4826 x MAD) of the high-pass there, the grain's
    own, and over `MIN_SPECK` (round-off on a flat background is no speck); divided by the share of a `SPECK_SIZE` Gaussian's peak the high-pass keeps, so that
    a speck's figure is its peak over the background, in the image's units. Written here, not
    `skimage.feature.peak_local_max`: the threshold is relative to each image's own grain.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> image = -0.9 + 0.005 * rng.standard_normal((128, 128))
        >>> image[40, 50] += 0.1  # one speck of a single pixel
        >>> len(speck_peaks(image, np.ones((128, 128), bool)))
        1
    """
    from scipy.ndimage import gaussian_filter, maximum_filter

    image = np.asarray(image, np.float64)
    if not far.any():
        return np.zeros(0)
    high = image - gaussian_filter(image, HIGH_PASS, mode="reflect")
    grain = 1.4826 * np.median(np.abs(high[far] - np.median(high[far])))
    threshold = max(SPECK_THRESHOLD * grain, MIN_SPECK)
    maxima = (high == maximum_filter(high, 5, mode="reflect")) & (high > threshold) & far
    return high[maxima] / (HIGH_PASS**2 / (SPECK_SIZE**2 + HIGH_PASS**2))


def _speck_density(unit, objects):
    """Specks per 10,000 px of the far background; NaN with under `MIN_SPECK_PIXELS` of it."""
    from scipy.ndimage import distance_transform_edt

    far = distance_transform_edt(~objects) > SPECK_MARGIN
    if far.sum() < MIN_SPECK_PIXELS:
        return np.nan
    return 1e4 * len(speck_peaks(unit, far)) / far.sum()


def _background_row(unit, quantised, codes, instances, background_margin, levels, min_pixels=16):
    from scipy import ndimage

    objects = instances > 0
    background = ~ndimage.binary_dilation(objects, iterations=background_margin) if background_margin else ~objects
    if background.sum() < min_pixels:
        background = ~objects
    if background.sum() < min_pixels:
        return dict.fromkeys(BACKGROUND_FEATURES, np.nan)
    row = _intensity(unit[background])
    row.update(_glcm(quantised, background, levels))
    row.update(_lbp(codes[background]))
    row["speck_density"] = _speck_density(unit, objects)
    return {f"background_{key}": float(value) for key, value in row.items()}


def feature_table(images, masks, min_object_pixels=16, levels=32, background_margin=3):
    """Object and background features of a set of images, in one dict of columns.

    Args:
        images: (N, H, W) or (N, H, W, C) in [-1, 1], or a list of single images (fields may
            differ in size).
        masks: (N, H, W) integer instance labels, or a list of them.

    Returns:
        {object feature: (n_objects,) over all images, "background_<feature>": (N,) one value
        per image, "image_index": (n_objects,) int, the image each object row comes from}.

    Example:
        real = feature_table(real_images, masks)
        fake = feature_table(fake_images, masks)
        compare(real, fake, object_name="nuclei")["worst"]
    """
    images, masks = _as_list(images, "images"), _as_list(masks, "masks")
    if len(images) != len(masks):
        raise ValueError(f"cell_features: {len(images)} images but {len(masks)} masks")
    objects, background, index = [], [], []
    for number, (image, instances) in enumerate(zip(images, masks)):
        instances = _labels(instances)
        prepared = _prepare(image, levels)  # quantised image and LBP codes, shared by both
        _check_shapes(prepared[0], instances)
        rows = _object_rows(*prepared, instances, min_object_pixels, levels)
        objects.append(rows)
        index.append(np.full(rows["label"].shape, number, dtype=np.int64))
        background.append(_background_row(*prepared, instances, background_margin, levels))
    table = {key: np.concatenate([rows[key] for rows in objects]) if objects else np.zeros(0)
             for key in OBJECT_FEATURES}
    table.update({key: np.asarray([row[key] for row in background], dtype=np.float64)
                  for key in BACKGROUND_FEATURES})
    table[IMAGE_INDEX] = np.concatenate(index) if index else np.zeros(0, dtype=np.int64)
    log.debug("cell features: %d objects in %d images", table[IMAGE_INDEX].size, len(images))
    return table


def _scale(real):
    """The real IQR; a constant feature falls back to the real std, then to 1 (its own units)."""
    low, high = np.percentile(real, (25, 75))
    for scale in (high - low, real.std()):
        if scale > _EPS:
            return float(scale)
    return 1.0


def _compare_feature(real, fake):
    real, fake = real[np.isfinite(real)], fake[np.isfinite(fake)]
    if real.size == 0 or fake.size == 0:
        return dict.fromkeys(("w1_iqr", "real_median", "fake_median", "median_offset_iqr",
                              "median_ratio"), float("nan"))
    from scipy.stats import wasserstein_distance

    scale = _scale(real)
    real_median, fake_median = float(np.median(real)), float(np.median(fake))
    return {"w1_iqr": float(wasserstein_distance(real, fake) / scale),
            "real_median": real_median, "fake_median": fake_median,
            "median_offset_iqr": (fake_median - real_median) / scale,
            "median_ratio": fake_median / real_median if abs(real_median) > _EPS else float("nan")}


def _sentence(key, scores, object_name):
    name = FEATURE_NAMES.get(key, key.replace("_", " "))
    subject = "the generated background" if key.startswith("background_") else f"generated {object_name}"
    medians = f"median {scores['fake_median']:.3g} vs {scores['real_median']:.3g}"
    spread = f"W1 = {scores['w1_iqr']:.2f} real IQRs"
    offset, ratio = scores["median_offset_iqr"], scores["median_ratio"]
    if abs(offset) < 0.1:
        return f"{name} of {subject} has the real median but another spread ({medians}; {spread})"
    if np.isfinite(ratio) and scores["real_median"] > 0 and scores["fake_median"] >= 0:
        return f"{name} of {subject} is {ratio:.2g}x real ({medians}; {spread})"
    direction = "higher" if offset > 0 else "lower"
    return f"{name} of {subject} is {abs(offset):.2g} real IQRs {direction} than real ({medians}; {spread})"


def _row_matrix(table, keys):
    matrix = np.stack([np.asarray(table[key], dtype=np.float64) for key in keys], axis=1)
    return matrix[np.all(np.isfinite(matrix), axis=1)]


def compare(real_table, fake_table, object_name="objects", n_worst=5):
    """How far generated cell features are from real ones, per feature and together.

    Args:
        real_table, fake_table: `feature_table` results (or any {feature: 1-D array}).
        object_name: what the objects are, for the sentences ("nuclei", "cells").
        n_worst: how many features `worst` names.

    Returns:
        {"per_feature": {feature: {"name", "w1_iqr", "real_median", "fake_median",
                                   "median_offset_iqr", "median_ratio"}},
         "frechet": Fréchet distance between Gaussians fitted to the object rows, each
                    feature standardised with the real mean and std (NaN rows dropped),
         "n_real", "n_fake": object rows used for it,
         "worst": [{"feature", "name", "w1_iqr", "median_ratio", "median_offset_iqr", "text"}],
                  the `n_worst` features with the largest W1 / IQR, worst first}.
        w1_iqr is Wasserstein-1 divided by the real interquartile range (real std, then 1, when
        the IQR is 0); median_offset_iqr = (median_fake - median_real) / that scale;
        median_ratio = median_fake / median_real (NaN when the real median is 0).

    Example:
        compare(real, fake, object_name="nuclei")["worst"][0]["text"]
        # 'texture contrast (GLCM) of generated nuclei is 0.4x real (median ...)'
    """
    from cig_k3.evaluation.distances import frechet_distance, gaussian_statistics

    keys = [key for key in real_table if key in fake_table and key not in (IMAGE_INDEX, "label")]
    per_feature = {}
    for key in keys:
        scores = _compare_feature(np.asarray(real_table[key], dtype=np.float64).ravel(),
                                  np.asarray(fake_table[key], dtype=np.float64).ravel())
        per_feature[key] = {"name": FEATURE_NAMES.get(key, key), **scores}
    row_keys = [key for key in keys if not key.startswith("background_")]
    frechet, n_real, n_fake = float("nan"), 0, 0
    if row_keys:
        real_rows, fake_rows = _row_matrix(real_table, row_keys), _row_matrix(fake_table, row_keys)
        n_real, n_fake = len(real_rows), len(fake_rows)
        if n_real >= 2 and n_fake >= 2:
            mean, std = real_rows.mean(axis=0), real_rows.std(axis=0)
            std = np.where(std > _EPS, std, 1.0)
            frechet = frechet_distance(*gaussian_statistics((real_rows - mean) / std),
                                       *gaussian_statistics((fake_rows - mean) / std))
    ranked = sorted((key for key in per_feature if np.isfinite(per_feature[key]["w1_iqr"])),
                    key=lambda key: -per_feature[key]["w1_iqr"])
    worst = [{"feature": key, "name": per_feature[key]["name"], "w1_iqr": per_feature[key]["w1_iqr"],
              "median_ratio": per_feature[key]["median_ratio"],
              "median_offset_iqr": per_feature[key]["median_offset_iqr"],
              "text": _sentence(key, per_feature[key], object_name)} for key in ranked[:n_worst]]
    return {"per_feature": per_feature, "frechet": frechet, "n_real": n_real, "n_fake": n_fake,
            "worst": worst}
