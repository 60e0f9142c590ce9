"""Distances between sets of image features: FID and KID (NumPy, float64).

The features come from `cig_k3.evaluation.features` (Inception v3 or the judge's encoder).
Every result names its feature extractor and its sample counts, because an FID is only
comparable with another FID computed on the same features and a similar number of samples
(FID is biased upwards for small samples; KID is unbiased).

References:
    Heusel et al. (2017). GANs trained by a two time-scale update rule converge to a local
    Nash equilibrium. NeurIPS. (FID)
    Binkowski et al. (2018). Demystifying MMD GANs. ICLR. (KID)
"""

import numpy as np


def _check_features(features, name):
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(f"{name} must be an (N, D) array of features; got shape {features.shape}")
    if features.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 samples; got {features.shape[0]}")
    if not np.all(np.isfinite(features)):
        raise ValueError(f"{name} holds NaN or inf values")
    return features


def _sqrt_psd(matrix):
    """Symmetric square root of a symmetric positive semi-definite matrix (eigh)."""
    eigenvalues, eigenvectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    eigenvalues = np.clip(eigenvalues, 0.0, None)  # round-off can make tiny ones negative
    return (eigenvectors * np.sqrt(eigenvalues)) @ eigenvectors.T


def trace_sqrt_product(sigma1, sigma2):
    """tr sqrt(sigma1 @ sigma2) for symmetric PSD matrices.

    sigma1 @ sigma2 is similar to the symmetric PSD matrix A = sqrt(sigma1) sigma2
    sqrt(sigma1), so both have the same (real, non-negative) eigenvalues; the trace of the
    square root is the sum of their square roots. Unlike scipy.linalg.sqrtm of the
    non-symmetric product, this never returns complex parts or fails on singular matrices.
    """
    root1 = _sqrt_psd(np.asarray(sigma1, dtype=np.float64))
    product = root1 @ np.asarray(sigma2, dtype=np.float64) @ root1
    eigenvalues = np.linalg.eigvalsh((product + product.T) / 2.0)
    return float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2).

    d^2 = |mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr sqrt(sigma1 sigma2).
    """
    mu1, mu2 = np.asarray(mu1, dtype=np.float64), np.asarray(mu2, dtype=np.float64)
    sigma1, sigma2 = np.asarray(sigma1, dtype=np.float64), np.asarray(sigma2, dtype=np.float64)
    difference = mu1 - mu2
    value = (
        difference @ difference
        + np.trace(sigma1)
        + np.trace(sigma2)
        - 2.0 * trace_sqrt_product(sigma1, sigma2)
    )
    return float(max(value, 0.0))  # tiny negative values are round-off


def gaussian_statistics(features):
    """Mean and covariance (ddof=1, as in the FID reference code) of (N, D) features."""
    features = _check_features(features, "features")
    return features.mean(axis=0), np.cov(features, rowvar=False, ddof=1).reshape(
        features.shape[1], features.shape[1]
    )


def fid(features_real, features_fake, features="inception_v3"):
    """Fréchet Inception Distance (or the same on other features).

    Args:
        features_real, features_fake: (N, D) arrays of features.
        features: the name of the feature extractor, recorded in the result.

    Returns:
        {"fid": float, "n_real": int, "n_fake": int, "features": str}

    Example:
        fid(extractor(real_images), extractor(fake_images), extractor.name)
    """
    features_real = _check_features(features_real, "features_real")
    features_fake = _check_features(features_fake, "features_fake")
    _check_dimensions(features_real, features_fake)
    mu_real, sigma_real = gaussian_statistics(features_real)
    mu_fake, sigma_fake = gaussian_statistics(features_fake)
    return {
        "fid": frechet_distance(mu_real, sigma_real, mu_fake, sigma_fake),
        "n_real": int(features_real.shape[0]),
        "n_fake": int(features_fake.shape[0]),
        "features": str(features),
    }


def _check_dimensions(features_real, features_fake):
    if features_real.shape[1] != features_fake.shape[1]:
        raise ValueError(
            f"real features have {features_real.shape[1]} dimensions but fake features have "
            f"{features_fake.shape[1]}: they must come from the same extractor"
        )


def polynomial_kernel(x, y):
    """k(x, y) = (x . y / d + 1)^3, the KID kernel."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x, y):
    """Unbiased estimate of MMD^2 between samples x (m, D) and y (n, D), polynomial kernel.

    The within-set sums leave out the diagonal (k(x_i, x_i)), which is what removes the bias.
    """
    m, n = x.shape[0], y.shape[0]
    k_xx = polynomial_kernel(x, x)
    k_yy = polynomial_kernel(y, y)
    k_xy = polynomial_kernel(x, y)
    within_x = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    within_y = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(within_x + within_y - 2.0 * k_xy.mean())


def kid(features_real, features_fake, features="inception_v3", n_subsets=100,
        subset_size=1000, seed=0):
    """Kernel Inception Distance: unbiased MMD^2 averaged over random subsets.

    Each subset draws `subset_size` real and `subset_size` fake features without
    replacement (capped by the smaller set). The std over subsets shows the estimate's
    spread; with two samples of one distribution the mean is near 0 and may be negative.

    Returns:
        {"kid_mean", "kid_std", "n_real", "n_fake", "n_subsets", "subset_size", "features"}
    """
    features_real = _check_features(features_real, "features_real")
    features_fake = _check_features(features_fake, "features_fake")
    _check_dimensions(features_real, features_fake)
    if n_subsets < 1:
        raise ValueError(f"n_subsets must be at least 1; got {n_subsets}")
    size = min(int(subset_size), features_real.shape[0], features_fake.shape[0])
    if size < 2:
        raise ValueError(f"subset_size must be at least 2; got {subset_size}")
    rng = np.random.default_rng(seed)
    values = np.empty(n_subsets, dtype=np.float64)
    for index in range(n_subsets):
        real = features_real[rng.choice(features_real.shape[0], size, replace=False)]
        fake = features_fake[rng.choice(features_fake.shape[0], size, replace=False)]
        values[index] = mmd2_unbiased(real, fake)
    return {
        "kid_mean": float(values.mean()),
        "kid_std": float(values.std()),
        "n_real": int(features_real.shape[0]),
        "n_fake": int(features_fake.shape[0]),
        "n_subsets": int(n_subsets),
        "subset_size": int(size),
        "features": str(features),
    }


def fid_kid(features_real, features_fake, features="inception_v3", n_subsets=100,
            subset_size=1000, seed=0):
    """FID and KID of one pair of feature sets, in one flat dict.

    Returns:
        {"fid", "kid_mean", "kid_std", "n_real", "n_fake", "n_subsets", "subset_size",
         "features"}
    """
    result = fid(features_real, features_fake, features)
    result.update(kid(features_real, features_fake, features, n_subsets, subset_size, seed))
    return result
