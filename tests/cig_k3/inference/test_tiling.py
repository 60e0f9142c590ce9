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


@pytest.mark.backend_independent
@pytest.mark.parametrize("size, tile, overlap, multiple", [(4096, 256, 32, 32), (4096, 512, 32, 32), (304, 32, 8, 8),
                                                           (100, 32, 16, 4), (200, 64, 0, 8)])
def test_layout_computes_the_fewest_pixels_and_weights_add_up_to_one(size, tile, overlap, multiple):
    from cig_k3.inference.tiling import _axis_weights, _layout

    layout = _layout(size, tile, overlap, multiple)
    starts, lengths = [start for start, _ in layout], [length for _, length in layout]
    count = -(-(size - overlap) // (tile - overlap))
    assert len(layout) == count and starts[0] == 0 and starts[-1] + lengths[-1] == size
    assert all(length % multiple == 0 and length <= tile for length in lengths)
    assert max(lengths) - min(lengths) <= multiple and min(lengths) >= 2 * overlap  # ramps never meet
    shared = [starts[i] + lengths[i] - starts[i + 1] for i in range(count - 1)]
    assert min(shared) >= overlap and max(shared) - min(shared) <= 1
    # The least total length a layout of `count` tiles can have, up to one size multiple
    # (or `count` tiles of two overlaps, when shorter tiles would have to be).
    assert sum(lengths) < max(size + (count - 1) * overlap + multiple, count * 2 * overlap + 1)
    total = np.zeros(size)
    for (start, length), weights in zip(layout, _axis_weights(layout, size)):
        assert weights.shape == (length,) and weights.min() > 0
        total[start:start + length] += weights
    np.testing.assert_allclose(total, 1.0, atol=1e-6)


@pytest.mark.backend_independent
def test_tiles_of_one_shape_share_a_call_and_count_calls_agrees():
    from cig_k3.inference.tiling import count_calls

    shapes = []

    def recording(batch):
        shapes.append(batch.shape)
        return pointwise(batch)

    image = np.random.default_rng(2).random((300, 140, 3), dtype=np.float32)
    tiled = predict_tiled(recording, image, tile=64, overlap=16, multiple=16, batch_size=4)
    np.testing.assert_allclose(tiled, pointwise(image[None])[0], atol=1e-6)
    assert len({shape[1:3] for shape in shapes}) > 1  # 300 rows: tiles of 64 and 48 rows
    assert len(shapes) == count_calls(300, 140, 64, 16, 16, batch_size=4)
    assert sum(shape[0] for shape in shapes) == 6 * 3  # 6 rows x 3 columns of tiles


@pytest.mark.backend_independent
def test_computed_pixels_is_the_work_of_the_tiles():
    from cig_k3.inference.tiling import computed_pixels

    assert computed_pixels(4096, 4096, 256, 32, 32) == (4096 + 18 * 32) ** 2  # 19 x 19 tiles, overlaps of 32
    assert computed_pixels(100, 60, 128, 16, 8) == 104 * 64  # one padded tile
    pixels = []
    predict_tiled(lambda batch: pixels.append(batch.shape[0] * batch.shape[1] * batch.shape[2]) or batch[..., :1],
                  np.zeros((300, 140, 3), np.float32), tile=64, overlap=16, multiple=16, batch_size=5)
    assert sum(pixels) == computed_pixels(300, 140, 64, 16, 16)
