"""Realism against its floor and baselines: whole fields, the flat-mask and blurred baselines,
the ordering a sound metric must give, and `cig evaluate --images` on the real images."""

import json

import numpy as np
import pytest
import tifffile

from cig_k3.evaluation import realism
from tests.cig_k3.evaluation.conftest import disc_instances


@pytest.fixture(scope="module")
def realism_shards(tmp_path_factory):
    """48 synthetic 64x64 fields, about 40 % of them in the test split."""
    from data_prep import prepare

    out = tmp_path_factory.mktemp("realism_shards")
    prepare("synthetic", out, count=48, size=64, seed=3, ratios=(0.5, 0.1, 0.4))
    return out


@pytest.mark.backend_independent
def test_flat_mask_baseline_paints_means_and_blurs_edges():
    mask = disc_instances((32, 32), [(16, 16)], 6)
    painted = realism.flat_mask_baseline([mask], foreground_mean=0.5, background_mean=-0.5)[0]
    assert painted.shape == (32, 32, 1) and painted.dtype == np.float32
    assert painted[16, 16, 0] == pytest.approx(0.5, abs=1e-3)
    assert painted[1, 1, 0] == pytest.approx(-0.5, abs=1e-3)
    edge = painted[16, 22, 0]  # on the rim: between the two means after the sigma=1 blur
    assert -0.45 < edge < 0.45
    sharp = realism.flat_mask_baseline([mask], 0.5, -0.5, sigma=0.01)[0]
    assert np.abs(np.diff(sharp[16, :, 0])).max() > np.abs(np.diff(painted[16, :, 0])).max()


@pytest.mark.backend_independent
def test_load_fields_gives_whole_fields_with_masks(realism_shards):
    fields = realism.load_fields(realism_shards, "test")
    assert len(fields) >= 4
    assert all(image.shape == (64, 64, 1) for image in fields.images)
    assert all(mask.shape == (64, 64) for mask in fields.instances)
    assert sum(mask.max() > 0 for mask in fields.instances) >= len(fields) // 2
    assert all(condition.shape[:2] == (64, 64) for condition in fields.conditions)
    assert all(-1.0 <= image.min() and image.max() <= 1.0 for image in fields.images)
    fewer = realism.load_fields(realism_shards, "train", count=3, seed=1)
    assert len(fewer) == 3 and len(set(fewer.keys)) == 3


@pytest.mark.backend_independent
def test_load_floor_adds_disjoint_train_subsets_to_the_usual_floor(realism_shards):
    floor = realism.load_fields(realism_shards, "train", count=5, with_conditions=False)
    train, more = realism.load_floor(realism_shards, 5, draws=4)
    assert train.keys == floor.keys and len(more) == 3
    every = realism.load_fields(realism_shards, "train", with_conditions=False)
    index = {image.tobytes(): key for key, image in zip(every.keys, every.images)}
    keys = [[index[image.tobytes()] for image in images] for images in more]
    assert all(len(group) == 5 for group in keys)
    flat = [key for group in [train.keys, *keys] for key in group]
    assert len(set(flat)) == len(flat) == 20  # none twice: each subset is new real fields
    assert realism.load_floor(realism_shards, 5, draws=1)[1] == []
    whole, none = realism.load_floor(realism_shards, len(every), draws=4)
    assert len(whole) == len(every) and none == []


@pytest.mark.backend_independent
def test_checkerboard_peak_is_averaged_over_draws(realism_shards):
    """Draw 0 scores exactly the reference's peak; a second draw carrying a period-2 pattern
    raises the averaged peak to the mean of the two, and the excess with it."""
    reference = realism.load_fields(realism_shards, "test", count=6)
    rows, columns = np.indices(reference.images[0].shape[:2])
    checker = (0.2 * (-1.0) ** (rows + columns))[..., None].astype(np.float32)
    marked = [np.clip(image + checker, -1, 1) for image in reference.images]
    results = realism.realism_suite(reference, {"generated": list(reference.images)},
                                    options=realism.RealismOptions(tile=32, cnn_steps=0),
                                    more={"generated": [marked]})
    generated = results["sets"]["generated"]
    plain, checkered = generated["checkerboard_peaks"]
    assert checkered > plain + 10.0
    assert generated["checkerboard_peak"] == pytest.approx((plain + checkered) / 2)
    assert generated["checkerboard_excess"] == pytest.approx((checkered - plain) / 2)
    assert results["sets"]["blurred"]["checkerboard_peaks"] == [results["sets"]["blurred"]["checkerboard_peak"]]


