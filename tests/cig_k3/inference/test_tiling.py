import keras
import numpy as np
import pytest

from cig_k3.inference import predict_tiled

from tests.cig_k3.export.conftest import tiny_generator


def pointwise(batch):
    """A 1x1 'model': every output pixel depends on its input pixel only."""
    return np.tanh(batch @ np.array([[0.5], [-1.0], [2.0]], np.float32))


@pytest.mark.backend_independent
@pytest.mark.parametrize("shape", [(100, 137, 3), (8, 8, 3), (300, 40, 3)])
def test_pointwise_model_tiled_equals_untiled(shape):
    image = np.random.default_rng(0).random(shape, dtype=np.float32)
    expected = pointwise(image[None])[0]
    tiled = predict_tiled(pointwise, image, tile=32, overlap=8, multiple=8, batch_size=3)
    assert tiled.shape == shape[:2] + (1,)
    np.testing.assert_allclose(tiled, expected, atol=1e-6)


@pytest.mark.backend_independent
def test_blending_shows_no_seam():
    # A model whose output differs by tile (a constant offset per call) must blend smoothly:
    # neighbouring pixels never jump by more than the ramp allows.
    calls = []

    def offset(batch):
        calls.append(1)
        return np.full(batch.shape[:3] + (1,), float(len(calls) % 2), np.float32)

    out = predict_tiled(offset, np.zeros((96, 96, 1), np.float32), tile=32, overlap=16, multiple=8)
    jumps = max(np.abs(np.diff(out, axis=0)).max(), np.abs(np.diff(out, axis=1)).max())
    assert jumps < 0.2  # a hard seam would jump by 1


@pytest.mark.backend_independent
def test_bad_arguments():
    image = np.zeros((16, 16, 3), np.float32)
    with pytest.raises(ValueError, match="multiple"):
        predict_tiled(pointwise, image, tile=30, overlap=4, multiple=8)
    with pytest.raises(ValueError, match="overlap"):
        predict_tiled(pointwise, image, tile=32, overlap=20, multiple=8)
    with pytest.raises(ValueError, match="H x W x C"):
        predict_tiled(pointwise, image[..., 0], tile=32, overlap=4, multiple=8)


def test_unet_tiles_match_untiled_in_their_centres():
    generator = tiny_generator()
    image = np.zeros((128, 160, 3), np.float32)
    labels = np.random.default_rng(1).integers(0, 3, (128, 160))
    image[np.arange(128)[:, None], np.arange(160)[None], labels] = 1.0

    def run(batch):
        return keras.ops.convert_to_numpy(generator(batch, training=False))

    untiled = run(image[None])[0]
    tiled = predict_tiled(run, image, tile=64, overlap=32, multiple=8)
    # Away from tile borders (where zero padding differs from real context) the U-Net's
    # output equals the untiled one up to its weak far-field influence.
    centre = (slice(24, 104), slice(24, 136))
    assert np.abs(tiled[centre] - untiled[centre]).mean() < 0.02
    assert np.abs(tiled - untiled).max() < 0.5
    # And a field that fits one tile is exactly the untiled result.
    small = image[:40, :40]
    np.testing.assert_allclose(predict_tiled(run, small, tile=64, overlap=16, multiple=8),
                               run(np.pad(small, ((0, 0), (0, 0), (0, 0)))[None])[0][:40, :40], atol=1e-6)
