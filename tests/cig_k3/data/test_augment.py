"""AugmentConfig -> albumentations pipelines, and their serialisation for run logs."""

import json

import albumentations as A
import numpy as np
import pytest

from cig_k3.data import AugmentConfig, PoissonGaussianNoise, augment_from_dict, augment_to_dict
from cig_k3.data.augment import build_intensity_transform, build_pair_transform

pytestmark = pytest.mark.backend_independent


@pytest.mark.parametrize("config", [AugmentConfig(), AugmentConfig.none(), AugmentConfig.geometric_only(),
                                    AugmentConfig(gamma=None, poisson_photons=(50, 60), intensity_on_target=False)])
def test_config_round_trips_through_json(config):
    logged = json.loads(json.dumps(augment_to_dict(config)))
    assert augment_from_dict(logged) == config
    assert AugmentConfig.from_dict(config.to_dict()) == config
    # albumentations rebuilds the same pipelines from its own part of the log
    assert repr(A.from_dict(logged["pair"])) == repr(build_pair_transform(config))
    assert repr(A.from_dict(logged["intensity"])) == repr(build_intensity_transform(config))


def test_none_serialises_as_none():
    assert augment_from_dict(augment_to_dict(None)) is None


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="probability"):
        AugmentConfig(hflip=1.5)
    with pytest.raises(ValueError, match="gamma"):
        AugmentConfig(gamma=(120, 80))
    with pytest.raises(ValueError, match="unknown AugmentConfig fields"):
        AugmentConfig.from_dict({"flip": 0.5})


def test_the_target_is_left_as_recorded_unless_asked():
    """The generator draws what it is shown: noise or intensity changes on its target would be
    drawn back, so by default they reach no task's target."""
    for task in ("mask2image", "virtual_staining"):
        assert not AugmentConfig().target_gets_intensity(task)
        assert not AugmentConfig(intensity_on_target=None).target_gets_intensity(task)  # older run logs
        assert AugmentConfig(intensity_on_target=True).target_gets_intensity(task)


@pytest.mark.parametrize("read_std, photons, expected", [
    (0.0, 400.0, (0.5 / 20, 0.9 / 20)),                       # shot noise: sqrt(x / photons)
    (0.03, None, (0.03, 0.03)),                               # read noise only
    (0.03, 400.0, (np.hypot(0.025, 0.03), np.hypot(0.045, 0.03))),
])
def test_poisson_gaussian_noise_is_seeded_unbiased_and_follows_the_model(read_std, photons, expected):
    image = np.full((128, 128, 1), 0.25, dtype=np.float32)
    image[:, 64:] = 0.81
    noise = PoissonGaussianNoise(read_std_range=(read_std, read_std),
                                 photons_range=None if photons is None else (photons, photons), p=1.0)
    transform = A.Compose([noise], seed=5)
    noisy = transform(image=image)["image"]
    assert noisy.dtype == np.float32 and noisy.shape == image.shape
    transform.set_random_seed(5)
    np.testing.assert_array_equal(transform(image=image)["image"], noisy)
    left, right = noisy[:, :64] - 0.25, noisy[:, 64:] - 0.81
    assert abs(left.mean()) < 2e-3 and abs(right.mean()) < 2e-3
    np.testing.assert_allclose([left.std(), right.std()], expected, rtol=0.05)


def test_noise_works_on_many_channels():
    image = np.full((16, 16, 13), 0.5, dtype=np.float32)
    noisy = A.Compose([PoissonGaussianNoise(p=1.0)], seed=0)(image=image)["image"]
    assert noisy.shape == image.shape and not np.array_equal(noisy[..., 0], noisy[..., 1])
