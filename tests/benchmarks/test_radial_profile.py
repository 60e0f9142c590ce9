"""benchmarks/radial_profile.py: rings inside nuclei raise the wiggle; a smooth dome does not."""

import numpy as np
import pytest

from tests.benchmarks import load_script

pytestmark = pytest.mark.backend_independent


def nuclei(ringed):
    """One 64-px field: a disk 24 px deep, brightening inwards (with rings 6 px apart when
    `ringed`), and a disk 6 px deep, too shallow to profile."""
    from scipy import ndimage

    ids = np.zeros((64, 64), np.int32)
    yy, xx = np.mgrid[:64, :64]
    ids[(yy - 30) ** 2 + (xx - 30) ** 2 < 24 ** 2] = 1
    ids[(yy - 58) ** 2 + (xx - 58) ** 2 < 5 ** 2] = 2
    distance = ndimage.distance_transform_edt(ids > 0)
    image = -0.9 + 0.8 * (1 - np.exp(-distance / 5.0))
    if ringed:
        image += 0.15 * np.cos(2 * np.pi * distance / 6.0) * (ids == 1)
    return [image[..., None].astype(np.float32)], [ids]


def test_rings_raise_the_wiggle_and_shallow_nuclei_are_left_out():
    script = load_script("radial_profile")
    smooth = script.radial_profiles(*nuclei(False), depth=14)
    ringed = script.radial_profiles(*nuclei(True), depth=14)
    assert smooth.shape == ringed.shape == (1, 14)  # the 6-px-deep nucleus is not profiled
    assert np.all(np.diff(smooth[0]) > 0)  # brightening inwards, band by band
    assert script.wiggle(ringed) > 3 * script.wiggle(smooth)
    assert np.isnan(script.wiggle(script.radial_profiles(*nuclei(False), depth=30)))  # none deep enough


def test_a_malformed_or_missing_run_is_refused(tmp_path):
    script = load_script("radial_profile")
    with pytest.raises(SystemExit, match="--run 'run': give NAME=RUN"):
        script.main(["--shards", str(tmp_path), "--run", "run"])
    with pytest.raises(SystemExit, match="holds no config.json"):
        script.main(["--shards", str(tmp_path), "--run", f"a={tmp_path}"])


def test_the_texture_gap_tells_a_painted_nucleus_from_a_grainy_one():
    from scipy import ndimage

    script = load_script("radial_profile")
    rng = np.random.default_rng(0)
    ids = np.zeros((64, 64), np.int32)
    ids[8:56, 8:56] = 1
    grain = ndimage.gaussian_filter(rng.normal(size=(64, 64)), 1.5)
    real = [(-0.9 + 0.8 * (ids > 0) + 0.1 * grain / grain.std())[..., None].astype(np.float32)]
    redrawn = ndimage.gaussian_filter(rng.normal(size=(64, 64)), 1.5)
    same = [(-0.9 + 0.8 * (ids > 0) + 0.1 * redrawn / redrawn.std())[..., None].astype(np.float32)]
    painted = [(-0.9 + 0.8 * (ids > 0)).astype(np.float32)[..., None]]
    statistics = {region: script.field_grams(real, [ids], region) for region in ("nuclei", "background")}
    assert script.texture_gap(statistics, real, [ids]) == {"nuclei": 0.0, "background": 0.0}
    grainy, flat = script.texture_gap(statistics, same, [ids]), script.texture_gap(statistics, painted, [ids])
    assert flat["nuclei"] > 0.9 and flat["nuclei"] > 3 * grainy["nuclei"]
    # Blind to brightness (zero-mean filters), and to what lies outside the region.
    brighter = [real[0] + 0.3 * (ids > 0)[..., None]]
    shifted = script.texture_gap(statistics, brighter, [ids])
    assert shifted["nuclei"] == pytest.approx(0.0, abs=1e-5) and shifted["background"] == pytest.approx(0.0, abs=1e-5)
