"""Diversity of the K samples a generator draws for one mask (NumPy).

A conditional GAN that ignores its noise draws the same image K times: the uncertainty map
is black and the "samples" add nothing. These measures put a number on it, scaled by the
variability of real images so that a reader can tell whether it is large or small:

- `pixel_diversity`: mean pairwise RMS distance between the samples inside the objects,
  divided by the real images' within-object variability (the *diversity ratio*);
- `feature_diversity`: the same in (Inception) feature space, divided by the mean distance
  between different real tiles;
- `uncertainty_follows_texture`: whether the per-pixel spread of the samples follows the
  real texture (as it should) or the mask's outline (an artefact of the conditioning).

As elsewhere in `cig_k3.evaluation`, images in [-1, 1] are mapped to [0, 1] first.

Example:
    pixel_diversity(samples, None, real, instances=instances)["diversity_ratio"]
"""

import numpy as np
from scipy import ndimage


def _to_unit(images):
    return (np.asarray(images, dtype=np.float64) + 1.0) / 2.0


def _with_channels(images, rank, name):
    """Add a channel axis to images given without one; check the rank."""
    images = np.asarray(images)
    if images.ndim == rank - 1:
        images = images[..., None]
    if images.ndim != rank:
        raise ValueError(f"{name} must have {rank} axes (with channels) or {rank - 1} "
                         f"(without); got shape {images.shape}")
    return images


def _labels(foreground, instances, shape):
    """(region, instances): the pixels to compare and the object labels, each (N, H, W).

    With only a foreground mask, objects are its connected components (4-connectivity,
    scipy.ndimage.label); touching objects then count as one.
    """
    if foreground is None and instances is None:
        raise ValueError("pass foreground (N, H, W) bool or instances (N, H, W) int labels")
    if instances is not None:
        instances = np.asarray(instances)
        if instances.ndim == 4:
            instances = instances[..., 0]
    if foreground is not None:
        foreground = np.asarray(foreground, dtype=bool)
        if foreground.ndim == 4:
            foreground = foreground[..., 0]
    else:
        foreground = instances > 0
    if instances is None:
        instances = np.stack([ndimage.label(mask)[0] for mask in foreground])
    for array, name in ((foreground, "foreground"), (instances, "instances")):
        if array.shape != shape:
            raise ValueError(f"{name} is {array.shape} but the images are {shape}")
    return foreground, instances


def within_object_std(real, instances):
    """RMS deviation of real intensity around each object's own mean, per image.

    Args:
        real: (N, H, W, C) in [-1, 1].
        instances: (N, H, W) int labels, 0 = background.

    Returns:
        (N,) standard deviations in [0, 1] units (NaN for an image without objects).
    """
    real = _to_unit(real)
    result = np.full(len(real), np.nan)
    for index, (image, labels) in enumerate(zip(real, instances)):
        inside = labels > 0
        if not inside.any():
            continue
        names, inverse = np.unique(labels[inside], return_inverse=True)
        values = image[inside]  # (pixels, C)
        counts = np.bincount(inverse, minlength=len(names))[:, None]
        means = np.stack([np.bincount(inverse, values[:, channel], minlength=len(names))
                          for channel in range(values.shape[1])], axis=1) / counts
        result[index] = np.sqrt(np.mean((values - means[inverse]) ** 2))
    return result


def _mean_pairwise(points):
    """Mean Euclidean distance over the distinct pairs of the rows of `points`."""
    from scipy.spatial.distance import pdist

    return float(pdist(points).mean())


