"""benchmarks/nucleus_swaps.py: its per-nucleus measures and the two rescalings its oracles use."""

import numpy as np
import pytest

from tests.benchmarks import load_script


def field(texture=0.05, glow=0.3):
    """A 96-px field: one textured 30x30 nucleus at 0.2 on a background at -0.9, with a glow
    that falls off over 4 px outside it, and faint grain."""
    from scipy import ndimage as ndi

    rng = np.random.default_rng(0)
    ids = np.zeros((96, 96), np.int32)
    ids[30:60, 30:60] = 1
    distance = ndi.distance_transform_edt(ids == 0)
    image = np.where(ids > 0, 0.2, -0.9 + glow * 1.1 * np.exp(-distance / 2.0))
    image = image + np.where(ids > 0, ndi.gaussian_filter(rng.normal(0, 1, ids.shape), 1.0) * texture / 0.28, 0.0)
    image = image + rng.normal(0, 0.002, ids.shape)
    return image[..., None].astype(np.float32), ids


@pytest.mark.backend_independent
def test_the_measures_follow_the_nucleus_they_describe():
    script = load_script("nucleus_swaps")
    weak, strong = script.Field(*field(texture=0.02)), script.Field(*field(texture=0.06))
    assert list(weak.nuclei) == [1]
    assert strong.nuclei[1]["texture"] == pytest.approx(3 * weak.nuclei[1]["texture"], rel=0.15)
    assert weak.background == pytest.approx(-0.9, abs=0.01)
    dim, bright = script.Field(*field(glow=0.1)), script.Field(*field(glow=0.4))
    assert bright.nuclei[1]["glow"] == pytest.approx(4 * dim.nuclei[1]["glow"], rel=0.1)
    assert 0 < dim.nuclei[1]["glow"] < bright.nuclei[1]["glow"] < 1


@pytest.mark.backend_independent
def test_the_rescalings_change_one_nucleus_texture_or_glow_and_nothing_far_away():
    script = load_script("nucleus_swaps")
    image, ids = field(texture=0.03, glow=0.2)
    measured = script.Field(image, ids)
    doubled = script.Field(measured.with_texture({1: 2 * measured.nuclei[1]["texture"]}), ids)
    assert doubled.nuclei[1]["texture"] == pytest.approx(2 * measured.nuclei[1]["texture"], rel=0.02)
    halved = script.Field(measured.with_glow({1: 0.5}), ids)
    assert halved.nuclei[1]["glow"] == pytest.approx(0.5 * measured.nuclei[1]["glow"], rel=0.1)
    assert doubled.nuclei[1]["mean"] == pytest.approx(measured.nuclei[1]["mean"], abs=0.005)
    # The glow leaves the nucleus and the far background as they were; the texture leaves
    # everything outside the nucleus's core, its rim included.
    glow = measured.with_glow({1: 0.5})
    np.testing.assert_allclose(glow[ids > 0], image[ids > 0], atol=1e-6)
    np.testing.assert_allclose(glow[:10, :10], image[:10, :10], atol=1e-6)
    texture = measured.with_texture({1: 0.5 * measured.nuclei[1]["texture"]})
    core = np.zeros_like(ids, bool)
    core[30 + script.CORE:60 - script.CORE, 30 + script.CORE:60 - script.CORE] = True
    np.testing.assert_allclose(texture[~core], image[~core], atol=1e-6)
    assert np.abs(texture[core] - image[core]).max() > 0.01


@pytest.mark.backend_independent
def test_a_folder_without_a_generator_is_refused_by_name(tmp_path):
    script = load_script("nucleus_swaps")
    with pytest.raises(SystemExit, match="no generator.keras") as error:
        script.main(["--run", str(tmp_path), "--shards", str(tmp_path)])
    assert str(tmp_path) in str(error.value)
