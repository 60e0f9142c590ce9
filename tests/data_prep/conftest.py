"""Fixtures for data_prep tests: tiny folder sources, shard readers, the shared data folder."""

import io
import json
import tarfile
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import tifffile

# The `shared` folder beside the repository checkout (absent for users: tests skip).
SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def write_tiff(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(path, array)
    return path


def write_png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".png", array)
    assert ok
    path.write_bytes(data.tobytes())
    return path


def instance_mask(rng, shape, count=3):
    """Non-overlapping rectangles labelled 1..count."""
    mask = np.zeros(shape, np.uint16)
    height, width = shape
    for label in range(1, count + 1):
        y, x = rng.integers(0, height - 6), rng.integers(0, width - 6)
        mask[y : y + 5, x : x + 5][mask[y : y + 5, x : x + 5] == 0] = label
    return mask


def make_pairs(root, names, shape=(32, 40), seed=0, dtype=np.uint16):
    """`root/images/<name>.tif` (random full-range values) and `root/masks/<name>.png`."""
    rng = np.random.default_rng(seed)
    images = {}
    for name in names:
        info = np.iinfo(dtype)
        image = rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
        write_tiff(root / "images" / f"{name}.tif", image)
        write_png(root / "masks" / f"{name}.png", instance_mask(rng, shape[:2]))
        images[name] = image
    return images


def read_shards(out_dir):
    """{key: {member: bytes}} and {key: split} from every shard listed in the manifest."""
    manifest = json.loads((Path(out_dir) / "manifest.json").read_text())
    samples, splits = {}, {}
    for split, entry in manifest["splits"].items():
        for shard in entry["shards"]:
            with tarfile.open(Path(out_dir) / shard) as tar:
                for member in tar.getmembers():
                    key, suffix = member.name.split(".", 1)
                    samples.setdefault(key, {})[suffix] = tar.extractfile(member).read()
                    assert splits.setdefault(key, split) == split, f"{key} is in two splits"
    return manifest, samples, splits


def decode(data, member):
    if member.endswith(".tif"):
        return tifffile.imread(io.BytesIO(data))
    if member == "json":
        return json.loads(data)
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)


def output_files(out_dir):
    """{name: bytes} of what a job leaves (the lock file aside); {} when there is no folder."""
    if not Path(out_dir).is_dir():
        return {}
    return {p.name: p.read_bytes() for p in sorted(Path(out_dir).iterdir()) if p.name != ".data_prep.lock"}


@pytest.fixture
def shared_data():
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} is absent")
    return SHARED_DATA.resolve()


@pytest.fixture
def dp():
    """The helpers above, for test modules (conftest modules are not imported by name)."""
    return SimpleNamespace(write_tiff=write_tiff, write_png=write_png, make_pairs=make_pairs,
                           instance_mask=instance_mask, read_shards=read_shards, decode=decode,
                           output_files=output_files)
