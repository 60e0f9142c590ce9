"""The camera's read noise, measured on the train split's background before training
(`camera_noise: "calibrated"`)."""

import json

import cv2
import numpy as np
import pytest
import tifffile

from cig_k3.training import camera_calibration
from cig_k3.training.camera_calibration import (
    background_read_noise, field_specks, measure_camera_noise, measure_read_noise, measure_specks,
)

pytestmark = pytest.mark.backend_independent


def textured_field(rng, size=128, noise=0.01):
    """A dim background with slow shading, bright blobs with strong texture, white noise of
    deviation `noise` everywhere; and the blobs' mask."""
    y, x = np.mgrid[:size, :size] / size
    image = -0.9 + 0.05 * np.sin(3 * x) * np.cos(2 * y)
    foreground = np.zeros((size, size), bool)
    for top, left in ((10, 10), (20, 80), (80, 40)):
        foreground[top:top + 30, left:left + 30] = True
    image[foreground] += 1.0 + 0.2 * rng.standard_normal(foreground.sum())
    return image + noise * rng.standard_normal((size, size)), foreground


def test_the_read_noise_is_the_backgrounds_not_the_textures():
    image, foreground = textured_field(np.random.default_rng(0))
    assert background_read_noise(image, foreground) == pytest.approx(0.01, rel=0.05)
    assert background_read_noise(image[..., None], foreground) == pytest.approx(0.01, rel=0.05)
    # Why the background alone: over the whole field the blobs' texture counts as noise.
    assert background_read_noise(image, np.zeros_like(foreground)) > 3 * 0.01
    # Too little background that far from the blobs: no figure rather than a guess.
    dense = np.ones_like(foreground)
    dense[:12, :12] = False
    assert background_read_noise(image, dense) is None


def write_pairs(root, rng, count=12, size=96, read_dn=20.0, dense=False):
    """A folder source of `count` 16-bit fields: a background of 1000 DN with Gaussian read
    noise `read_dn`, bright textured objects (two, or with `dense` 8-px squares every 14 px,
    so that no background pixel is over 3 px from one); instance masks beside them."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for index in range(count):
        mask = np.zeros((size, size), np.uint16)
        if dense:
            for label, (top, left) in enumerate(((y, x) for y in range(0, size, 14) for x in range(0, size, 14)), 1):
                mask[top:top + 8, left:left + 8] = label
        else:
            mask[8:30, 8:30], mask[50:80, 40:70] = 1, 2
        image = 1000.0 + read_dn * rng.standard_normal((size, size))
        image[mask > 0] += 20000.0 + 3000.0 * rng.standard_normal((mask > 0).sum())
        tifffile.imwrite(root / "images" / f"field{index:02d}.tif", np.clip(image, 0, 65535).astype(np.uint16))
        cv2.imwrite(str(root / "masks" / f"field{index:02d}.png"), mask)


def expected_read(shards, read_dn=20.0):
    """`read_dn` in the model's [-1, 1] range: the percentile normalisation's scale."""
    stats = json.loads((shards / "manifest.json").read_text())["stats"]["raw"]
    return 2 * read_dn / (stats["p_high"][0] - stats["p_low"][0])


def test_measured_on_prepared_shards_in_the_models_range(tmp_path, caplog):
    from data_prep import prepare

    write_pairs(tmp_path / "source", np.random.default_rng(1))
    prepare(str(tmp_path / "source"), tmp_path / "shards", progress=False)
    with caplog.at_level("INFO", logger="cig_k3.training.camera_calibration"):
        assert measure_read_noise(tmp_path / "shards") == pytest.approx(expected_read(tmp_path / "shards"), rel=0.1)
    assert "background over 10 px" in caplog.text


def test_dense_fields_fall_back_to_a_narrower_margin(tmp_path, caplog):
    from data_prep import prepare

    write_pairs(tmp_path / "source", np.random.default_rng(2), dense=True)
    prepare(str(tmp_path / "source"), tmp_path / "shards", progress=False)
    with caplog.at_level("INFO", logger="cig_k3.training.camera_calibration"):
        assert measure_read_noise(tmp_path / "shards") == pytest.approx(expected_read(tmp_path / "shards"), rel=0.1)
    assert "background over 2 px" in caplog.text


def test_staining_shards_are_refused_in_one_line(tmp_path):
    from tests.cig_k3.data.conftest import write_shards

    shards = write_shards(str(tmp_path / "staining"), task="virtual_staining")
    with pytest.raises(ValueError, match=f"{shards}: camera_noise 'calibrated' .*virtual_staining"):
        measure_read_noise(shards)


def write_shot_pairs(root, rng, count=8, size=96, read_dn=20.0, gain=2.0):
    """16-bit fields of Poisson-Gaussian noise: variance read_dn^2 + gain (x - 1000) over a
    1000-DN background and objects shaded from 5000 to 30000 DN; instance masks beside them."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for index in range(count):
        mask = np.zeros((size, size), np.uint16)
        mask[6:40, 6:40], mask[50:90, 30:90] = 1, 2
        clean = np.full((size, size), 1000.0)
        ramp = np.linspace(5000.0, 30000.0, size)[None, :] * np.ones((size, 1))
        clean[mask > 0] = ramp[mask > 0] + 2000.0 * index / count
        variance = read_dn**2 + gain * (clean - 1000.0)
        image = clean + np.sqrt(variance) * rng.standard_normal((size, size))
        tifffile.imwrite(root / "images" / f"field{index:02d}.tif", np.clip(image, 0, 65535).astype(np.uint16))
        cv2.imwrite(str(root / "masks" / f"field{index:02d}.png"), mask)


