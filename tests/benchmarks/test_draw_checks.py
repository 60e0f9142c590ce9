"""benchmarks/draw_checks.py: its intensity remaps, and its refusal of a folder that is no run."""

import numpy as np
import pytest

from tests.benchmarks import load_script


def pair():
    """A drawn field (dimmer, grainier) and its real twin, with one square object."""
    rng = np.random.default_rng(3)
    instances = np.zeros((40, 40), np.int32)
    instances[10:25, 12:30] = 1
    real = np.where(instances[..., None] > 0, 0.4, -0.9) + rng.normal(0, 0.02, (40, 40, 1))
    drawn = np.where(instances[..., None] > 0, 0.1, -0.8) + rng.normal(0, 0.05, (40, 40, 1))
    return drawn.astype(np.float32), real.astype(np.float32), instances


@pytest.mark.backend_independent
def test_the_remaps_bring_the_draws_intensities_onto_the_real_ones():
    script = load_script("draw_checks")
    drawn, real, instances = pair()
    sets = script.remapped([drawn], [real], [instances])
    assert set(sets) == {"twin histogram", "twin histogram by region", "pooled quantile map"}
    levels = [0.05, 0.25, 0.5, 0.75, 0.95]
    # The draw itself misses the real quantiles by 0.1 or more; every remap lands on them.
    assert np.abs(np.quantile(drawn, levels) - np.quantile(real, levels)).max() > 0.1
    for name, (image,) in sets.items():
        assert image.shape == drawn.shape and image.dtype == np.float32, name
        np.testing.assert_allclose(np.quantile(image, levels), np.quantile(real, levels), atol=0.02, err_msg=name)
        # Monotone maps keep the order of the pixels (the nuclei stay brighter than the background).
        assert image[instances > 0].min() > image[instances == 0].max(), name
    inside = instances > 0
    by_region = sets["twin histogram by region"][0][..., 0]
    # By region, each side gets its own side's real spread: the grain of 0.05 becomes 0.02.
    assert by_region[inside].std() == pytest.approx(real[..., 0][inside].std(), rel=0.1)
    assert by_region[~inside].std() == pytest.approx(real[..., 0][~inside].std(), rel=0.1)


@pytest.mark.backend_independent
def test_a_folder_without_a_run_is_refused_by_name(tmp_path):
    script = load_script("draw_checks")
    with pytest.raises(SystemExit, match="no config.json") as error:
        script.main(["--run", str(tmp_path), "--shards", str(tmp_path)])
    assert str(tmp_path) in str(error.value)
