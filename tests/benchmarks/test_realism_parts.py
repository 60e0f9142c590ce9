"""benchmarks/realism_parts.py: each part alone, the rest of real and drawn fields filled alike."""

import numpy as np
import pytest
from scipy.ndimage import distance_transform_edt

from tests.benchmarks import load_script


@pytest.mark.backend_independent
def test_a_part_alone_keeps_its_own_pixels_and_fills_the_rest_alike():
    script = load_script("realism_parts")
    rng = np.random.default_rng(0)
    instances = np.zeros((48, 48), np.int32)
    instances[8:20, 8:20] = 1
    distance = distance_transform_edt(instances == 0)
    real, drawn = (rng.normal(-0.9, 0.05, (48, 48, 1)).astype(np.float32) for _ in range(2))
    for name, keep in script.ALONE.items():
        inside = keep(distance)
        assert 0 < inside.sum() < inside.size, name
        (real_alone,), (drawn_alone,) = (script.alone([image], [distance], keep, -0.95) for image in (real, drawn))
        np.testing.assert_array_equal(real_alone[inside], real[inside])
        np.testing.assert_array_equal(drawn_alone[inside], drawn[inside])
        # Outside the part both are one and the same constant: only the part's pixels can differ.
        assert np.all(real_alone[~inside] == np.float32(-0.95)) and np.all(drawn_alone[~inside] == np.float32(-0.95))
    # The parts are the ones named: the nuclei alone are the object's pixels, the far background over 10 px away.
    assert np.array_equal(script.ALONE["nuclei (d = 0)"](distance), instances > 0)
    assert not script.ALONE["far background (d > 10)"](distance)[5:23, 5:23].any()