def pixel_diversity(samples, foreground, real, instances=None):
    """Mean pairwise RMS distance between the K samples of each mask inside the objects,
    relative to the real within-object variability.

    The real variability is sqrt(2) x sigma_within, where sigma_within is the RMS deviation
    of the real images around each object's own mean intensity. Rationale: two independent
    draws of the real texture with the same per-object mean differ by sqrt(2) sigma_within
    in RMS, so a generator that redraws the texture freely scores a ratio near 1, one that
    draws the same image every time scores 0, and one that adds noise beyond the real
    texture scores above 1.

    Args:
        samples: (N, K, H, W, C) or (N, K, H, W) in [-1, 1]: K >= 2 samples per mask.
        foreground: (N, H, W) bool, the pixels inside objects; may be None with `instances`.
        real: (N, H, W, C) or (N, H, W) real images in [-1, 1] for the same masks.
        instances: optional (N, H, W) int object labels (0 = background). Without them the
            objects are the connected components of `foreground`.

    Returns:
        {"pixel_distance": mean pairwise RMS distance in [0, 1] units, averaged over masks,
         "real_within_object": sqrt(2) x sigma_within, averaged over masks,
         "diversity_ratio": pixel_distance / real_within_object,
         "k", "n_masks": masks with at least one object pixel}

    Example:
        pixel_diversity(samples, instances > 0, real)["diversity_ratio"]
    """
    samples = _to_unit(_with_channels(samples, 5, "samples"))
    real = _with_channels(real, 4, "real")
    count, k = samples.shape[:2]
    if k < 2:
        raise ValueError(f"diversity needs K >= 2 samples per mask; got K={k}")
    if real.shape != samples.shape[:1] + samples.shape[2:]:
        raise ValueError(f"real is {real.shape} but the samples are {samples.shape} "
                         "(N, K, H, W, C)")
    region, instances = _labels(foreground, instances, samples.shape[:1] + samples.shape[2:4])
    real_std = within_object_std(real, instances)
    distances, spreads = [], []
    for index in range(count):
        if not region[index].any() or np.isnan(real_std[index]):
            continue
        inside = samples[index][:, region[index]].reshape(k, -1)  # (K, pixels x C)
        # Euclidean distance / sqrt(size) = RMS distance.
        distances.append(_mean_pairwise(inside) / np.sqrt(inside.shape[1]))
        spreads.append(np.sqrt(2.0) * real_std[index])
    if not distances:
        raise ValueError("no mask has object pixels: pixel diversity is undefined")
    distance, spread = float(np.mean(distances)), float(np.mean(spreads))
    return {"pixel_distance": distance, "real_within_object": spread,
            "diversity_ratio": distance / spread if spread > 0 else float("nan"),
            "k": int(k), "n_masks": len(distances)}


def feature_diversity(sample_features, real_features):
    """Mean pairwise feature distance between the K samples of each mask, relative to the
    mean distance between different real tiles.

    The reference spread is between tiles of *different* fields (different masks), so it is
    an upper reference: samples of one mask share their layout and sit below it even when
    their texture varies as much as real texture does. 0 means every sample is the same.

    Args:
        sample_features: (N, K, D) features (e.g. Inception pool) of K >= 2 samples per mask.
        real_features: (M, D) features of M >= 2 real tiles.

    Returns:
        {"feature_distance": mean pairwise L2 distance within a mask, averaged over masks,
         "real_between_tiles": mean pairwise L2 distance between different real tiles,
         "diversity_ratio", "k", "n_masks"}

    Example:
        feature_diversity(features.reshape(n, k, -1), real_features)["diversity_ratio"]
    """
    sample_features = np.asarray(sample_features, dtype=np.float64)
    real_features = np.asarray(real_features, dtype=np.float64)
    if sample_features.ndim != 3 or sample_features.shape[1] < 2:
        raise ValueError(f"sample_features must be (N, K, D) with K >= 2; got shape "
                         f"{sample_features.shape}")
    if real_features.ndim != 2 or len(real_features) < 2:
        raise ValueError(f"real_features must be (M, D) with M >= 2; got shape "
                         f"{real_features.shape}")
    if real_features.shape[1] != sample_features.shape[2]:
        raise ValueError(f"real features have {real_features.shape[1]} dimensions but sample "
                         f"features {sample_features.shape[2]}: use one extractor for both")
    distance = float(np.mean([_mean_pairwise(group) for group in sample_features]))
    spread = _mean_pairwise(real_features)
    return {"feature_distance": distance, "real_between_tiles": spread,
            "diversity_ratio": distance / spread if spread > 0 else float("nan"),
            "k": int(sample_features.shape[1]), "n_masks": int(len(sample_features))}