def test_the_shot_noise_is_measured_inside_the_objects(tmp_path, caplog, monkeypatch):
    from data_prep import prepare

    write_shot_pairs(tmp_path / "source", np.random.default_rng(3))
    shards = tmp_path / "shards"
    prepare(str(tmp_path / "source"), shards, progress=False)
    stats = json.loads((shards / "manifest.json").read_text())["stats"]["raw"]
    scale = stats["p_high"][0] - stats["p_low"][0]
    # In the [-1, 1] range the noise grows as gain (x - 1000 DN): shot^2 = 4 gain / scale.
    with caplog.at_level("INFO", logger="cig_k3.training.camera_calibration"):
        read, shot = measure_camera_noise(shards)
    assert shot == pytest.approx(np.sqrt(4 * 2.0 / scale), rel=0.1)
    assert "over 3 px inside the objects" in caplog.text
    # read^2 + shot^2 (y + 1) / 2 is the background's own noise at the background's level.
    background = 2 * (1000.0 - stats["p_low"][0]) / scale - 1
    assert np.sqrt(read**2 + shot**2 * (background + 1) / 2) == pytest.approx(expected_read(shards), rel=0.1)
    assert read < measure_read_noise(shards)
    # Objects too small to hold an interior leave the shot noise to training.
    monkeypatch.setattr(camera_calibration, "MIN_INTERIOR", 10**9)
    assert measure_camera_noise(shards) == (measure_read_noise(shards), None)


def test_the_synthetic_sets_photon_noise_is_recovered(synthetic_shards):
    """data_prep.synthetic counts photons with a gain of 2 counts per photon (Poisson), so the
    shot noise in the model's range is sqrt(4 * 2 / scale); its brightest nuclei saturate at
    the normalisation's top, which the fit must leave out (with them it comes out 11 % low)."""
    stats = json.loads((synthetic_shards / "manifest.json").read_text())["stats"]["raw"]
    read, shot = measure_camera_noise(synthetic_shards)
    assert shot == pytest.approx(np.sqrt(4 * 2.0 / (stats["p_high"][0] - stats["p_low"][0])), rel=0.07)
    assert 0 < read < measure_read_noise(synthetic_shards)



