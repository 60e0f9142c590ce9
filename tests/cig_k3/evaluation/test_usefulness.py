import math

import numpy as np
import pytest

import cig_k3.evaluation.judge as judge_module
import cig_k3.evaluation.usefulness as usefulness
from cig_k3.evaluation.usefulness import train_on_synthetic
from cig_k3.models import UNetGenerator


def test_train_on_synthetic_reports_ratios_against_real(synthetic_shards):
    generator = UNetGenerator(3, 1, base_filters=4, depth=2, dropout_layers=0)
    results = train_on_synthetic(generator, synthetic_shards, crop=32, steps=2, batch_size=2, max_test_images=4)
    for name in ("real", "synthetic", "real_plus_synthetic"):
        assert 0.0 <= results[name]["dice_foreground"] <= 1.0
        assert results[name]["n_test"] >= 1
    real = results["real"]["dice_foreground"]
    assert real > 0  # so that the ratios below are numbers (a NaN would compare unequal and fail)
    for name in ("synthetic", "real_plus_synthetic"):
        ratio = results[f"{name}_dice_foreground_ratio"]
        assert math.isfinite(ratio) and ratio == pytest.approx(results[name]["dice_foreground"] / real)
    assert results["steps"] == 2


def test_ratios_are_against_real_and_nan_when_real_scores_zero(synthetic_shards, monkeypatch):
    """The ratio arithmetic on set scores: the segmenters' training is replaced, the scoring
    order (real, synthetic, real + synthetic) is the function's own."""
    scores = iter([{"dice_foreground": 0.5, "ap_50": 0.0, "n_test": 2},
                   {"dice_foreground": 0.25, "ap_50": 0.2, "n_test": 2},
                   {"dice_foreground": 0.75, "ap_50": 0.4, "n_test": 2}])
    monkeypatch.setattr(judge_module, "train_judge", lambda batches, **kwargs: None)
    monkeypatch.setattr(usefulness, "_score", lambda segmenter, test: next(scores))
    generator = UNetGenerator(3, 1, base_filters=4, depth=2, dropout_layers=0)
    results = train_on_synthetic(generator, synthetic_shards, crop=32, steps=2, batch_size=2, max_test_images=4)
    assert results["synthetic_dice_foreground_ratio"] == 0.5
    assert results["real_plus_synthetic_dice_foreground_ratio"] == 1.5
    assert np.isnan(results["synthetic_ap_50_ratio"]) and np.isnan(results["real_plus_synthetic_ap_50_ratio"])


def test_synthetic_pairs_are_draws_with_the_noise_on(synthetic_shards):
    """The segmenter learns from what `cig generate` writes: two passes over the same batches
    draw different images (a generator with noise; its mean image would repeat)."""
    from cig_k3.data import BatchStream

    generator = UNetGenerator(3, 1, base_filters=4, depth=2, dropout_layers=0, noise=True, camera_noise=True)
    batches = list(BatchStream(synthetic_shards, split="train", batch_size=2, crop=32, seed=0).epoch(0))[:2]
    first = [image for _, image in usefulness._synthetic(iter(batches), generator)]
    again = [image for _, image in usefulness._synthetic(iter(batches), generator)]
    assert len(first) == 2 and first[0].shape == (2, 32, 32, 1)
    assert all(np.abs(a - b).max() > 1e-4 for a, b in zip(first, again))
    import keras

    mean = keras.ops.convert_to_numpy(generator(batches[0][0], training=False))
    assert np.allclose(keras.ops.convert_to_numpy(generator(batches[0][0], training=False)), mean)  # it repeats


def test_several_draws_give_the_median_ratio_and_each_draw_its_own_images(synthetic_shards, monkeypatch):
    """draws=3: each synthetic segmenter is trained on another draw of the synthetic set (the
    generator reseeded), and the ratio is the median of the three, beside the list."""
    aps = iter([0.8, 0.4, 0.8, 0.6, 0.8, 0.8, 0.8] * 2)  # real, synthetic x 3, real + synthetic x 3; twice
    first_images = []

    def train_judge(batches, **kwargs):
        first_images.append(np.asarray(next(batches)[1]))
        return None

    monkeypatch.setattr(judge_module, "train_judge", train_judge)
    monkeypatch.setattr(usefulness, "_score", lambda segmenter, test: {"dice_foreground": 0.9, "ap_50": next(aps),
                                                                        "n_test": 2})
    generator = UNetGenerator(3, 1, base_filters=4, depth=2, dropout_layers=0, noise=True, camera_noise=True, seed=0)
    results = train_on_synthetic(generator, synthetic_shards, crop=32, steps=2, batch_size=2, max_test_images=4,
                                 draws=3)
    assert results["synthetic_ap_50_ratios"] == pytest.approx([0.5, 1.0, 0.75])
    assert results["synthetic_ap_50_ratio"] == pytest.approx(0.75) and results["draws"] == 3
    assert len(results["synthetic_draws"]) == 3 and results["synthetic"] == results["synthetic_draws"][0]
    synthetic = first_images[1:4]
    assert all(np.abs(a - b).max() > 1e-4 for a, b in [(synthetic[0], synthetic[1]), (synthetic[1], synthetic[2])])
    # Each draw is its seed's: a second call draws the same three sets again.
    train_on_synthetic(generator, synthetic_shards, crop=32, steps=2, batch_size=2, max_test_images=4, draws=3)
    for first, again in zip(synthetic, first_images[8:11]):
        np.testing.assert_array_equal(first, again)
    with pytest.raises(ValueError, match="draws=0 must be at least 1"):
        train_on_synthetic(generator, synthetic_shards, crop=32, draws=0)
