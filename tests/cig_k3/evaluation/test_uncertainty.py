import numpy as np
import pytest

from cig_k3.evaluation import uncertainty

pytestmark = pytest.mark.backend_independent


def test_sample_statistics_hand_values():
    # Two samples per pixel, [-1, 1] -> [0, 1]: (-1, 1) -> mean 0.5, std 0.5; (0, 0) -> 0.5, 0.
    samples = np.zeros((2, 1, 2, 1))
    samples[:, 0, 0, 0] = [-1, 1]
    mean, std = uncertainty.sample_statistics(samples)
    np.testing.assert_allclose(mean[..., 0], [[0.5, 0.5]])
    np.testing.assert_allclose(std[..., 0], [[0.5, 0.0]])
    _, sample_std = uncertainty.sample_statistics(samples, ddof=1)
    assert sample_std[0, 0, 0] == pytest.approx(np.sqrt(0.5))


def test_uncertainty_summary_hand_values():
    # 2 x 2 image; the left column is a cell. Std in [0, 1] units: [[0.4, 0.0], [0.2, 0.0]].
    low = np.array([[-0.4, 0.0], [-0.2, 0.5]])
    high = np.array([[1.2, 0.0], [0.6, 0.5]])
    samples = np.stack([low, high])[..., None]  # mean in [-1, 1]: [[0.4, 0], [0.2, 0.5]]
    real = np.array([[0.0, 0.0], [0.0, 0.5]])[..., None]  # |mean - real| = [[.2, 0], [.1, 0]]
    foreground = np.array([[True, False], [True, False]])
    summary = uncertainty.uncertainty_summary(samples, real, foreground)
    assert summary["std_cells"] == pytest.approx(0.3)
    assert summary["std_background"] == pytest.approx(0.0)
    assert summary["std_mean"] == pytest.approx(0.15)
    assert summary["mae_of_mean"] == pytest.approx(0.075)
    # The error is exactly half the std here: perfect correlation.
    assert summary["std_error_pearson"] == pytest.approx(1.0)


def test_uncertainty_dataset_means_and_empty_regions(rng):
    samples = rng.uniform(-1, 1, size=(3, 4, 8, 8, 1))
    real = rng.uniform(-1, 1, size=(3, 8, 8, 1))
    foreground = np.zeros((3, 8, 8), bool)
    foreground[0, :4] = True  # images 1 and 2 have no cells
    result = uncertainty.uncertainty_dataset(samples, real, foreground)
    assert result["n_images"] == 3 and result["n_samples"] == 4
    assert np.isnan(result["per_image"]["std_cells"][1:]).all()
    assert result["summary"]["std_cells"] == pytest.approx(result["per_image"]["std_cells"][0])
    assert -1 <= result["summary"]["std_error_pearson"] <= 1
    with pytest.raises(ValueError, match="foreground"):
        uncertainty.uncertainty_summary(samples[0], real[0], foreground[0, :4])
