"""Sample uncertainty: K generated samples of one condition (NumPy).

A conditional GAN with noise can draw several images for one mask. Their per-pixel spread
shows where the model is unsure; a useful spread is larger where the error is larger. As
elsewhere in `cig_k3.evaluation`, images in [-1, 1] are mapped to [0, 1] first, so means,
standard deviations and errors are in [0, 1] units.

Example:
    summary = uncertainty_summary(samples, real, foreground=mask > 0)
    summary["std_cells"], summary["std_error_pearson"]
"""

import numpy as np


def _to_unit(images):
    return (np.asarray(images, dtype=np.float64) + 1.0) / 2.0


def sample_statistics(samples, ddof=0):
    """Per-pixel mean and standard deviation of K samples.

    Args:
        samples: (K, H, W, C) in [-1, 1], K >= 1 (K >= 2 for a non-trivial std).
        ddof: 0 for the population std (default), 1 for the sample std.

    Returns:
        (mean, std), each (H, W, C) in [0, 1] units.
    """
    samples = _to_unit(samples)
    if samples.ndim != 4:
        raise ValueError(f"samples must be (K, H, W, C); got shape {samples.shape}")
    if samples.shape[0] <= ddof:
        raise ValueError(f"{samples.shape[0]} samples are too few for ddof={ddof}")
    return samples.mean(axis=0), samples.std(axis=0, ddof=ddof)


def _pearson(a, b):
    a = a.ravel() - a.mean()
    b = b.ravel() - b.mean()
    norm = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / norm) if norm > 0 else float("nan")


def _region_mean(values, region):
    return float(values[region].mean()) if np.any(region) else float("nan")


def uncertainty_summary(samples, real=None, foreground=None, ddof=0):
    """Scalar summary of K samples of one image.

    Args:
        samples: (K, H, W, C) in [-1, 1].
        real: optional (H, W, C) real image in [-1, 1], for the error terms.
        foreground: optional (H, W) or (H, W, 1) boolean cell mask.

    Returns:
        {"std_mean": mean std over all pixels and channels,
         "std_cells", "std_background": mean std inside / outside `foreground`
             (NaN for an empty region; absent without a mask),
         "mae_of_mean": mean |mean - real|,
         "std_error_pearson": Pearson correlation over pixels and channels between the std
             map and |mean - real| (NaN if either is constant; absent without `real`)}
    """
    mean, std = sample_statistics(samples, ddof)
    summary = {"std_mean": float(std.mean())}
    if foreground is not None:
        foreground = np.asarray(foreground, dtype=bool)
        if foreground.ndim == 3:
            foreground = foreground[..., 0]
        if foreground.shape != std.shape[:2]:
            raise ValueError(
                f"foreground is {foreground.shape} but the samples are {std.shape[:2]}"
            )
        region = np.broadcast_to(foreground[..., None], std.shape)
        summary["std_cells"] = _region_mean(std, region)
        summary["std_background"] = _region_mean(std, ~region)
    if real is not None:
        real = _to_unit(real)
        if real.shape != mean.shape:
            raise ValueError(f"real is {real.shape} but the samples are {mean.shape}")
        error = np.abs(mean - real)
        summary["mae_of_mean"] = float(error.mean())
        summary["std_error_pearson"] = _pearson(std, error)
    return summary


def uncertainty_dataset(samples, real=None, foreground=None, ddof=0):
    """`uncertainty_summary` for N images, with per-image tables and their NaN-aware means.

    Args:
        samples: (N, K, H, W, C); real: (N, H, W, C) or None; foreground: (N, H, W) or None.

    Returns:
        {"n_images": N, "n_samples": K, "per_image": {key: (N,) array},
         "summary": {key: nanmean over images}}
    """
    samples = np.asarray(samples)
    if samples.ndim != 5:
        raise ValueError(f"samples must be (N, K, H, W, C); got shape {samples.shape}")
    rows = [
        uncertainty_summary(
            samples[index],
            None if real is None else real[index],
            None if foreground is None else foreground[index],
            ddof,
        )
        for index in range(samples.shape[0])
    ]
    per_image = {key: np.array([row[key] for row in rows]) for key in rows[0]}
    summary = {}
    for key, values in per_image.items():
        finite = values[~np.isnan(values)]
        summary[key] = float(finite.mean()) if finite.size else float("nan")
    return {
        "n_images": int(samples.shape[0]),
        "n_samples": int(samples.shape[1]),
        "per_image": per_image,
        "summary": summary,
    }
