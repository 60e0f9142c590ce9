"""benchmarks/gpu_shards.py: a smaller, lossless repack of a shard folder that the loader reads."""

import io
import json

import numpy as np
import pytest
import tifffile

from tests.benchmarks import load_script

from cig_k3.data.shards import decode_sample, iter_tar, read_manifest, shard_urls


def samples(folder, split):
    manifest = read_manifest(folder)
    return {s["__key__"]: s for url in shard_urls(folder, manifest, split) for s in iter_tar(url)}


@pytest.mark.backend_independent
def test_the_subset_keeps_the_budget_and_every_pixel(synthetic_shards, tmp_path):
    script = load_script("gpu_shards")
    source = read_manifest(synthetic_shards)
    out = tmp_path / "subset"
    assert script.main(["--shards", str(synthetic_shards), "--out", str(out), "--mib", "0.05", "--val", "2",
                        "--shard-size", "4"]) == 0
    manifest = read_manifest(out)
    kept = manifest["splits"]["train"]["count"]
    # A budget of 51 kB keeps some train fields, not all of them; the val split keeps 2, the test split none.
    assert 0 < kept < source["splits"]["train"]["count"]
    assert manifest["splits"]["val"]["count"] == 2 and manifest["splits"]["test"] == {"count": 0, "shards": []}
    assert sum((out / name).stat().st_size for name in manifest["splits"]["train"]["shards"]) <= 0.05 * 2**20
    # The full set's normalisation is kept, so a model sees the same intensities.
    assert manifest["stats"] == source["stats"]
    original, repacked = samples(synthetic_shards, "train"), samples(out, "train")
    assert len(repacked) == kept and set(repacked) <= set(original)
    for key, sample in repacked.items():
        assert set(sample) == set(original[key])
        with tifffile.TiffFile(io.BytesIO(sample["raw.tif"])) as tif:
            assert tif.pages[0].compression == tifffile.COMPRESSION.LZMA
        mine, theirs = decode_sample(sample, "mask2image"), decode_sample(original[key], "mask2image")
        for name in ("raw", "label", "instances"):
            np.testing.assert_array_equal(mine[name], theirs[name], err_msg=f"{key} {name}")
        assert mine["raw"].dtype == theirs["raw"].dtype
    assert json.loads((out / "manifest.json").read_text())["subset_of"] == str(synthetic_shards)


@pytest.mark.backend_independent
def test_a_folder_without_a_manifest_is_refused_by_name(tmp_path):
    script = load_script("gpu_shards")
    with pytest.raises(SystemExit, match="no manifest.json") as error:
        script.main(["--shards", str(tmp_path), "--out", str(tmp_path / "out")])
    assert str(tmp_path) in str(error.value)
    assert not (tmp_path / "out").exists()
