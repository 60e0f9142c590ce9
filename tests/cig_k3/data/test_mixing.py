"""MixLC pasting: a square of b's label and image in a's."""

import numpy as np
import pytest

from cig_k3.data import BatchStream
from cig_k3.data.mixing import mix_samples, square_box
from tests.cig_k3.data.conftest import raw_from_target

pytestmark = pytest.mark.backend_independent


@pytest.mark.parametrize("mode", ["random", "center"])
def test_pasted_square_holds_b_inside_and_a_outside(shard_dir, mode):
    crop = 24
    for seed in range(3):
        stream = BatchStream(shard_dir, batch_size=1, crop=crop, mixing=mode, seed=seed,
                             steps_per_epoch=None, shuffle_buffer=4)
        batches = list(stream.epoch(0))
        assert len(batches) == 3  # 7 fields -> 3 pairs
        for condition, target in batches:
            assert set(condition) == {"label", "raw"}
            assert condition["label"].shape == (1, crop, crop, 3) and condition["raw"].shape == (1, crop, crop, 1)
            raw_a = raw_from_target(condition["raw"][0, ..., 0])
            mixed = raw_from_target(target[0, ..., 0])
            label = condition["label"][0].argmax(-1)
            inside = mixed != raw_a
            rows, cols = np.nonzero(inside)
            top, left = rows.min(), cols.min()
            side = rows.max() - top + 1
            assert cols.max() - left + 1 == side and 6 <= side <= 12
            assert inside[top:top + side, left:left + side].all() and inside.sum() == side * side
            if mode == "center":
                assert (top, left) == ((crop - side) // 2, (crop - side) // 2)
            # the square comes from one other field (b), and the label follows the image
            assert len(np.unique(mixed[inside] // 4096)) == 1
            assert np.unique(mixed[inside] // 4096)[0] != np.unique(raw_a // 4096)[0]
            np.testing.assert_array_equal(label, mixed % 3)
            np.testing.assert_array_equal(label[~inside], raw_a[~inside] % 3)


def test_mix_samples_shifts_b_instances_past_a():
    a = {"condition": np.zeros((8, 8, 2)), "target": np.zeros((8, 8, 1)), "instances": np.full((8, 8), 3)}
    b = {"condition": np.ones((8, 8, 2)), "target": np.ones((8, 8, 1)), "instances": np.eye(8, dtype=int) * 2}
    mixed = mix_samples(a, b, (2, 2, 4))
    assert mixed["target"][2:6, 2:6].min() == 1 and mixed["target"].sum() == 16
    np.testing.assert_array_equal(mixed["condition"]["raw"], a["target"])
    expected = np.full((8, 8), 3)
    expected[2:6, 2:6] = np.where(np.eye(8, dtype=int)[2:6, 2:6] > 0, 5, 0)
    np.testing.assert_array_equal(mixed["instances"], expected)


def test_square_box_sizes_and_places():
    rng = np.random.default_rng(0)
    assert square_box(32, 32, rng, "center", 0.5) == (8, 8, 16)
    for _ in range(50):
        top, left, side = square_box(30, 40, rng, "random", (0.25, 0.5))
        assert 8 <= side <= 15 and 0 <= top <= 30 - side and 0 <= left <= 40 - side
    with pytest.raises(ValueError, match="mix_fraction"):
        square_box(32, 32, rng, "center", 1.5)


def test_mixing_needs_mask2image(make_shards):
    with pytest.raises(ValueError, match="mask2image"):
        BatchStream(make_shards(task="virtual_staining"), mixing="center")
