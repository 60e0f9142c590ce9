import numpy as np
import pytest
from scipy import ndimage

from cig_k3.evaluation import c2st


def _indistinguishable(result):
    low, high = result["ci95"]
    return low <= 0.5 <= high or result["accuracy"] < 0.65


@pytest.mark.backend_independent
def test_wilson_interval_hand_values():
    # p = 0.5, n = 100: centre 0.5, half width 1.96 * sqrt(0.25/100 + 1.96^2/40000) / 1.0384.
    low, high = c2st.wilson_interval(50, 100)
    assert low == pytest.approx(0.40383, abs=1e-4) and high == pytest.approx(0.59617, abs=1e-4)
    low, high = c2st.wilson_interval(10, 10)  # all right: the upper end is 1, the lower < 1
    assert high == pytest.approx(1.0) and low == pytest.approx(0.72246, abs=1e-4)


@pytest.mark.backend_independent
def test_split_by_group_keeps_groups_whole_and_balances_classes(rng):
    groups_real = rng.integers(0, 30, size=200)
    # Generated images carry the field id of the real image whose mask they were made for.
    groups_fake = np.concatenate([groups_real[:150], rng.integers(0, 30, size=40)])
    half_real, half_fake = c2st.split_by_group(groups_real, groups_fake, seed=3)
    for group in np.unique(np.concatenate([groups_real, groups_fake])):
        halves = np.concatenate([half_real[groups_real == group],
                                 half_fake[groups_fake == group]])
        assert len(np.unique(halves)) == 1, f"group {group} straddles halves"
    for halves, count in ((half_real, 200), (half_fake, 190)):
        assert abs(int((halves == 0).sum()) - count / 2) <= 0.15 * count
    again = c2st.split_by_group(groups_real, groups_fake, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(again, (half_real, half_fake)))


@pytest.mark.backend_independent
def test_split_by_group_refuses_a_split_without_both_classes_per_half():
    with pytest.raises(ValueError, match="cannot split 2 group"):
        c2st.split_by_group(np.zeros(5, int), np.ones(5, int))


@pytest.mark.backend_independent
def test_logistic_c2st_same_and_different_distributions(rng):
    real = rng.normal(size=(200, 32))
    same = rng.normal(size=(180, 32))
    result = c2st.c2st_logistic(real, same, seed=0)
    assert _indistinguishable(result), result
    assert result["n_test"] == 360 and result["n_train"] == 180  # subsampled to 180 each
    assert result["classifier"] == "logistic regression on Inception features"
    different = rng.normal(size=(200, 32)) + 1.0
    result = c2st.c2st_logistic(real, different, seed=0)
    assert result["accuracy"] > 0.9 and result["ci95"][0] > 0.8, result
    assert c2st.c2st_logistic(real, different, seed=0) == result  # fixed seed, same number


@pytest.mark.backend_independent
def test_logistic_c2st_with_groups_never_tests_on_a_training_field(rng):
    # Each field has its own layout (offset) and its generated images their own artefact
    # (a field-specific shift with no direction common to all fields). A classifier that
    # has seen a field can learn its artefact; one tested on unseen fields cannot.
    fields = np.repeat(np.arange(30), 8)
    offsets = rng.normal(size=(30, 128))
    artefacts = rng.normal(size=(30, 128))
    real = offsets[fields] + rng.normal(scale=0.3, size=(240, 128))
    fake = offsets[fields] + artefacts[fields] + rng.normal(scale=0.3, size=(240, 128))
    grouped = c2st.c2st_logistic(real, fake, fields, fields, seed=1)
    assert _indistinguishable(grouped), grouped
    leaky = c2st.c2st_logistic(real, fake, seed=1)  # one group per sample: fields straddle
    assert leaky["accuracy"] > 0.8, leaky
    with pytest.raises(ValueError, match="one group id per sample"):
        c2st.c2st_logistic(real, fake, fields[:10], fields)


def _smooth_tiles(rng, count, sigma, size=16):
    """Gaussian-noise texture smoothed with `sigma`, scaled to std 0.3 in [-1, 1]."""
    tiles = ndimage.gaussian_filter(rng.normal(size=(count, size, size)), (0, sigma, sigma))
    return (0.3 * tiles / tiles.std())[..., None].astype(np.float32)


def test_cnn_c2st_same_and_different_textures(rng):
    # Budget kept tiny for CI (the default budget is for 128 px tiles); 128 tiles a class
    # keep the held-out accuracy of identical sets within a few points of 0.5.
    options = dict(batch_size=16, crop=12, test_crops=4, progress=False)
    real = _smooth_tiles(rng, 128, sigma=0.0)  # white-noise texture
    blurred = _smooth_tiles(rng, 128, sigma=1.5)  # the same std, no fine grain
    result = c2st.c2st_cnn(real, blurred, seed=0, steps=30, **options)
    assert result["ci95"][0] > 0.8, result
    assert result["classifier"] == "small CNN on pixel crops" and result["n_test"] == 256
    assert result["crop"] == 12 and result["steps"] == 30
    same = _smooth_tiles(rng, 128, sigma=0.0)
    groups = np.arange(128) // 4
    result = c2st.c2st_cnn(real, same, groups, groups, seed=0, steps=10, **options)
    assert _indistinguishable(result), result
    with pytest.raises(ValueError, match="crop=32 is larger"):
        c2st.c2st_cnn(real, same, crop=32)