def local_texture(real, instances, window=5):
    """Local standard deviation of the real image within each object, (N, H, W).

    Only pixels of the same object enter a window, so the step at an object's edge does
    not count as texture. Channels are averaged. 0 outside objects.
    """
    real = _to_unit(real).mean(axis=-1)
    texture = np.zeros(real.shape)
    for index, (image, labels) in enumerate(zip(real, instances)):
        for label, box in enumerate(ndimage.find_objects(labels), start=1):
            if box is None:
                continue
            inside = (labels[box] == label).astype(np.float64)
            # Centred on the object's mean first: the variance is the same, and the
            # E[x^2] - E[x]^2 below loses less to round-off.
            patch = (image[box] - image[box][inside > 0].mean()) * inside
            # Window means over object pixels only: sums of x and x^2 over the window,
            # divided by the number of object pixels in it.
            weight = ndimage.uniform_filter(inside, window, mode="constant")
            safe = np.maximum(weight, 1e-12)
            mean = ndimage.uniform_filter(patch, window, mode="constant") / safe
            square = ndimage.uniform_filter(patch * patch, window, mode="constant") / safe
            local = np.sqrt(np.clip(square - mean * mean, 0.0, None))
            texture[index][box][inside > 0] = local[inside > 0]
    return texture


def outline_band(instances, width=2):
    """(N, H, W) bool: object pixels less than `width` pixels from their object's edge."""
    from skimage.segmentation import find_boundaries

    band = np.zeros(instances.shape, dtype=bool)
    for index, labels in enumerate(instances):
        edge = find_boundaries(labels, mode="inner")  # object pixels beside another label
        distance = ndimage.distance_transform_edt(~edge)
        band[index] = (labels > 0) & (distance < width)
    return band


def _pearson(a, b):
    a, b = a - a.mean(), b - b.mean()
    norm = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / norm) if norm > 0 else float("nan")


def uncertainty_follows_texture(std_map, real, instances, window=5, band_width=2):
    """Does the samples' per-pixel spread follow the real texture or the mask's outline?

    Inside the objects, correlates the std map with the real image's local texture (local
    standard deviation in a `window` x `window` window, within the object) and with the
    outline band (pixels less than `band_width` px from an object's edge, as 0/1). A
    generator that has learnt texture is unsure where real images vary; one that is unsure
    mostly along the mask's edges is reacting to the outline.

    Args:
        std_map: (N, H, W[, C]) or (H, W[, C]) per-pixel std of the K samples (channels are
            averaged; any units: correlations do not depend on scale).
        real: (N, H, W, C) or (H, W, C) real images in [-1, 1] (or (N, H, W) grey).
        instances: (N, H, W) or (H, W) int object labels, 0 = background.

    Returns:
        {"corr_texture", "corr_outline": Pearson correlations over object pixels (NaN when
         a side is constant), "follows_texture": corr_texture > corr_outline,
         "n_pixels": object pixels used}

    Example:
        mean, std = sample_statistics(samples_of_one_mask)
        uncertainty_follows_texture(std, real, instances)["follows_texture"]
    """
    instances = np.asarray(instances)
    if instances.ndim == 2:  # one image
        instances = instances[None]
        std_map = np.asarray(std_map)[None]
        real = np.asarray(real)[None]
    std_map = np.asarray(std_map, dtype=np.float64)
    if std_map.ndim == 4:
        std_map = std_map.mean(axis=-1)
    real = _with_channels(real, 4, "real")
    if std_map.shape != instances.shape or real.shape[:3] != instances.shape:
        raise ValueError(f"std_map {std_map.shape}, real {real.shape} and instances "
                         f"{instances.shape} must share (N, H, W)")
    inside = instances > 0
    if not inside.any():
        raise ValueError("instances hold no object pixels: nothing to correlate")
    texture = local_texture(real, instances, window)[inside]
    band = outline_band(instances, band_width)[inside].astype(np.float64)
    spread = std_map[inside]
    corr_texture, corr_outline = _pearson(spread, texture), _pearson(spread, band)
    follows = bool(np.isfinite(corr_texture)
                   and (not np.isfinite(corr_outline) or corr_texture > corr_outline))
    return {"corr_texture": corr_texture, "corr_outline": corr_outline,
            "follows_texture": follows, "n_pixels": int(inside.sum())}
