"""benchmarks/c2st_sensitivity.py: the known changes it scores, and its option checks."""

import argparse

import numpy as np
import pytest

from tests.benchmarks import load_script


def fields():
    rng = np.random.default_rng(1)
    return [np.clip(rng.normal(-0.5, 0.2, (40, 50, 1)), -1, 1).astype(np.float32) for _ in range(2)]


@pytest.mark.backend_independent
def test_each_change_does_what_it_names_and_stays_in_range():
    script = load_script("c2st_sensitivity")
    images = fields()
    blurred = script.changed(images, "blur", 1.0)
    noisy = script.changed(images, "noise", 0.05)
    brighter = script.changed(images, "gain", 1.2)
    gamma = script.changed(images, "gamma", 0.5)
    for changed in (blurred, noisy, brighter, gamma):
        assert [c.shape for c in changed] == [i.shape for i in images]
        assert all(c.dtype == np.float32 and c.min() >= -1 and c.max() <= 1 for c in changed)
    # A blur takes pixel-scale variation away; noise adds it at the asked size.
    assert np.std(np.diff(blurred[0], axis=1)) < 0.5 * np.std(np.diff(images[0], axis=1))
    assert np.std(noisy[0] - images[0]) == pytest.approx(0.05, rel=0.1)
    # A gain above 1 and a gamma below 1 both brighten, the gain keeping black at -1.
    assert np.all(brighter[0] >= images[0]) and np.mean(brighter[0]) > np.mean(images[0]) + 0.05
    assert np.all(gamma[0] >= images[0] - 1e-6) and np.mean(gamma[0]) > np.mean(images[0]) + 0.05
    assert script.changed([np.full((4, 4, 1), -1.0)], "gain", 1.2)[0].max() == -1.0
    # The same seed draws the same noise: cached Inception features can be reused.
    np.testing.assert_array_equal(noisy[0], script.changed(images, "noise", 0.05)[0])


@pytest.mark.backend_independent
@pytest.mark.parametrize("text, says", [("sharpen:1", "blur, noise, gain or gamma"),
                                        ("blur:x", "must be a number"), ("noise:0", "must be positive")])
def test_a_bad_change_is_refused_by_name(text, says):
    script = load_script("c2st_sensitivity")
    with pytest.raises(argparse.ArgumentTypeError, match=says) as error:
        script.change(text)
    assert text in str(error.value)
    assert script.change("blur:0.5") == ("blur", 0.5)
