"""The style encoder and the U-Net it steers: shapes, one code for any style size, the
reparameterised draw under the sampling switch, and .keras round trips in a fresh process."""

import keras
import numpy as np
import pytest

from cig_k3.inference.generate import reseed_dropout
from cig_k3.layers import sampling, stochastic_layers
from cig_k3.layers.style_code import StyleCode, StyleSample
from cig_k3.models import CUSTOM_OBJECTS, GENERATORS, StyleEncoder, StyleUNetGenerator, build_generator
from cig_k3.models.style_encoder import has_style_encoder


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def tiny(seed=0, **kwargs):
    return StyleUNetGenerator(3, 1, latent_dim=4, base_filters=4, depth=2, max_filters=8, encoder_filters=4,
                              encoder_downsamples=2, noise=True, upsample="resize_conv", seed=seed, **kwargs)


def inputs(size=32, style_size=(24, 40), seed=0):
    rng = np.random.default_rng(seed)
    return {"label": np.eye(3, dtype="float32")[rng.integers(0, 3, (2, size, size))],
            "raw": rng.uniform(-1, 1, (2, *style_size, 1)).astype("float32")}


def test_encoder_gives_mu_and_logvar_for_any_size():
    encoder = StyleEncoder(1, latent_dim=5, base_filters=4, num_downsamples=3)
    for shape in ((2, 32, 32, 1), (2, 13, 50, 1)):
        mu, logvar = encoder(np.random.default_rng(0).random(shape, dtype=np.float32))
        assert tuple(mu.shape) == (2, 5) and tuple(logvar.shape) == (2, 5)
        assert keras.backend.standardize_dtype(mu.dtype) == keras.backend.standardize_dtype(logvar.dtype) == "float32"
    # No normalisation: a brighter image gives another code (instance norm would erase it).
    dark, bright = np.full((1, 16, 16, 1), -0.8, "float32"), np.full((1, 16, 16, 1), 0.8, "float32")
    assert np.abs(numpy(encoder(dark)[0]) - numpy(encoder(bright)[0])).max() > 1e-3


def test_style_code_broadcasts_a_given_code():
    features = np.random.default_rng(0).random((2, 4, 5, 3), dtype=np.float32)
    code = np.array([[1.0, 2.0], [3.0, 4.0]], "float32")
    out = numpy(StyleCode()([features, code]))
    assert out.shape == (2, 4, 5, 5)
    np.testing.assert_array_equal(out[..., :3], features)
    np.testing.assert_array_equal(out[..., 3:], np.broadcast_to(code[:, None, None], (2, 4, 5, 2)))


def test_style_sample_is_mu_at_inference_and_draws_when_training_or_sampling():
    mu = np.array([[1.0, -1.0, 0.5]] * 4000, "float32")
    logvar = np.log(np.array([[0.25, 1.0, 4.0]] * 4000, "float32"))
    layer = StyleSample(seed=0)
    np.testing.assert_array_equal(numpy(layer([mu, logvar])), mu)
    drawn = numpy(layer([mu, logvar], training=True))
    np.testing.assert_allclose(drawn.mean(axis=0), mu[0], atol=0.1)
    np.testing.assert_allclose(drawn.std(axis=0), [0.5, 1.0, 2.0], rtol=0.1)  # exp(logvar / 2)
    layer.sampling = True
    assert np.abs(numpy(layer([mu, logvar])) - mu).max() > 0.1


def test_generator_takes_a_label_and_a_style_of_any_size():
    generator = tiny()
    out = numpy(generator(inputs()))
    assert out.shape == (2, 32, 32, 1) and np.abs(out).max() <= 1 and generator.size_multiple == 4
    assert has_style_encoder(generator) and not has_style_encoder(build_generator("unet", base_filters=4, depth=2))
    assert GENERATORS["style_unet"] is StyleUNetGenerator
    assert {"StyleUNetGenerator", "StyleEncoder", "StyleSample", "StyleCode"} <= set(CUSTOM_OBJECTS)
    # Plain inference uses z = mu of the style: the call equals synthesize(label, encode(raw)[0]).
    mu, logvar = generator.encode(inputs()["raw"])
    np.testing.assert_allclose(numpy(generator.synthesize(inputs()["label"], mu)), out, atol=1e-5)
    # The style steers the image: another style, another image; the same style, the same image.
    other = numpy(generator({**inputs(), "raw": inputs(seed=1)["raw"] + 0.5}))
    assert np.abs(other - out).max() > 1e-4
    np.testing.assert_array_equal(numpy(generator(inputs())), out)
    with pytest.raises(ValueError, match="latent_dim"):
        StyleUNetGenerator(3, 1, latent_dim=0)


def test_sampling_and_reseeding_reach_the_style_draw():
    generator = tiny(seed=3)
    assert any(isinstance(layer, StyleSample) for layer in stochastic_layers(generator))
    reseed_dropout(generator, 5)
    with sampling(generator):
        first, second = numpy(generator(inputs())), numpy(generator(inputs()))
    assert np.abs(first - second).max() > 1e-4
    reseed_dropout(generator, 5)
    with sampling(generator):
        np.testing.assert_allclose(numpy(generator(inputs())), first, atol=1e-6)


def test_config_round_trips_every_argument():
    generator = tiny(seed=7, full_resolution_noise=True)
    config = generator.get_config()
    assert config["latent_dim"] == 4 and config["encoder_downsamples"] == 2 and config["full_resolution_noise"]
    rebuilt = StyleUNetGenerator.from_config(config)
    assert rebuilt.get_config() == config
    assert rebuilt.get_layer("unet").in_channels == 3 + 4 and rebuilt.get_layer("unet").latent_dim == 0
    encoder = StyleEncoder(1, 6, 4, 2, 16, pooling="average_max")
    assert StyleEncoder.from_config(encoder.get_config()).get_config() == encoder.get_config()
    assert encoder.get_layer("mu").kernel.shape == (2 * 8, 6)  # average and maximum of 8 features
    assert tiny(encoder_pooling="average_max").get_layer("style_encoder").pooling == "average_max"
    with pytest.raises(ValueError, match="pooling"):
        StyleEncoder(1, 6, pooling="median")
    assert StyleSample.from_config(StyleSample(seed=2).get_config()).seed == 2