def add_specks(image, rng, count, peaks, where=None, size=0.8):
    """`image` with `count` Gaussian specks of `size` px, each peak one of `peaks`, at random
    pixels where `where` holds (default: anywhere), 4 px or more from the border and from each
    other; and their positions."""
    from scipy.ndimage import gaussian_filter

    allowed = np.zeros(image.shape, bool)
    allowed[4:-4, 4:-4] = True
    candidates = np.argwhere(allowed if where is None else allowed & where)
    positions = []
    for y, x in candidates[rng.permutation(len(candidates))]:
        if len(positions) == count:
            break
        if all(abs(y - a) > 4 or abs(x - b) > 4 for a, b in positions):
            positions.append((int(y), int(x)))
    impulses = np.zeros(image.shape)
    for y, x in positions:
        impulses[y, x] = rng.choice(peaks)
    # gaussian_filter keeps the sum; times 2 pi size^2 the peak is the impulse (to 1 %).
    return image + gaussian_filter(impulses, size) * 2 * np.pi * size**2, positions


def test_specks_are_found_on_the_far_background_with_their_peaks():
    from scipy.ndimage import distance_transform_edt

    rng = np.random.default_rng(1)
    clean, foreground = textured_field(rng, size=192, noise=0.005)
    outside = distance_transform_edt(~foreground)
    image, positions = add_specks(clean, rng, 60, [0.06, 0.12])
    far = [position for position in positions if outside[position] > 10]
    peaks, area = field_specks(image, outside, 10)
    assert area == (outside > 10).sum() and 20 < len(far) < 60
    assert len(peaks) == pytest.approx(len(far), abs=2)
    # Each peak comes back at its size, the high-pass's loss divided out.
    assert np.median(np.minimum(np.abs(peaks - 0.06), np.abs(peaks - 0.12))) < 0.01
    assert 0.3 < np.mean(peaks < 0.09) < 0.7
    # The grain alone gives none, and the objects' texture counts only when the objects do.
    assert len(field_specks(clean, outside, 10)[0]) == 0
    assert len(field_specks(clean, np.full_like(outside, 99.0), 10)[0]) > 20


def write_speck_pairs(root, rng, peaks_dn, count=12, size=96, specks=5):
    """`write_pairs` fields with `specks` specks each (peaks of `peaks_dn` over the
    background's 1000 DN, read noise 20 DN), all over 12 px from the objects."""
    from scipy.ndimage import distance_transform_edt

    write_pairs(root, rng, count=count, size=size)
    for path in sorted((root / "images").glob("*.tif")):
        mask = cv2.imread(str(root / "masks" / path.with_suffix(".png").name), cv2.IMREAD_UNCHANGED)
        bumps, _ = add_specks(np.zeros((size, size)), rng, specks, peaks_dn, where=distance_transform_edt(mask == 0) > 12)
        image = tifffile.imread(path).astype(np.float64) + bumps
        tifffile.imwrite(path, np.clip(image, 0, 65535).astype(np.uint16))


def test_measure_specks_gives_their_density_and_brightness_on_shards(tmp_path, caplog):
    from scipy.ndimage import distance_transform_edt

    from data_prep import prepare

    write_pairs(tmp_path / "plain", np.random.default_rng(4))
    prepare(str(tmp_path / "plain"), tmp_path / "plain_shards", progress=False)
    assert measure_specks(tmp_path / "plain_shards") == (0.0, [0.0])  # the grain alone is no speck

    write_speck_pairs(tmp_path / "source", np.random.default_rng(5), [300.0, 600.0])
    shards = tmp_path / "shards"
    prepare(str(tmp_path / "source"), shards, progress=False)
    masks = [cv2.imread(str(path), cv2.IMREAD_UNCHANGED) for path in sorted((tmp_path / "source" / "masks").glob("*"))]
    far_area = sum(int((distance_transform_edt(mask == 0) > 10).sum()) for mask in masks)
    stats = json.loads((shards / "manifest.json").read_text())["stats"]["raw"]
    scale = 2.0 / (stats["p_high"][0] - stats["p_low"][0])  # DN -> the model's range
    with caplog.at_level("INFO", logger="cig_k3.training.camera_calibration"):
        density, amplitudes = measure_specks(shards)
    assert density == pytest.approx(5 * len(masks) / far_area, rel=0.1)
    assert len(amplitudes) == 16 and amplitudes == sorted(amplitudes)
    assert amplitudes[3] == pytest.approx(300 * scale, rel=0.15) and amplitudes[-4] == pytest.approx(600 * scale, rel=0.15)
    assert "over 10 px from any object" in caplog.text