@pytest.mark.backend_independent
def test_evaluate_images_scores_real_test_images_like_real(realism_shards, tmp_path, capsys):
    """`cig evaluate --images` on the real test images themselves: C2ST ~ 0.5 and FID 0, below
    the floor; both baselines worse than the floor on FID, spectra and cell features; a file of
    the wrong size is refused before anything is written. (The C2ST CNN runs on every backend in
    test_c2st.py; here once.)"""
    from cig_k3.cli import main
    from cig_k3.data import read_manifest
    from cig_k3.data.normalize import from_model_range

    reference = realism.load_fields(realism_shards, "test")
    stats = read_manifest(realism_shards)["stats"]["raw"]
    images = tmp_path / "images"
    images.mkdir()
    for key, image in zip(reference.keys, reference.images):
        native = from_model_range(image, stats["p_low"], stats["p_high"], dtype="uint16")
        tifffile.imwrite(images / f"{key.rsplit('/', 1)[-1]}.tif", native[..., 0])
    out = tmp_path / "report"
    code = main(["evaluate", "--images", str(images), "--data", str(realism_shards), "--out", str(out),
                 "--tile", "32", "--c2st-steps", "20", "--max-fields", "6"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "Inception FID" in printed and "flat baseline" in printed and "report.html" in printed
    assert "{" not in printed  # the JSON goes to the file, not the terminal
    saved = json.loads((out / "results.json").read_text())
    sets = saved["realism"]["sets"]
    assert set(sets) == {"generated", "floor", "flat", "blurred"}
    assert sets["generated"]["n_fields"] == sets["floor"]["n_fields"] == 6
    assert sets["generated"]["protocol"]["n_tiles"] == sets["floor"]["protocol"]["n_tiles"] == 24
    assert sets["generated"]["fid_inception"] == pytest.approx(0.0, abs=1e-6)
    assert sets["generated"]["c2st_logistic"] == pytest.approx(0.5, abs=0.05)
    assert sets["generated"]["cell_fd"] == pytest.approx(0.0, abs=1e-6)
    # The floor's checkerboard peak is averaged over disjoint train subsets; a folder is one draw.
    assert len(sets["floor"]["checkerboard_peaks"]) == 4 and len(sets["generated"]["checkerboard_peaks"]) == 1
    for baseline in ("flat", "blurred"):
        assert sets[baseline]["fid_inception"] > sets["floor"]["fid_inception"]
        assert sets[baseline]["spectral_distance"] > sets["floor"]["spectral_distance"]
    assert sets["flat"]["cell_fd"] > sets["floor"]["cell_fd"]
    # The texture by scale: the real images themselves carry all of it, the flat baseline none.
    assert sets["generated"]["object_texture_ratio"] == pytest.approx(1.0, abs=1e-3)
    assert sets["flat"]["object_texture_ratio"] < 0.5 * sets["floor"]["object_texture_ratio"]
    assert sets["blurred"]["object_texture_ratio"] < 0.5 * sets["floor"]["object_texture_ratio"]
    assert "object texture" in printed
    assert 0.0 <= sets["generated"]["c2st_cnn"] <= 1.0
    assert (out / "report.html").read_text().count("Inception FID") >= 1
    assert (out / "spectra.png").exists() and (out / "cell_features.png").exists()

    wrong = tmp_path / "wrong"
    wrong.mkdir()
    tifffile.imwrite(wrong / f"{reference.keys[0].rsplit('/', 1)[-1]}.tif", np.zeros((8, 8), np.uint16))
    from cig_k3.evaluation.evaluate import evaluate_images

    with pytest.raises(ValueError, match="height, width"):
        evaluate_images(wrong, realism_shards, out=tmp_path / "wrong_report")
    assert not (tmp_path / "wrong_report").exists()
