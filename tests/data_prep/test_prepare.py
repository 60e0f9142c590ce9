"""prepare: exact values, splits by field, determinism, reruns, the lock, the CLIs."""

import argparse
import fcntl
import json

import numpy as np
import pytest

from data_prep import prepare
from data_prep.cli import main
from data_prep.splits import hash_split

pytestmark = pytest.mark.backend_independent


def test_values_survive_bit_for_bit(tmp_path, dp):
    source, out = tmp_path / "source", tmp_path / "out"
    images = dp.make_pairs(source, ["f0", "f1", "f2"], shape=(24, 20))
    rng = np.random.default_rng(1)
    # Channels-last RGB PNG, channels-first TIFF (C x H x W), float32 TIFF.
    mask = dp.instance_mask(rng, (24, 20))
    extra = {
        "g_rgb": (rng.integers(0, 65535, (24, 20, 3), dtype=np.uint16, endpoint=True), "png"),
        "g_chw": (rng.integers(0, 65535, (2, 24, 20), dtype=np.uint16, endpoint=True), "tif"),
        "g_float": (rng.normal(size=(24, 20)).astype(np.float32), "tif"),
    }
    manifests = {}
    for name, (image, suffix) in extra.items():
        sub = tmp_path / name
        (dp.write_png if suffix == "png" else dp.write_tiff)(sub / "images" / f"{name}.{suffix}",
                                                             image[..., ::-1] if suffix == "png" else image)
        dp.write_png(sub / "masks" / f"{name}.png", mask)
        manifests[name] = prepare(sub, tmp_path / f"out_{name}", progress=False)
        _, samples, _ = dp.read_shards(tmp_path / f"out_{name}")
        raw = dp.decode(samples[f"{name}/{name}"]["raw.tif"], "raw.tif")
        expected = np.moveaxis(image, 0, -1) if name == "g_chw" else image
        assert raw.dtype == expected.dtype and np.array_equal(raw, expected)

    (source / "splits.csv").write_text("name,split\nf0,train\nf1,train\nf2,val\n")
    manifest = prepare(source, out, progress=False)
    _, samples, splits = dp.read_shards(out)
    assert len(samples) == 3 and manifest["raw_dtype"] == "uint16"
    for name, image in images.items():
        sample = samples[f"source/{name}"]
        raw = dp.decode(sample["raw.tif"], "raw.tif")
        assert raw.dtype == np.uint16 and np.array_equal(raw, image)
        instances = dp.decode(sample["instances.png"], "instances.png")
        assert np.array_equal(instances, dp.decode((source / "masks" / f"{name}.png").read_bytes(), "m.png"))
        label = dp.decode(sample["label.png"], "label.png")
        assert set(np.unique(label)) <= {0, 1, 2} and np.array_equal(label > 0, instances > 0)
        meta = dp.decode(sample["json"], "json")
        assert meta["source_path"] == f"images/{name}.tif" and meta["label_path"] == f"masks/{name}.png"
        assert meta["num_objects"] == len(np.unique(instances)) - 1
        assert meta["percentiles"]["raw"]["p_low"] == [float(np.percentile(image, 1.0))]
    stats = manifest["stats"]["raw"]
    train = np.concatenate([images[k.split("/")[1]].ravel() for k, s in splits.items() if s == "train"])
    assert stats["min"] == [float(train.min())] and stats["max"] == [float(train.max())]
    assert stats["mean"][0] == pytest.approx(train.mean()) and stats["std"][0] == pytest.approx(train.std())


def test_splits_csv_is_honoured_and_fields_never_shared(tmp_path, dp):
    source = tmp_path / "source"
    names = [f"n{i}" for i in range(9)]
    dp.make_pairs(source, names)
    wanted = {name: ("train", "val", "test")[i % 3] for i, name in enumerate(names)}
    rows = "".join(f"{n},{s},1\n" for n, s in wanted.items()) + "absent,train,0\n"
    (source / "splits.csv").write_text("name,split,count\n" + rows)
    manifest = prepare(source, tmp_path / "out", progress=False, shard_size=2)
    _, samples, splits = dp.read_shards(tmp_path / "out")  # raises if a key is in two splits
    assert {k.split("/")[1]: s for k, s in splits.items()} == wanted
    assert {s: manifest["splits"][s]["count"] for s in ("train", "val", "test")} == {"train": 3, "val": 3, "test": 3}
    assert manifest["splits"]["train"]["shards"] == ["train-000000.tar", "train-000001.tar"]

    other = tmp_path / "other.csv"
    other.write_text("name,split\n" + "".join(f"{n},test\n" for n in names))
    manifest = prepare(source, tmp_path / "out2", progress=False, splits=str(other))
    assert manifest["splits"]["test"]["count"] == 9

    (source / "splits.csv").write_text("name,split\nn0,train\n")
    with pytest.raises(ValueError, match="images/n1.tif is not listed in .*splits.csv"):
        prepare(source, tmp_path / "out3", progress=False)


