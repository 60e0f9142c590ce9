"""Streaming and exact decoding of shard members."""

import json
import logging
import os
import tarfile

import numpy as np
import pytest

from cig_k3.data import BatchStream, decode_image, decode_sample, iter_tar, read_manifest
from tests.cig_k3.data.conftest import add_member, png_bytes, tif_bytes


@pytest.mark.backend_independent
@pytest.mark.parametrize("shape", [(33, 47), (33, 47, 1), (33, 47, 4)])
def test_uint16_decodes_bit_for_bit_from_a_tar(tmp_path, shape):
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 65536, size=shape, dtype=np.uint16)
    raw.flat[:2] = (0, 65535)  # both ends of the range
    label = rng.integers(0, 65536, size=shape[:2], dtype=np.uint16)
    path = tmp_path / "train-000000.tar"
    with tarfile.open(path, "w") as tar:
        add_member(tar, "set/field_a.raw.tif", tif_bytes(raw))
        add_member(tar, "set/field_a.label.png", png_bytes(label))
        add_member(tar, "set/field_a.json", json.dumps({"key": "set/field_a"}).encode())

    samples = list(iter_tar(str(path)))
    assert [sample["__key__"] for sample in samples] == ["set/field_a"]
    decoded = decode_sample(samples[0], "mask2image")
    assert decoded["raw"].dtype == np.uint16 and decoded["label"].dtype == np.uint16
    np.testing.assert_array_equal(decoded["raw"], raw if raw.ndim == 3 else raw[..., None])
    np.testing.assert_array_equal(decoded["label"], label)
    assert decoded["meta"] == {"key": "set/field_a"}


@pytest.mark.backend_independent
def test_decode_image_rejects_unknown_extension():
    with pytest.raises(ValueError, match="no decoder"):
        decode_image("raw.jpg", b"")


@pytest.mark.backend_independent
def test_missing_manifest_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="manifest.json"):
        read_manifest(tmp_path)


def _corrupt(shard_dir, name="train-000001.tar"):
    path = os.path.join(shard_dir, name)
    data = open(path, "rb").read()
    with open(path, "wb") as handle:
        handle.write(data[: len(data) // 2 + 100])  # truncated inside a member
    return path


@pytest.mark.backend_independent
def test_corrupt_shard_fails_naming_it(shard_dir):
    path = _corrupt(shard_dir)
    stream = BatchStream(shard_dir, batch_size=2, crop=16, steps_per_epoch=None, on_error="fail")
    with pytest.raises(ValueError, match="train-000001.tar"):
        list(stream.epoch(0))


@pytest.mark.backend_independent
def test_corrupt_shard_skipped_with_one_warning(shard_dir, caplog):
    _corrupt(shard_dir)
    stream = BatchStream(shard_dir, batch_size=1, crop=16, steps_per_epoch=30, on_error="skip")
    with caplog.at_level(logging.WARNING, logger="cig_k3.data.pipeline"):
        batches = list(stream.epoch(0))
    assert len(batches) == 30
    warnings = [record for record in caplog.records if "train-000001.tar" in record.getMessage()]
    assert len(warnings) == 1


@pytest.mark.backend_independent
def test_corrupt_shard_skipped_in_a_worker(shard_dir, caplog):
    _corrupt(shard_dir)
    stream = BatchStream(shard_dir, batch_size=1, crop=16, steps_per_epoch=None, on_error="skip",
                         workers=2)
    with caplog.at_level(logging.WARNING, logger="cig_k3.data.pipeline"):
        batches = list(stream.epoch(0))
    assert 4 <= len(batches) < 7  # the samples before the damage may still be read
    assert any("train-000001.tar" in record.getMessage() for record in caplog.records)
