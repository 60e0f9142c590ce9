"""Decoded-field cache and several crops per field: same batches, real crops, bounded memory."""

import os

import numpy as np
import pytest

from cig_k3.data import AugmentConfig, BatchStream, decode_sample, iter_tar
from cig_k3.data.field_cache import FieldCache, field_nbytes
from tests.cig_k3.data.conftest import raw_from_target
from tests.cig_k3.data.test_pipeline import assert_same

pytestmark = pytest.mark.backend_independent

WIDTH = 48  # of the fixture's fields (40 x 48)
FIELD_BYTES = 40 * 48 * (2 + 1)  # uint16 raw + uint8 label (instances are not decoded)


def _stream(shard_dir, **options):
    settings = dict(batch_size=2, crop=16, augment=AugmentConfig(), seed=5, steps_per_epoch=9, shuffle_buffer=4)
    settings.update(options)
    return BatchStream(shard_dir, **settings)


def _decoded_fields(shard_dir):
    """Field index -> decoded field, read straight from the tars."""
    fields = {}
    for name in sorted(os.listdir(shard_dir)):
        if name.startswith("train-"):
            for sample in iter_tar(os.path.join(shard_dir, name)):
                field = decode_sample(sample, "mask2image", instances=False)
                fields[int(field["raw"][0, 0, 0]) // 4096] = field
    return fields


@pytest.mark.parametrize("workers", [0, 1])
def test_cache_gives_the_same_batches_bit_for_bit(shard_dir, workers):
    # 9 steps of 2 = 18 crops of 7 fields: later passes read from the cache.
    cached = _stream(shard_dir, workers=workers)
    uncached = _stream(shard_dir, workers=workers, field_cache_mb=0)
    for epoch in (0, 1):
        assert_same(list(cached.epoch(epoch)), list(uncached.epoch(epoch)))
    if workers == 0:
        assert len(cached.field_cache) == 3 and cached.field_cache.nbytes == 7 * FIELD_BYTES
        assert len(uncached.field_cache) == 0


def test_cached_shards_are_not_read_again(shard_dir):
    stream = _stream(shard_dir)
    first = list(stream.epoch(0))
    assert len(stream.field_cache) == 3
    for name in os.listdir(shard_dir):
        if name.endswith(".tar"):
            os.remove(os.path.join(shard_dir, name))
    # Every field now comes from memory; the result is what epoch 0 gave the first time.
    assert_same(first, list(stream.epoch(0)))


def test_budget_holds_only_whole_shards_that_fit(shard_dir):
    # 3 shards of 3, 3 and 1 fields; room for 4 fields keeps one shard of 3 and the one of 1
    # at most, never part of a shard, and the batches stay the same.
    budget_mb = 4 * FIELD_BYTES / 2**20
    small = _stream(shard_dir, field_cache_mb=budget_mb)
    assert_same(list(small.epoch(0)), list(_stream(shard_dir, field_cache_mb=0).epoch(0)))
    assert 0 < small.field_cache.nbytes <= 4 * FIELD_BYTES
    held = [small.field_cache.get(url) for url in small.spec.urls]
    assert all(fields is None or len(fields) in (1, 3) for fields in held)


def test_cached_arrays_are_read_only_and_a_too_large_shard_is_dropped():
    cache = FieldCache(max_bytes=1000)
    field = {"key": "a", "raw": np.zeros((10, 10), np.uint16), "meta": {}}
    keeper = cache.keeper("one.tar")
    keeper.add(field)
    keeper.store()
    assert cache.get("one.tar")[0] is field and cache.nbytes == field_nbytes(field) == 200
    with pytest.raises(ValueError, match="read-only"):
        field["raw"][0, 0] = 1
    keeper = cache.keeper("two.tar")
    for _ in range(5):  # 1000 bytes more: over the budget, so nothing of two.tar is kept
        keeper.add({"key": "b", "raw": np.zeros((10, 10), np.uint16)})
    keeper.store()
    assert cache.get("two.tar") is None and cache.nbytes == 200
    with pytest.raises(ValueError, match="field cache"):
        FieldCache(-1)


def test_shard_with_a_problem_is_not_cached(shard_dir, caplog):
    path = os.path.join(shard_dir, "train-000001.tar")
    with open(path, "rb") as handle:
        data = handle.read()
    with open(path, "wb") as handle:
        handle.write(data[: len(data) // 2 + 100])  # truncated inside a member
    stream = _stream(shard_dir, on_error="skip")
    cached = list(stream.epoch(0))
    assert stream.field_cache.get(path) is None and len(stream.field_cache) == 2
    assert_same(cached, list(_stream(shard_dir, on_error="skip", field_cache_mb=0).epoch(0)))


def test_crops_per_field_are_real_and_different_crops_of_the_fields(shard_dir):
    crop = 16
    stream = _stream(shard_dir, crop=crop, augment=None, crops_per_field=3, batch_size=3, steps_per_epoch=None,
                     shuffle_buffer=8)
    fields = _decoded_fields(shard_dir)
    windows = {}
    for condition, target in stream.epoch(0):
        assert condition.shape == (3, crop, crop, 3) and target.shape == (3, crop, crop, 1)
        for label, image in zip(condition, target):
            raw = raw_from_target(image)[..., 0]
            field = fields[int(raw[0, 0]) // 4096]
            top, left = divmod(int(raw[0, 0]) % 4096, WIDTH)
            window = (slice(top, top + crop), slice(left, left + crop))
            np.testing.assert_array_equal(raw, field["raw"][window][..., 0])
            np.testing.assert_array_equal(label.argmax(-1), field["label"][window])
            windows.setdefault(int(raw[0, 0]) // 4096, []).append((top, left))
    # One pass, 21 crops of 7 fields: three per field, and the crops of one field are not all one window.
    assert sorted(len(places) for places in windows.values()) == [3] * 7
    assert all(len(set(places)) > 1 for places in windows.values())
    # The shuffle buffer spreads them: a batch is not just the three crops of one field.
    first = [int(raw_from_target(target)[0, 0, 0]) // 4096 for target in next(stream.epoch(0))[1]]
    assert len(set(first)) > 1


def test_bad_crops_per_field_or_cache_budget_is_a_clear_error(shard_dir):
    with pytest.raises(ValueError, match="crops_per_field"):
        BatchStream(shard_dir, crops_per_field=0)
    with pytest.raises(ValueError, match="field_cache_mb"):
        BatchStream(shard_dir, field_cache_mb=-1)
