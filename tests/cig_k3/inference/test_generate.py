import json

import cv2
import numpy as np
import pytest
import tifffile

from cig_k3.cli import main
from cig_k3.inference.generate import read_provenance

from tests.cig_k3.export.conftest import disc_instances


def write_masks(folder):
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), disc_instances())
    tifffile.imwrite(folder / "b.tif", disc_instances(size=(37, 29), centers=((10, 10), (25, 18))))
    return folder


def test_generate_writes_native_tiffs_with_provenance(tmp_path, run_dir):
    masks = write_masks(tmp_path / "masks")
    out = tmp_path / "out"
    assert main(["generate", "--model", str(run_dir), "--masks", str(masks), "--out", str(out),
                 "--tile", "16", "--overlap", "4", "--seed", "3"]) == 0
    image = tifffile.imread(out / "a.tif")
    assert image.shape == (40, 56) and image.dtype == np.uint16
    assert 100 <= image.min() and image.max() <= 4000  # the manifest's p_low..p_high
    assert tifffile.imread(out / "b.tif").shape == (37, 29)
    meta = read_provenance(out / "a.tif")
    assert meta["synthetic"] is True and meta["run_id"] == "abc123" and meta["seed"] == 3
    assert meta["mask"].endswith("a.png") and meta["model"].endswith("generator.keras") and "cig_version" in meta


def test_samples_give_mean_and_std_and_are_reproducible(tmp_path, run_dir):
    masks = write_masks(tmp_path / "masks")
    for name in ("one", "two"):
        assert main(["generate", "--model", str(run_dir), "--masks", str(masks), "--out", str(tmp_path / name),
                     "--samples", "3", "--seed", "7"]) == 0
    first = tifffile.imread(tmp_path / "one" / "a_sample00.tif")
    second = tifffile.imread(tmp_path / "one" / "a_sample01.tif")
    assert not np.array_equal(first, second)  # dropout on
    np.testing.assert_array_equal(first, tifffile.imread(tmp_path / "two" / "a_sample00.tif"))
    std = tifffile.imread(tmp_path / "one" / "a_std.tif")
    assert std.dtype == np.float32 and std.max() > 0
    assert read_provenance(tmp_path / "one" / "a_std.tif")["kind"] == "uncertainty_std"


def test_one_image_is_a_seeded_draw_and_mean_turns_the_noise_off(tmp_path, run_dir, capsys):
    masks = write_masks(tmp_path / "masks")

    def generate(name, *more):
        assert main(["generate", "--model", str(run_dir), "--masks", str(masks), "--out", str(tmp_path / name),
                     "--tile", "16", "--overlap", "4", *more]) == 0
        return tmp_path / name

    # One image is draw 0 of K with the same seed: the texture that `cig evaluate` scores.
    one, samples = generate("one", "--seed", "5"), generate("samples", "--seed", "5", "--samples", "2")
    np.testing.assert_array_equal(tifffile.imread(one / "a.tif"), tifffile.imread(samples / "a_sample00.tif"))
    assert read_provenance(one / "a.tif")["dropout_sampling"] is True
    # --mean: every noise source off, so the seed does not matter.
    mean, other = generate("mean", "--seed", "5", "--mean"), generate("mean_other", "--seed", "6", "--mean")
    np.testing.assert_array_equal(tifffile.imread(mean / "a.tif"), tifffile.imread(other / "a.tif"))
    assert not np.array_equal(tifffile.imread(mean / "a.tif"), tifffile.imread(one / "a.tif"))
    assert read_provenance(mean / "a.tif")["kind"] == "mean_image"
    assert main(["generate", "--model", str(run_dir), "--masks", str(masks), "--out", str(tmp_path / "no"),
                 "--mean", "--samples", "3"]) == 2
    assert "--mean" in capsys.readouterr().err and not (tmp_path / "no").exists()


