"""Tiny shard folders written here with `tarfile`, per `data_prep.schema`, independent of the
data_prep writer. Raw values are a known function of the position, so any pixel of a batch
tells where in which field it came from:

    raw[y, x, c] = field * 4096 + y * width + x + c * 1024 (uint16, above 8 bits)
    label = raw[..., 0] % num_classes, instances = (y * width + x) // 7 + 1

and with percentiles p_low = 0, p_high = 65535 the float target maps back to raw exactly.
"""

import io
import json
import os
import tarfile

import cv2
import numpy as np
import pytest
import tifffile

from data_prep import schema

FULL_RANGE = 65535.0


def tif_bytes(array):
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, array, photometric="minisblack")
    return buffer.getvalue()


def png_bytes(array):
    ok, encoded = cv2.imencode(".png", array)
    assert ok
    return encoded.tobytes()


def add_member(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def pattern_raw(field, height, width, channels=1):
    positions = np.arange(height * width, dtype=np.int64).reshape(height, width)
    raw = np.stack([field * 4096 + positions + c * 1024 for c in range(channels)], axis=-1)
    assert raw.max() <= 65535
    return raw.astype(np.uint16)


def raw_from_target(target):
    """Invert the [-1, 1] mapping with p_low=0, p_high=65535: exact for every uint16."""
    return np.rint((target.astype(np.float64) + 1.0) / 2.0 * FULL_RANGE).astype(np.int64)


def write_shards(root, task="mask2image", encoding="semantic3", splits=None, height=40, width=48,
                 channels=1, source_channels=3, with_instances=True, per_shard=3):
    """Write a shard folder; splits maps split -> number of fields. Returns the folder."""
    splits = splits or {"train": 7, "val": 3}
    num_classes = schema.NUM_CLASSES[encoding]
    os.makedirs(root, exist_ok=True)
    manifest_splits = {}
    field = 0
    for split, count in splits.items():
        shards = []
        for start in range(0, count, per_shard):
            name = schema.SHARD_PATTERN.format(split=split, index=len(shards))
            with tarfile.open(os.path.join(root, name), "w") as tar:
                for _ in range(start, min(start + per_shard, count)):
                    key = f"tiny/{split}_{field:03d}"
                    raw = pattern_raw(field, height, width, channels)
                    add_member(tar, f"{key}.raw.tif", tif_bytes(raw))
                    if task == "mask2image":
                        modulus = num_classes if encoding != "raw" else 256
                        label = (raw[..., 0] % modulus).astype(np.uint8)
                        add_member(tar, f"{key}.label.png", png_bytes(label))
                        if with_instances:
                            positions = np.arange(height * width).reshape(height, width)
                            add_member(tar, f"{key}.instances.png",
                                       png_bytes((positions // 7 + 1).astype(np.uint16)))
                    else:
                        source = np.stack([raw[..., 0] % 1000 + 100 * c for c in range(source_channels)], -1)
                        add_member(tar, f"{key}.source.tif", tif_bytes(source.astype(np.uint16)))
                    meta = {"key": key, "task": task, "encoding": encoding, "shape": [height, width]}
                    add_member(tar, f"{key}.json", json.dumps(meta).encode())
                    field += 1
            shards.append(name)
        manifest_splits[split] = {"count": count, "shards": shards}
    stats = {"raw": {"p_low": [0.0] * channels, "p_high": [FULL_RANGE] * channels}}
    if task == "virtual_staining":
        stats["source"] = {"p_low": [0.0] * source_channels, "p_high": [2000.0] * source_channels}
    manifest = {
        "schema_version": schema.SCHEMA_VERSION, "task": task,
        "encoding": encoding if task == "mask2image" else None,
        "num_classes": num_classes if task == "mask2image" else None,
        "raw_dtype": "uint16", "raw_channels": [f"c{c}" for c in range(channels)],
        "source_channels": [f"s{c}" for c in range(source_channels)] if task == "virtual_staining" else [],
        "splits": manifest_splits, "stats": stats, "percentile_range": [0.0, 100.0],
        "skipped": [], "source": "tests", "options": {},
    }
    with open(os.path.join(root, schema.MANIFEST), "w") as handle:
        json.dump(manifest, handle)
    return root


@pytest.fixture
def shard_dir(tmp_path):
    """mask2image, semantic3, 7 train fields in 3 shards, 3 val fields, 40x48, instances."""
    return write_shards(str(tmp_path / "shards"))


@pytest.fixture
def make_shards(tmp_path):
    """Factory: make_shards(name, **write_shards options) -> folder."""
    def make(name="shards", **options):
        return write_shards(str(tmp_path / name), **options)
    return make
