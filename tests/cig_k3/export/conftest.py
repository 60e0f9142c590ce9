"""A tiny run folder: a U-Net generator (8 filters, depth 3) and a manifest."""

import json

import numpy as np
import pytest

MANIFEST = {
    "schema_version": 1, "task": "mask2image", "encoding": "semantic3", "num_classes": 3,
    "raw_dtype": "uint16", "raw_channels": ["dna"], "source_channels": [],
    "stats": {"raw": {"p_low": [100.0], "p_high": [4000.0], "mean": [900.0], "std": [300.0],
                      "min": [0.0], "max": [9000.0]}},
    "splits": {"train": {"count": 1, "shards": ["train-000000.tar"]}},
}


def tiny_generator(seed=1):
    from cig_k3.models import UNetGenerator

    return UNetGenerator(in_channels=3, out_channels=1, base_filters=8, depth=3, seed=seed)


@pytest.fixture
def run_dir(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    generator = tiny_generator()
    generator(np.zeros((1, 16, 16, 3), np.float32))
    generator.save(folder / "generator.keras")
    (folder / "manifest.json").write_text(json.dumps(MANIFEST))
    (folder / "run_id.txt").write_text("abc123\n")
    return folder


def disc_instances(size=(40, 56), centers=((10, 12), (25, 35), (30, 10)), radius=6):
    yy, xx = np.mgrid[: size[0], : size[1]]
    mask = np.zeros(size, np.uint16)
    for index, (y, x) in enumerate(centers, start=1):
        mask[(yy - y) ** 2 + (xx - x) ** 2 <= radius**2] = index
    return mask