def test_bad_mask_names_the_file(tmp_path, run_dir, capsys):
    masks = tmp_path / "masks"
    masks.mkdir()
    (masks / "broken.png").write_bytes(b"not a png")
    assert main(["generate", "--model", str(run_dir), "--masks", str(masks), "--out", str(tmp_path / "o")]) == 2
    assert "broken.png" in capsys.readouterr().err
    (masks / "broken.png").unlink()
    tifffile.imwrite(masks / "float.tif", np.full((16, 16), 0.5, np.float32))
    assert main(["generate", "--model", str(run_dir), "--masks", str(masks), "--out", str(tmp_path / "o")]) == 2
    assert "float.tif" in capsys.readouterr().err


def test_masks_then_generate_as_shards(tmp_path, run_dir):
    from cig_k3.data import shards
    from data_prep import schema, sharding

    like = tmp_path / "like"
    like.mkdir()
    instances = [disc_instances(size=(64, 64), centers=((12, 12), (40, 44), (50, 12)), radius=r) for r in (5, 7)]
    samples = [(f"f{i}", {schema.INSTANCES: sharding.encode_png(m)}) for i, m in enumerate(instances)]
    sharding.write_shard(like / "train-000000.tar", samples)
    manifest = {"task": "mask2image", "splits": {"train": {"count": 2, "shards": ["train-000000.tar"]}},
                "stats": {"raw": {}}}
    (like / "manifest.json").write_text(json.dumps(manifest))

    assert main(["masks", "--count", "3", "--like", str(like), "--out", str(tmp_path / "m"), "--seed", "1"]) == 0
    mask = cv2.imread(str(tmp_path / "m" / "mask-00000.png"), cv2.IMREAD_UNCHANGED)
    assert mask.dtype == np.uint16 and mask.shape == (64, 64) and len(np.unique(mask)) - 1 == 3
    assert main(["generate", "--model", str(run_dir), "--masks", str(tmp_path / "m"), "--out", str(tmp_path / "g"),
                 "--as-shards", str(tmp_path / "s")]) == 0
    written = shards.read_manifest(tmp_path / "s")
    assert written["synthetic"] is True and written["splits"]["train"]["count"] == 3
    sample = next(shards.iter_tar(str(tmp_path / "s" / "train-000000.tar")))
    decoded = shards.decode_sample(sample, "mask2image")
    assert decoded["raw"].dtype == np.uint16 and decoded["label"].max() == 2


@pytest.mark.backend_independent
def test_sampled_masks_follow_measured_statistics():
    from cig_k3.inference.masks import measure_instances, sample_mask

    from skimage.draw import ellipse

    rng = np.random.default_rng(0)
    fields = []
    for _ in range(4):
        field = np.zeros((128, 128), np.uint16)
        for index in range(1, 9):
            rows, cols = ellipse(rng.uniform(10, 118), rng.uniform(10, 118), 8, 4, shape=field.shape, rotation=0.6)
            field[rows, cols] = np.where(field[rows, cols] == 0, index, field[rows, cols])
        fields.append(field)
    stats = measure_instances(fields)
    sampled = measure_instances([sample_mask(stats, rng) for _ in range(4)])
    assert np.mean(sampled.areas) == pytest.approx(np.mean(stats.areas), rel=0.2)
    assert np.mean(sampled.eccentricities) == pytest.approx(np.mean(stats.eccentricities), abs=0.1)
    assert np.median(sampled.orientations) == pytest.approx(np.median(stats.orientations), abs=0.2)
    assert abs(np.mean(sampled.counts) - np.mean(stats.counts)) <= 1.5


def test_style_taking_generator_is_refused_in_one_line(tmp_path, run_dir, capsys):
    from cig_k3.models import build_generator

    build_generator("mixlc", in_channels=3, out_channels=1, base_filters=4, depth=2).save(run_dir / "generator.keras")
    masks = write_masks(tmp_path / "masks")
    assert main(["generate", "--model", str(run_dir), "--masks", str(masks), "--out", str(tmp_path / "o")]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "style image" in error[0]
    assert not (tmp_path / "o").exists()
