import numpy as np
import pytest

from cig_k3.evaluation.usefulness import train_on_synthetic
from cig_k3.models import UNetGenerator


def test_train_on_synthetic_reports_ratios_against_real(synthetic_shards):
    generator = UNetGenerator(3, 1, base_filters=4, depth=2, dropout_layers=0)
    results = train_on_synthetic(generator, synthetic_shards, crop=32, steps=2, batch_size=2, max_test_images=4)
    for name in ("real", "synthetic", "real_plus_synthetic"):
        assert 0.0 <= results[name]["dice_foreground"] <= 1.0
        assert results[name]["n_test"] >= 1
    expected = results["synthetic"]["dice_foreground"] / results["real"]["dice_foreground"]
    assert results["synthetic_dice_foreground_ratio"] == pytest.approx(expected) or np.isnan(expected)
    assert results["steps"] == 2
