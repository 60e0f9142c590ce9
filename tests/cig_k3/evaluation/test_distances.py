import numpy as np
import pytest
import scipy.linalg

from cig_k3.evaluation import distances

pytestmark = pytest.mark.backend_independent


def random_covariance(rng, dimension, rank=None):
    factor = rng.normal(size=(dimension, rank or dimension))
    return factor @ factor.T / dimension


def test_trace_sqrt_product_matches_scipy_sqrtm(rng):
    for rank in (None, 3):  # full rank, and singular as with fewer samples than features
        sigma1, sigma2 = random_covariance(rng, 8, rank), random_covariance(rng, 8)
        expected = np.trace(scipy.linalg.sqrtm(sigma1 @ sigma2)).real
        assert distances.trace_sqrt_product(sigma1, sigma2) == pytest.approx(expected, rel=1e-6)


def test_frechet_distance_closed_form_for_diagonal_covariances():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    a, b = np.array([1.0, 4.0, 0.25]), np.array([4.0, 1.0, 0.0])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert expected == pytest.approx(5 + 1 + 1 + 0.25)
    value = distances.frechet_distance(mu1, np.diag(a), mu2, np.diag(b))
    assert value == pytest.approx(expected, abs=1e-10)
    assert distances.frechet_distance(mu1, np.diag(a), mu1, np.diag(a)) == pytest.approx(0, abs=1e-10)


def test_fid_from_features_records_counts_and_extractor(rng):
    real = rng.normal(size=(400, 4))
    fake = rng.normal(size=(300, 4)) * 2 + 1
    result = distances.fid(real, fake, features="judge_encoder")
    assert result["n_real"] == 400 and result["n_fake"] == 300
    assert result["features"] == "judge_encoder"
    mu1, sigma1 = real.mean(0), np.cov(real, rowvar=False)
    mu2, sigma2 = fake.mean(0), np.cov(fake, rowvar=False)
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(
        sigma1 + sigma2 - 2 * scipy.linalg.sqrtm(sigma1 @ sigma2).real
    )
    assert result["fid"] == pytest.approx(expected, rel=1e-6)
    # Population value: |1|^2 * 4 + 4 * (1 - 2)^2 = 8.
    assert result["fid"] == pytest.approx(8, rel=0.25)
    with pytest.raises(ValueError, match="same extractor"):
        distances.fid(real, fake[:, :3])


def test_mmd2_unbiased_by_hand():
    x = np.array([[0.0], [1.0]])
    y = np.array([[2.0]] * 2)
    k = lambda a, b: (a * b + 1) ** 3  # noqa: E731, d = 1
    expected = (2 * k(0, 1)) / 2 + (2 * k(2, 2)) / 2 - 2 * (2 * k(0, 2) + 2 * k(1, 2)) / 4
    assert distances.mmd2_unbiased(x, y) == pytest.approx(expected)


def test_mmd2_estimator_is_unbiased(rng):
    # Many independent small samples of one distribution: the mean estimate must be within
    # a few standard errors of 0. The biased estimator (diagonal kept) fails this check.
    unbiased, biased = [], []
    for _ in range(400):
        x, y = rng.normal(size=(10, 4)), rng.normal(size=(10, 4))
        unbiased.append(distances.mmd2_unbiased(x, y))
        biased.append(
            distances.polynomial_kernel(x, x).mean() + distances.polynomial_kernel(y, y).mean()
            - 2 * distances.polynomial_kernel(x, y).mean()
        )
    standard_error = np.std(unbiased) / np.sqrt(len(unbiased))
    assert abs(np.mean(unbiased)) < 4 * standard_error
    assert np.mean(biased) > 10 * standard_error


def test_kid_same_and_different_distributions(rng):
    real = rng.normal(size=(600, 16))
    same = distances.kid(real, rng.normal(size=(500, 16)), n_subsets=20, subset_size=100, seed=0)
    assert abs(same["kid_mean"]) < 3 * same["kid_std"]
    other = distances.kid(real, rng.normal(size=(500, 16)) + 0.5, n_subsets=20, subset_size=100)
    assert other["kid_mean"] > 5 * other["kid_std"] > 0
    assert other["kid_mean"] > 20 * abs(same["kid_mean"])
    assert same["n_real"] == 600 and same["n_fake"] == 500 and same["subset_size"] == 100
    # Seeded: the same call gives the same subsets.
    assert distances.kid(real, real[::-1], n_subsets=3, subset_size=50, seed=7) == distances.kid(
        real, real[::-1], n_subsets=3, subset_size=50, seed=7
    )


def test_fid_kid_one_flat_dict(rng):
    result = distances.fid_kid(rng.normal(size=(50, 3)), rng.normal(size=(40, 3)),
                               features="inception_v3", n_subsets=5, subset_size=1000)
    assert result["subset_size"] == 40  # capped by the smaller set
    assert {"fid", "kid_mean", "kid_std", "n_real", "n_fake", "features"} <= set(result)
    with pytest.raises(ValueError, match="NaN"):
        distances.fid_kid(np.full((5, 2), np.nan), np.zeros((5, 2)))
