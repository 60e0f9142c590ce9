import numpy as np
import pytest

from cig_k3.evaluation import diversity

from .conftest import disc_batch

pytestmark = pytest.mark.backend_independent


def _real_and_noise(rng, count=6, size=32, k=4):
    """Real disc images and K samples = real + independent noise of the real within-object
    std (in [-1, 1] units), plus the instances."""
    _, real, instances = disc_batch(rng, count, size)
    sigma_unit = np.nanmean(diversity.within_object_std(real, instances))
    sigma = 2.0 * sigma_unit  # [0, 1] units -> [-1, 1] units
    return real, instances, sigma, k


def test_within_object_std_ignores_differences_between_object_means():
    # Two flat objects of different brightness: no within-object variability at all.
    instances = np.zeros((1, 8, 8), np.int32)
    instances[0, :3, :3], instances[0, 5:, 5:] = 1, 2
    real = np.where(instances == 1, 0.8, np.where(instances == 2, -0.2, -1.0))[..., None]
    assert diversity.within_object_std(real, instances)[0] == pytest.approx(0.0)
    # A checkerboard of +-0.2 ([-1, 1]) inside object 1 only: std 0.1 in [0, 1] units over
    # object 1's 9 pixels (5 and 4 of each sign around the mean), 0 over object 2's 9.
    checker = (np.indices((3, 3)).sum(axis=0) % 2) * 0.4 - 0.2
    real[0, :3, :3, 0] += checker
    values = checker / 2.0
    expected = np.sqrt(np.sum((values - values.mean()) ** 2) / 18)
    assert diversity.within_object_std(real, instances)[0] == pytest.approx(expected)


def test_identical_samples_have_zero_diversity(rng):
    real, instances, _, k = _real_and_noise(rng)
    samples = np.repeat(real[:, None], k, axis=1)
    result = diversity.pixel_diversity(samples, None, real, instances=instances)
    assert result["pixel_distance"] == pytest.approx(0.0)
    assert result["diversity_ratio"] == pytest.approx(0.0)
    assert result["k"] == k and result["n_masks"] == len(real)
    assert result["real_within_object"] > 0


def test_real_texture_noise_gives_ratio_near_one_and_more_noise_more(rng):
    real, instances, sigma, k = _real_and_noise(rng)
    ratios = []
    for scale in (1.0, 2.0):
        noise = rng.normal(0, scale * sigma, size=(len(real), k) + real.shape[1:])
        samples = real[:, None] + noise
        ratios.append(diversity.pixel_diversity(samples, None, real, instances)[
            "diversity_ratio"])
    assert ratios[0] == pytest.approx(1.0, abs=0.2)
    assert ratios[1] == pytest.approx(2.0, abs=0.4)
    assert ratios[1] > ratios[0]


def test_foreground_only_uses_connected_components(rng):
    # The discs of disc_batch do not touch, so the components are the instances.
    real, instances, sigma, k = _real_and_noise(rng, count=3)
    samples = real[:, None] + rng.normal(0, sigma, size=(3, k) + real.shape[1:])
    with_instances = diversity.pixel_diversity(samples, None, real, instances=instances)
    with_mask = diversity.pixel_diversity(samples[..., 0], instances > 0, real[..., 0])
    assert with_mask == pytest.approx(with_instances)


def test_pixel_diversity_rejects_single_sample_and_empty_masks(rng):
    real, instances, _, _ = _real_and_noise(rng, count=2)
    with pytest.raises(ValueError, match="K >= 2"):
        diversity.pixel_diversity(real[:, None], None, real, instances)
    with pytest.raises(ValueError, match="no mask has object pixels"):
        diversity.pixel_diversity(np.repeat(real[:, None], 2, axis=1),
                                  np.zeros(instances.shape, bool), real)


def test_feature_diversity(rng):
    real_features = rng.normal(size=(200, 16))
    identical = np.repeat(rng.normal(size=(5, 1, 16)), 4, axis=1)
    result = diversity.feature_diversity(identical, real_features)
    assert result["diversity_ratio"] == pytest.approx(0.0)
    assert result["k"] == 4 and result["n_masks"] == 5
    # Samples drawn like the real tiles are as far apart as different real tiles.
    independent = rng.normal(size=(50, 4, 16))
    assert diversity.feature_diversity(independent, real_features)[
        "diversity_ratio"] == pytest.approx(1.0, abs=0.1)
    with pytest.raises(ValueError, match="dimensions"):
        diversity.feature_diversity(independent, real_features[:, :8])


def _textured_discs(rng, size=32):
    """One image: two discs with texture that varies within them (smooth left half, rough
    right half), and their instances."""
    _, _, instances = disc_batch(rng, 1, size)
    columns = np.indices((size, size))[1]
    roughness = np.where(columns < size // 2, 0.02, 0.3)
    real = np.where(instances[0] > 0, 0.3 + roughness * rng.normal(size=(size, size)), -0.8)
    return real[None, ..., None], instances


def test_uncertainty_following_texture_or_outline(rng):
    real, instances = _textured_discs(rng)
    texture = diversity.local_texture(real, instances)
    result = diversity.uncertainty_follows_texture(texture, real, instances)
    assert result["corr_texture"] == pytest.approx(1.0)
    assert result["follows_texture"]
    rims = diversity.outline_band(instances).astype(float)
    result = diversity.uncertainty_follows_texture(rims, real, instances)
    assert result["corr_outline"] == pytest.approx(1.0)
    assert not result["follows_texture"]
    # Single image without the batch axis, std map with a channel axis.
    single = diversity.uncertainty_follows_texture(texture[0, ..., None], real[0],
                                                   instances[0])
    assert single["follows_texture"] and single["n_pixels"] == int((instances > 0).sum())


def test_local_texture_ignores_the_object_edge():
    # A flat bright square on a dark background: no texture inside, despite the edge.
    instances = np.zeros((1, 12, 12), np.int32)
    instances[0, 3:9, 3:9] = 1
    real = np.where(instances > 0, 0.9, -0.9)[..., None]
    np.testing.assert_allclose(diversity.local_texture(real, instances), 0.0, atol=1e-6)
    band = diversity.outline_band(instances, width=2)[0]
    assert band[3, 3:9].all() and band[4, 4:8].all() and not band[5:7, 5:7].any()
