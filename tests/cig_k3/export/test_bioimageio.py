"""`cig export --format bioimageio`: a tiny run as a BioImage Model Zoo package (folder and
zip) that bioimageio.spec accepts and bioimageio.core's model test passes offline, whose test
tensors reproduce through a plain Keras load, and a bad --out refused before any write."""

import json
import zipfile

import keras
import numpy as np
import pytest
import yaml

from cig_k3.cli import main
from cig_k3.export.bioimageio import check_out, export_bioimageio, validate_package
from tests.cig_k3.export.conftest import MANIFEST, tiny_generator

pytest.importorskip("bioimageio.spec")

RESULTS = {"split": "test", "n_images": 4,
           "headline": {"fid_inception": 120.5, "c2st_logistic": 0.75, "psnr": 21.0},
           "usefulness": {"synthetic_dice_foreground_ratio": 0.9}}


def make_run(folder, evaluated=True):
    """A run folder as `cig train` and `cig evaluate` leave it, at tiny size."""
    from PIL import Image

    folder.mkdir(parents=True)
    generator = tiny_generator(seed=4)
    generator(np.zeros((1, 16, 16, 3), np.float32))
    generator.save(folder / "generator.keras")
    (folder / "manifest.json").write_text(json.dumps(MANIFEST))
    (folder / "config.json").write_text(json.dumps({"preset": "pix2pixhd", "epochs": 1, "model": {"gan": "x"}}))
    (folder / "samples").mkdir()
    grid = np.zeros((16, 48, 3), np.uint8)
    grid[:, 16:32] = 200  # a recognisable middle column
    Image.fromarray(grid).save(folder / "samples" / "epoch_001_step_0000002.png")
    if evaluated:
        (folder / "evaluation").mkdir()
        (folder / "evaluation" / "results.json").write_text(json.dumps(RESULTS))
    return folder


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    root = tmp_path_factory.mktemp("bioimageio")
    run = make_run(root / "run")
    result = export_bioimageio(run, root / "package")
    return root / "package", result


def test_package_describes_the_model(package):
    folder, result = package
    rdf = yaml.safe_load((folder / "rdf.yaml").read_text())
    assert rdf["type"] == "model" and rdf["format_version"].startswith("0.5.")
    assert rdf["cite"][0]["doi"] == "10.1109/CVPR.2018.00917"  # pix2pixHD, the run's preset
    assert rdf["weights"]["onnx"]["parent"] == "keras_v3" and "parent" not in rdf["weights"]["keras_v3"]
    assert rdf["weights"]["keras_v3"]["backend"][0] == keras.backend.backend()
    condition, image = rdf["inputs"][0], rdf["outputs"][0]
    assert [axis["type"] for axis in condition["axes"]] == ["batch", "space", "space", "channel"]
    assert condition["axes"][-1]["channel_names"] == ["background", "interior", "boundary"]
    assert condition["axes"][1]["size"] == {"min": 8, "step": 8}  # depth-3 U-Net: multiples of 8
    # [-1, 1] back to the manifest's percentiles 100..4000: gain 1950, offset 2050.
    scale = image["postprocessing"][0]
    assert scale["id"] == "scale_linear" and scale["kwargs"]["gain"] == [1950.0] and scale["kwargs"]["offset"] == [2050.0]
    assert rdf["config"]["cig"]["evaluation"]["metrics"] == {
        "fid_inception": 120.5, "c2st_logistic": 0.75, "synthetic_dice_foreground_ratio": 0.9, "psnr": 21.0}
    readme = (folder / "README.md").read_text()
    assert "pix2pixhd" in readme and "| FID | 120.5 |" in readme and "## Intended use" in readme
    from PIL import Image

    assert Image.open(folder / "cover.png").size == (48, 16)  # the run's sample grid
    assert result.test_max_abs_diff <= 1e-4
    validate_package(folder / "rdf.yaml")


def test_test_tensors_reproduce_through_a_plain_keras_load(package):
    folder, _ = package
    model = keras.saving.load_model(folder / "generator.keras")  # no custom_objects (issue 16, part 1)
    condition = np.load(folder / "test_input.npy")
    assert condition.shape[0] == 1 and set(np.unique(condition)) == {0.0, 1.0}  # a one-hot label
    network = keras.ops.convert_to_numpy(model(condition, training=False))
    expected = np.load(folder / "test_output.npy")
    np.testing.assert_allclose(network * 1950.0 + 2050.0, expected, rtol=1e-5, atol=1e-2)
    assert expected.min() >= 100.0 - 1e-2 and expected.max() <= 4000.0 + 1e-2  # data units, tanh range


def test_bioimageio_core_runs_the_package_offline(package):
    from bioimageio.core import test_description

    folder, _ = package
    summary = test_description(folder / "rdf.yaml", runtime_env="currently-active")
    failed = [detail.name for detail in summary.details if detail.status == "failed"]
    assert summary.status == "passed", failed
    tested = {detail.loc[1] for detail in summary.details if len(detail.loc) > 1 and detail.loc[0] == "weights"}
    assert tested == {"keras_v3", "onnx"}


def test_zip_package_and_an_unevaluated_run(tmp_path):
    run = make_run(tmp_path / "run", evaluated=False)
    out = tmp_path / "exports" / "model.zip"
    export_bioimageio(run, out)
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        rdf = yaml.safe_load(archive.read("rdf.yaml"))
    assert {"rdf.yaml", "README.md", "cover.png", "generator.keras", "generator.onnx", "test_input.npy",
            "test_output.npy"} <= names
    assert "evaluation" not in rdf["config"]["cig"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["model.zip"]  # nothing left beside it
    validate_package(out)


def test_bad_out_is_refused_before_anything_is_written(tmp_path, capsys):
    run = make_run(tmp_path / "run", evaluated=False)
    not_a_zip = tmp_path / "notes.txt"
    not_a_zip.write_text("keep me")
    before = sorted(p.name for p in tmp_path.iterdir())
    code = main(["export", "--model", str(run), "--format", "bioimageio", "--out", str(not_a_zip)])
    error = capsys.readouterr().err.strip()
    assert code == 2 and len(error.splitlines()) == 1
    assert "notes.txt is an existing file that is not a zip" in error
    assert not_a_zip.read_text() == "keep me" and sorted(p.name for p in tmp_path.iterdir()) == before
    fake_zip = tmp_path / "fake.zip"
    fake_zip.write_text("not a zip")
    with pytest.raises(ValueError, match="fake.zip exists and is not a zip archive"):
        check_out(fake_zip)
    with pytest.raises(ValueError, match="holds other files"):
        check_out(run)
