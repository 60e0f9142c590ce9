"""The training sample grid ends with the samples' std map, as the galleries do."""

import numpy as np
import pytest

from cig_k3.training.callbacks import sample_grid, std_column


@pytest.mark.backend_independent
def test_std_column_is_bright_where_samples_differ_and_dark_elsewhere():
    base = np.zeros((2, 16, 16, 1), np.float32)
    samples = []
    for k in range(3):
        sample = base.copy()
        sample[:, 4:8, 4:8] = 0.2 * k  # the samples differ only in this square
        samples.append((f"sample {k + 1}", sample))
    name, rgb = std_column([("condition", base), ("target", base), *samples])
    assert name == "std" and rgb.shape == (2, 16, 16, 3)
    brightness = ((rgb + 1) / 2).mean(axis=-1)
    assert brightness[:, 4:8, 4:8].min() > 0.9  # magma's top is near white
    assert brightness[:, 10:, 10:].max() < 0.05  # and its bottom near black
    grid = sample_grid([("condition", base), ("target", base), *samples, (name, rgb)], condition_is_label=False)
    assert grid.shape == (2 * 16, 6 * 16, 3)


@pytest.mark.backend_independent
def test_no_std_column_without_two_samples():
    image = np.zeros((1, 8, 8, 1), np.float32)
    assert std_column([("condition", image), ("target", image), ("sample 1", image)]) is None
    assert std_column([("condition", image), ("translated", image)]) is None
