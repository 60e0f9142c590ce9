"""texture_bands: the texture's amplitude by scale inside the objects and in the far background,
generated against real; 1 for the same texture, near 0 painted flat, blind to the other region."""

import numpy as np
import pytest

from cig_k3.evaluation import texture_bands

pytestmark = pytest.mark.backend_independent


def fields(rng, count=6, object_grain=0.05, background_grain=0.02, size=96):
    """Discs (instances 1..n) of their own brightness on a dim background, white grain in each."""
    y, x = np.mgrid[:size, :size]
    images, maps = [], []
    for _ in range(count):
        ids = np.zeros((size, size), np.int32)
        for number in range(1, 5):
            cy, cx = rng.integers(16, size - 16, 2)
            ids[((y - cy) ** 2 + (x - cx) ** 2 < 11 ** 2) & (ids == 0)] = number
        brightness = np.where(ids > 0, 0.3 + 0.1 * ids, 0.05)
        grain = np.where(ids > 0, object_grain, background_grain) * rng.standard_normal((size, size))
        images.append(brightness + grain)
        maps.append(ids)
    return images, maps


def test_the_same_texture_scores_one_and_texture_painted_flat_near_zero():
    rng = np.random.default_rng(0)
    images, maps = fields(rng)
    real = texture_bands.amplitude_table(images, maps)
    assert real["objects"].shape == (6, len(texture_bands.SIGMAS) - 1)
    same = texture_bands.compare_bands(real, real)
    assert same["object_texture_ratio"] == 1.0 and same["objects"]["ratio"] == [1.0] * 4
    # The same kind of texture, drawn afresh for the same masks: about 1 in both regions.
    rng_noise = np.random.default_rng(5)
    fresh = [np.where(ids > 0, 0.3 + 0.1 * ids, 0.05) + np.where(ids > 0, 0.05, 0.02)
             * rng_noise.standard_normal(ids.shape) for ids in maps]
    compared = texture_bands.compare_bands(real, texture_bands.amplitude_table(fresh, maps))
    assert compared["object_texture_ratio"] == pytest.approx(1.0, abs=0.05)
    assert compared["background_texture_ratio"] == pytest.approx(1.0, abs=0.05)
    # The objects' grain at 0.8 of its amplitude reads 0.8 there, and nothing changes outside.
    weaker = [np.where(ids > 0, 0.3 + 0.1 * ids, 0.05) + np.where(ids > 0, 0.04, 0.02)
              * np.random.default_rng(5 + k).standard_normal(ids.shape) for k, ids in enumerate(maps)]
    compared = texture_bands.compare_bands(real, texture_bands.amplitude_table(weaker, maps))
    assert compared["object_texture_ratio"] == pytest.approx(0.8, abs=0.03)
    assert compared["background_texture_ratio"] == pytest.approx(1.0, abs=0.05)
    assert len(compared["objects"]["ratio"]) == len(texture_bands.SIGMAS) - 1
    # Painted flat and blurred (the flat-mask baseline): the fine bands are all but gone.
    from scipy import ndimage

    flat = [ndimage.gaussian_filter(np.where(ids > 0, 0.45, 0.05), 1.0) for ids in maps]
    compared = texture_bands.compare_bands(real, texture_bands.amplitude_table(flat, maps))
    assert compared["object_texture_ratio"] < 0.1 and compared["background_texture_ratio"] < 0.1


def test_regions_keep_outlines_out_and_fields_without_objects_count_as_missing():
    ids = np.zeros((40, 40), np.int32)
    ids[5:20, 5:20], ids[5:20, 20:35] = 1, 2  # two touching squares
    where, supports = texture_bands.regions(ids, interior=3, far=4)
    assert supports["objects"][12, 12] and not supports["objects"][12, 19] and not supports["background"][12, 12]
    # 3 px inside each square: away from the shared side too.
    assert where["objects"][12, 12] and not where["objects"][12, 19] and not where["objects"][12, 20]
    assert not where["objects"][6, 12] and where["objects"][8, 12]
    assert where["background"][30, 30] and not where["background"][22, 12]
    empty = texture_bands.field_amplitudes(np.zeros((40, 40)), np.zeros((40, 40), np.int32))
    assert all(np.isnan(empty["objects"])) and not any(np.isnan(empty["background"]))
    with pytest.raises(ValueError, match="2 images for 1 instance maps"):
        texture_bands.amplitude_table([np.zeros((8, 8))] * 2, [ids])
