"""One draw of the pixel noise per field: a tiled field keeps its noise whole across the overlaps."""

import keras
import numpy as np

from cig_k3.evaluation.evaluate import generate_fields
from cig_k3.inference.tiling import predict_tiled
from cig_k3.layers import CameraNoise, NoiseInjection, Specks, one_draw_per_field, sampling, stochastic_layers


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def noise_model(size_multiple=4):
    """A zero image plus full-resolution noise (injection, camera), and noise injected at half
    resolution and brought back up: everything a tiled field's noise goes through."""
    inputs = keras.Input((None, None, 1))
    full = NoiseInjection(1.0, seed=0, name="full")(inputs)
    half = keras.layers.AveragePooling2D(2)(inputs)
    half = NoiseInjection(1.0, seed=1, name="half")(half)
    half = keras.layers.UpSampling2D(2)(half)
    image = keras.layers.Add()([full, half])
    image = CameraNoise(read=0.5, shot=0.0, seed=2, name="camera")(image)
    model = keras.Model(inputs, image)
    model.size_multiple = size_multiple
    return model


def raised_cosine_overlap(field, tile=16, overlap=8):
    """Rows of `field` in the middle of the first vertical overlap (both tiles weigh 1/2)."""
    stride = tile - overlap
    return field[:, stride + overlap // 2 - 1:stride + overlap // 2 + 1]


def test_a_tiled_field_draws_the_same_noise_as_the_whole_field():
    model = noise_model()
    condition = np.zeros((40, 56, 1), "float32")
    tiled = generate_fields(model, [condition], tile=16, overlap=8, sample=True)[0]
    whole = generate_fields(model, [condition], tile=64, overlap=8, sample=True)[0]
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
    # Tile by tile, the two tiles' noise would be independent in the overlap and the blend
    # would keep half its variance there; drawn per field, it keeps it all.
    assert np.std(raised_cosine_overlap(tiled)) > 0.9 * np.std(tiled)


def test_without_one_draw_per_field_the_overlap_loses_noise():
    """What the field's draw mends: the same tiling, each tile drawing its own noise."""
    model = noise_model()
    condition = np.zeros((64, 64, 1), "float32")
    with sampling(model):
        tiled = predict_tiled(lambda x: numpy(model(x)), condition, 16, 8, 4)
    assert np.std(raised_cosine_overlap(tiled)) < 0.85 * np.std(tiled)


def test_the_field_draw_is_per_field_and_sample_and_reproducible():
    model = noise_model()
    conditions = [np.zeros((24, 32, 1), "float32")] * 2
    first, second = generate_fields(model, conditions, tile=16, overlap=8, sample=True)
    again = generate_fields(model, conditions, tile=16, overlap=8, sample=True)[0]
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - second).mean() > 0.1  # two fields: two draws
    samples = generate_fields(model, conditions[:1], tile=16, overlap=8, samples=2)[0]
    assert np.abs(samples[0] - samples[1]).mean() > 0.1
    assert all(layer.field_noise is None for layer in stochastic_layers(model) if hasattr(layer, "field_noise"))


def test_specks_are_placed_once_per_field():
    inputs = keras.Input((None, None, 1))
    model = keras.Model(inputs, Specks(density=0.02, amplitudes=[0.5], seed=0)(inputs - 1.0))
    model.size_multiple = 1
    condition = np.zeros((48, 48, 1), "float32")
    tiled = generate_fields(model, [condition], tile=16, overlap=8, sample=True)[0]
    whole = generate_fields(model, [condition], tile=64, overlap=8, sample=True)[0]
    peaks = lambda image: set(zip(*np.nonzero(image[..., 0] > -1 + 0.45)))  # noqa: E731
    assert len(peaks(whole)) > 10
    # A speck whose centre lies outside a tile reaches it only through the Gaussian's tail, so
    # the images agree up to those tails: the same specks, at full brightness, in both.
    assert peaks(tiled) == peaks(whole)
    assert np.abs(tiled - whole).max() < 0.05


def test_training_and_unplaced_calls_draw_from_the_layers_own_seeds():
    model = noise_model()
    x = np.zeros((1, 16, 16, 1), "float32")
    layer = model.get_layer("camera")
    with sampling(model), one_draw_per_field(model, 3) as field:
        assert layer.field_noise is field
        unplaced = numpy(model(x))  # nothing placed: the seed generators, as outside
        field.place([(0, 0)], (16, 16), (16, 16))
        placed, trained = numpy(model(x)), numpy(model(x, training=True))
        np.testing.assert_array_equal(placed, numpy(model(x)))  # the field's map, read again
        assert np.abs(trained - placed).mean() > 0.1 and np.abs(unplaced - placed).mean() > 0.1
    assert layer.field_noise is None