def test_hash_split_is_deterministic_and_follows_ratios():
    names = [f"field_{i}" for i in range(3000)]
    first = [hash_split(n, (0.8, 0.1, 0.1)) for n in names]
    assert first == [hash_split(n, (0.8, 0.1, 0.1)) for n in names]
    share = {s: first.count(s) / len(names) for s in ("train", "val", "test")}
    assert share["train"] == pytest.approx(0.8, abs=0.03) and share["val"] == pytest.approx(0.1, abs=0.02)
    assert hash_split("x", (1.0, 0.0, 0.0)) == "train" and hash_split("x", (0.0, 0.0, 1.0)) == "test"


def test_same_seed_same_bytes_whatever_the_workers(tmp_path, dp):
    common = dict(count=12, size=48, seed=3, shard_size=4, progress=False)
    prepare("synthetic", tmp_path / "w1", workers=1, **common)
    prepare("synthetic", tmp_path / "w2", workers=2, **common)
    assert dp.output_files(tmp_path / "w1") == dp.output_files(tmp_path / "w2")
    prepare("synthetic", tmp_path / "seed4", workers=1, **{**common, "seed": 4})
    assert dp.output_files(tmp_path / "w1") != dp.output_files(tmp_path / "seed4")

    source = tmp_path / "source"
    dp.make_pairs(source, [f"p{i}" for i in range(7)])
    prepare(source, tmp_path / "f1", workers=1, progress=False, shard_size=3)
    prepare(source, tmp_path / "f2", workers=2, progress=False, shard_size=3)
    assert dp.output_files(tmp_path / "f1") == dp.output_files(tmp_path / "f2")


def test_rerun_of_a_finished_job_changes_nothing(tmp_path, dp, caplog):
    out = tmp_path / "out"
    prepare("synthetic", out, count=5, size=32, progress=False)
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    caplog.set_level("INFO")
    assert main(["synthetic", "--count", "5", "--size", "32", "--out", str(out), "--workers", "2"]) == 0
    assert "nothing to do" in caplog.text
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before

    with pytest.raises(ValueError, match="already holds a data set .* pass --overwrite"):
        prepare("synthetic", out, count=3, size=32, progress=False)
    manifest = prepare("synthetic", out, count=3, size=32, shard_size=1, progress=False, overwrite=True)
    listed = {s for split in manifest["splits"].values() for s in split["shards"]}
    assert {p.name for p in out.glob("*.tar")} == listed and len(listed) == 3


def test_second_run_into_a_locked_folder_is_refused(tmp_path, dp):
    out = tmp_path / "out"
    out.mkdir()
    with open(out / ".data_prep.lock", "a+") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(ValueError, match="is being written by another data_prep run"):
            prepare("synthetic", out, count=2, size=32, progress=False)
    assert dp.output_files(out) == {}


@pytest.mark.parametrize("encoding, values", [("binary", {0, 1}), ("raw", {0, 1, 2, 3})])
def test_other_encodings(tmp_path, dp, encoding, values):
    source = tmp_path / "source"
    dp.make_pairs(source, ["a"])
    manifest = prepare(source, tmp_path / "out", progress=False, encoding=encoding)
    _, samples, _ = dp.read_shards(tmp_path / "out")
    label = dp.decode(samples["source/a"]["label.png"], "label.png")
    assert set(np.unique(label)) == values
    assert manifest["encoding"] == encoding and manifest["num_classes"] == {"binary": 2, "raw": 1}[encoding]


def test_semantic_masks_are_kept_as_they_are(tmp_path, dp):
    source = tmp_path / "source"
    dp.write_tiff(source / "images" / "a.tif", np.ones((20, 20), np.uint8))
    classes = np.zeros((20, 20), np.uint8)
    classes[5:15, 5:15] = 1
    classes[5, 5:15] = 2
    dp.write_png(source / "masks" / "a.png", classes)
    prepare(source, tmp_path / "out", progress=False, mask_type="semantic")
    _, samples, _ = dp.read_shards(tmp_path / "out")
    assert np.array_equal(dp.decode(samples["source/a"]["label.png"], "label.png"), classes)
    assert "instances.png" not in samples["source/a"]
    assert json.loads(samples["source/a"]["json"])["num_objects"] is None


def test_cig_prepare_subcommand(tmp_path, dp):
    from cig_k3.commands import prepare as command

    parser = argparse.ArgumentParser(prog="cig")
    command.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["prepare", "synthetic", "--count", "3", "--size", "32", "--out",
                              str(tmp_path / "out"), "--no-progress"])
    assert args.func(args) == 0
    manifest, samples, _ = dp.read_shards(tmp_path / "out")
    assert len(samples) == 3 and manifest["options"]["count"] == 3
