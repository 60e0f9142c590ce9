import numpy as np
import pytest

from cig_k3.evaluation import features


def test_encoder_extractor_pools_the_feature_map():
    import keras

    encoder = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, strides=2, padding="same")]
    )
    images = np.random.default_rng(0).uniform(-1, 1, (5, 8, 8, 1)).astype(np.float32)
    extractor = features.encoder_extractor(encoder)
    values = extractor(images, batch_size=2)
    expected = keras.ops.convert_to_numpy(encoder.predict_on_batch(images)).mean(axis=(1, 2))
    assert extractor.name == "judge_encoder" and values.shape == (5, 4)
    np.testing.assert_allclose(values, expected, rtol=1e-5, atol=1e-6)


def test_extractor_resizes_and_replicates_grey_channels():
    import keras

    model = keras.Sequential([keras.Input((20, 20, 3)), keras.layers.GlobalAveragePooling2D()])
    extractor = features.FeatureExtractor("test", model, image_size=(20, 20), channels=3)
    grey = np.full((3, 10, 10, 1), 0.5, np.float32)
    grey[:, :5] = -0.5
    prepared = keras.ops.convert_to_numpy(extractor.prepare(grey))
    assert prepared.shape == (3, 20, 20, 3)
    np.testing.assert_allclose(prepared[..., 0], prepared[..., 2])
    np.testing.assert_allclose(extractor(grey, batch_size=2), np.zeros((3, 3)), atol=1e-6)


@pytest.mark.backend_independent
def test_inception_extractor_is_the_installed_fid_network():
    from cig_k3.evaluation.inception import InceptionFeatures, network_path

    extractor = features.inception_extractor()
    assert isinstance(extractor, InceptionFeatures) and extractor.name == "inception_v3"
    assert extractor.path == network_path()


@pytest.mark.backend_independent
def test_inception_extractor_never_downloads(tmp_path):
    with pytest.raises(FileNotFoundError, match="give the path of default_1.pt"):
        features.inception_extractor(tmp_path / "missing.pt")
