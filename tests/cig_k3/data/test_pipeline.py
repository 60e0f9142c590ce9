"""BatchStream: alignment through augmentation, encodings, determinism, evaluation mode."""

import numpy as np
import pytest

from cig_k3.data import AugmentConfig, BatchStream
from tests.cig_k3.data.conftest import raw_from_target

pytestmark = pytest.mark.backend_independent

WIDTH = 48  # of the fixture's fields (40 x 48)


def _dihedral(array):
    """The 8 rotations/flips of a square array."""
    for turned in (array, np.fliplr(array)):
        for k in range(4):
            yield np.rot90(turned, k)


def _all_arrays(batches):
    for batch in batches:
        for part in batch:
            yield from (part.values() if isinstance(part, dict) else [part])


def assert_same(first, second):
    first, second = list(_all_arrays(first)), list(_all_arrays(second))
    assert len(first) == len(second)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_raw_label_instances_stay_aligned_through_crops_flips_and_rotations(make_shards):
    shard_dir = make_shards(channels=2)
    stream = BatchStream(shard_dir, batch_size=4, crop=24, augment=AugmentConfig.geometric_only(),
                         steps_per_epoch=12, with_instances=True, seed=3)
    orientations = set()
    for condition, target, instances in stream.epoch(0):
        assert condition.shape == (4, 24, 24, 3) and target.shape == (4, 24, 24, 2)
        for label, image, objects in zip(condition, target, instances):
            raw = raw_from_target(image)
            np.testing.assert_array_equal(raw[..., 1], raw[..., 0] + 1024)  # channels move together
            positions = raw[..., 0] % 4096
            assert len(np.unique(raw[..., 0] // 4096)) == 1  # one field per crop
            np.testing.assert_array_equal(label.argmax(-1), raw[..., 0] % 3)
            np.testing.assert_array_equal(objects, positions // 7 + 1)
            rows, cols = positions // WIDTH, positions % WIDTH
            window = (rows.min() + np.arange(24))[:, None] * WIDTH + (cols.min() + np.arange(24))[None, :]
            matches = [k for k, moved in enumerate(_dihedral(window)) if np.array_equal(moved, positions)]
            assert matches, "the crop is not a rigid flip/rotation of a window of its field"
            orientations.add(matches[0])
    assert len(orientations) >= 4  # the augmentation does turn and flip


def test_semantic3_condition_is_one_hot_and_target_in_range(shard_dir):
    stream = BatchStream(shard_dir, batch_size=3, crop=16, augment=AugmentConfig(), steps_per_epoch=4)
    assert (stream.task, stream.encoding) == ("mask2image", "semantic3")
    assert (stream.condition_channels, stream.target_channels) == (3, 1)
    for condition, target in stream.epoch(0):
        assert condition.dtype == np.float32 and target.dtype == np.float32
        assert set(np.unique(condition)) <= {0.0, 1.0}
        np.testing.assert_array_equal(condition.sum(-1), 1.0)
        assert target.shape == (3, 16, 16, 1) and -1.0 <= target.min() and target.max() <= 1.0


def test_raw_encoding_is_one_scaled_channel(make_shards):
    stream = BatchStream(make_shards(encoding="raw"), batch_size=2, crop=16, steps_per_epoch=2)
    assert stream.condition_channels == 1
    for condition, target in stream.epoch(0):
        raw = raw_from_target(target[..., 0])
        np.testing.assert_allclose(condition[..., 0], (raw % 256) / 255.0 * 2 - 1, atol=1e-6)


def test_virtual_staining_condition_is_the_normalised_source(make_shards):
    stream = BatchStream(make_shards(task="virtual_staining"), batch_size=2, crop=16, steps_per_epoch=2,
                         augment=AugmentConfig(intensity_on_source=False))
    assert (stream.condition_channels, stream.target_channels) == (3, 1)
    for condition, target in stream.epoch(0):
        raw = raw_from_target(target[..., 0])
        for channel in range(3):
            expected = np.clip((raw % 1000 + 100 * channel) / 2000.0, 0, 1) * 2 - 1
            np.testing.assert_allclose(condition[..., channel], expected, atol=1e-6)


def test_same_seed_same_batches_other_epochs_differ_and_epochs_resume(shard_dir):
    def make(**options):
        return BatchStream(shard_dir, batch_size=2, crop=16, augment=AugmentConfig(), seed=7,
                           steps_per_epoch=6, shuffle_buffer=4, **options)

    first, second = make(), make()
    epoch0, epoch1 = list(first.epoch(0)), list(first.epoch(1))
    assert_same(epoch0, list(second.epoch(0)))
    assert_same(epoch1, list(make().epoch(1)))  # epoch 1 on its own, as after a restart
    assert not np.array_equal(epoch0[0][1], epoch1[0][1])
    other_seed = BatchStream(shard_dir, batch_size=2, crop=16, augment=AugmentConfig(), seed=8,
                             steps_per_epoch=6, shuffle_buffer=4)
    assert not np.array_equal(epoch0[0][1], next(other_seed.epoch(0))[1])
    forever = make().forever(start_epoch=1)
    assert_same(epoch1, [next(forever) for _ in range(6)])


def test_workers_are_deterministic_and_one_worker_equals_in_process(shard_dir):
    def run(workers):
        stream = BatchStream(shard_dir, batch_size=2, crop=16, augment=AugmentConfig(), seed=1,
                             steps_per_epoch=5, shuffle_buffer=4, workers=workers)
        return list(stream.epoch(2))

    two = run(2)
    assert_same(two, run(2))
    assert_same(run(0), run(1))


def test_one_pass_without_steps_reads_every_field_once(shard_dir):
    stream = BatchStream(shard_dir, batch_size=3, crop=16, augment=AugmentConfig.geometric_only(),
                         steps_per_epoch=None)
    batches = list(stream.epoch(0))
    assert [len(batch[1]) for batch in batches] == [3, 3, 1] and stream.num_batches == 3
    fields = sorted(int(raw_from_target(target)[0, 0, 0] // 4096) for batch in batches for target in batch[1])
    assert fields == list(range(7))


def test_validation_is_centre_crops_in_file_order(shard_dir):
    val = BatchStream(shard_dir, split="val", batch_size=2, crop=24, augment=AugmentConfig(), seed=0)
    batches = list(val.epoch(0))
    assert [len(batch[1]) for batch in batches] == [2, 1] and val.num_batches == 2
    assert_same(batches, list(val.epoch(5)))
    targets = np.concatenate([batch[1] for batch in batches])
    for index, target in enumerate(targets):
        positions = (8 + np.arange(24))[:, None] * WIDTH + (12 + np.arange(24))[None, :]
        np.testing.assert_array_equal(raw_from_target(target[..., 0]), (7 + index) * 4096 + positions)


def test_crop_larger_than_the_fields_names_shard_and_sizes(shard_dir):
    stream = BatchStream(shard_dir, batch_size=2, crop=41, steps_per_epoch=1)
    with pytest.raises(ValueError, match=r"train-00000\d\.tar.*40x48.*41x41"):
        next(stream.epoch(0))


def test_bad_arguments_are_clear_errors(shard_dir, tmp_path):
    with pytest.raises(ValueError, match="on_error"):
        BatchStream(shard_dir, on_error="ignore")
    with pytest.raises(ValueError, match="split 'tests'"):
        BatchStream(shard_dir, split="tests")
    with pytest.raises(ValueError, match="mixing mode"):
        BatchStream(shard_dir, mixing="left")
    with pytest.raises(FileNotFoundError):
        BatchStream(tmp_path)
