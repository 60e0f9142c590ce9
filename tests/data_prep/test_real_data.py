"""BBBC039 (a subset) and the In Silico Labeling stack; skipped when ../shared/data is absent."""

import numpy as np
import pytest
import tifffile

from data_prep import prepare

pytestmark = pytest.mark.backend_independent


def test_bbbc039_subset(tmp_path, shared_data, dp):
    bbbc = shared_data / "bbbc039"
    rows = (bbbc / "splits.csv").read_text().splitlines()
    by_split = {}
    for row in rows[1:]:
        name, split = row.split(",")[:2]
        by_split.setdefault(split, []).append(name)
    chosen = {s: by_split[s][:2] for s in ("train", "val", "test")}
    source = tmp_path / "bbbc039"
    for sub in ("images", "masks"):
        (source / sub).mkdir(parents=True)
    for names in chosen.values():
        for name in names:
            (source / "images" / f"{name}.tif").symlink_to(bbbc / "images" / f"{name}.tif")
            (source / "masks" / f"{name}.png").symlink_to(bbbc / "masks" / f"{name}.png")
    (source / "splits.csv").write_text("\n".join(rows[:1] + [r for r in rows[1:]
                                                              if r.split(",")[1] in ("train", "val", "test")]) + "\n")
    manifest = prepare(source, tmp_path / "out", workers=2, progress=False)
    _, samples, splits = dp.read_shards(tmp_path / "out")
    assert {s: manifest["splits"][s]["count"] for s in chosen} == {"train": 2, "val": 2, "test": 2}
    for split, names in chosen.items():
        for name in names:
            sample = samples[f"bbbc039/{name}"]
            assert splits[f"bbbc039/{name}"] == split
            raw = dp.decode(sample["raw.tif"], "raw.tif")
            assert raw.shape == (520, 696) and raw.dtype == np.uint16
            assert np.array_equal(raw, tifffile.imread(bbbc / "images" / f"{name}.tif"))
            meta = dp.decode(sample["json"], "json")
            assert meta["num_objects"] == int(rows[[r.split(",")[0] for r in rows].index(name)].split(",")[2])
    assert manifest["stats"]["raw"]["max"][0] <= 4095 and manifest["raw_dtype"] == "uint16"


def test_isl_neurons_tiles(tmp_path, shared_data, dp):
    isl = shared_data / "isl_neurons"
    manifest = prepare(isl, tmp_path / "out", input="phase_zstack.tif",
                       targets=("dapi.tif", "map2.tif", "nfh.tif"), tile=256, progress=False)
    assert manifest["task"] == "virtual_staining"
    assert {s: manifest["splits"][s]["count"] for s in ("train", "val", "test")} == {"train": 8, "val": 4, "test": 4}
    assert manifest["source_channels"] == [f"phase_z{i:02d}" for i in range(13)]
    assert manifest["raw_channels"] == ["dapi", "map2", "nfh"]
    assert len(manifest["stats"]["source"]["p_low"]) == 13 and len(manifest["stats"]["raw"]["mean"]) == 3
    _, samples, splits = dp.read_shards(tmp_path / "out")
    sample = samples["isl_neurons/y00768_x00768"]
    assert splits["isl_neurons/y00768_x00768"] == "test" and splits["isl_neurons/y00768_x00256"] == "val"
    source = dp.decode(sample["source.tif"], "source.tif")
    raw = dp.decode(sample["raw.tif"], "raw.tif")
    assert source.shape == (256, 256, 13) and raw.shape == (256, 256, 3) and raw.dtype == np.uint16
    stack = tifffile.imread(isl / "phase_zstack.tif")
    assert np.array_equal(source, np.moveaxis(stack[:, 768:, 768:], 0, -1))
    assert np.array_equal(raw[..., 1], tifffile.imread(isl / "map2.tif")[768:, 768:])
