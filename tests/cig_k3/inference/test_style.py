"""`cig generate --style IMAGE`: the style steers every mask (one code per field, so tiles
agree), no style draws from the prior, and a bad style stops in one line before anything is
written."""

import json

import cv2
import numpy as np
import pytest
import tifffile

from cig_k3.cli import main
from cig_k3.inference.generate import read_provenance
from cig_k3.inference.style import read_style, style_codes

from tests.cig_k3.export.conftest import MANIFEST, disc_instances


@pytest.fixture
def style_run(tmp_path):
    """A run folder holding a tiny StyleUNetGenerator whose style visibly steers its images."""
    import keras

    from cig_k3.models import StyleUNetGenerator

    folder = tmp_path / "style_run"
    folder.mkdir()
    generator = StyleUNetGenerator(3, 1, latent_dim=4, base_filters=4, depth=2, max_filters=8, encoder_filters=4,
                                   encoder_downsamples=2, seed=0)
    rng = np.random.default_rng(0)
    for variable in generator.trainable_variables:  # larger weights than the initialisers': a visible style
        variable.assign(rng.normal(0, 0.3, variable.shape).astype("float32"))
    generator({"label": np.zeros((1, 16, 16, 3), "float32"), "raw": np.zeros((1, 16, 16, 1), "float32")})
    keras.saving.save_model(generator, folder / "generator.keras")
    (folder / "manifest.json").write_text(json.dumps(MANIFEST))
    return folder


@pytest.fixture
def masks(tmp_path):
    folder = tmp_path / "masks"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), disc_instances())  # 40 x 56, tiled by --tile 16
    return folder


def styles(folder):
    """A dark and a bright field, in the data's units (uint16), of their own sizes."""
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(1)
    dark = (300 + 50 * rng.random((48, 64))).astype(np.uint16)
    bright = (3000 + 400 * rng.random((30, 70))).astype(np.uint16)
    tifffile.imwrite(folder / "dark.tif", dark)
    cv2.imwrite(str(folder / "bright.png"), bright)
    return folder / "dark.tif", folder / "bright.png"


def generate(run, masks, out, *extra):
    return main(["generate", "--model", str(run), "--masks", str(masks), "--out", str(out),
                 "--tile", "16", "--overlap", "4", "--seed", "2", *extra])


def test_style_changes_the_output_and_the_same_style_gives_the_same(tmp_path, style_run, masks):
    dark, bright = styles(tmp_path / "styles")
    for name, style in (("dark", dark), ("dark_again", dark), ("bright", bright)):
        assert generate(style_run, masks, tmp_path / name, "--style", str(style)) == 0
    first = tifffile.imread(tmp_path / "dark" / "a.tif").astype(float)
    assert first.shape == (40, 56)
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "dark_again" / "a.tif"), first)
    assert np.abs(tifffile.imread(tmp_path / "bright" / "a.tif") - first).mean() > 5
    assert read_provenance(tmp_path / "bright" / "a.tif")["style"] == str(bright)


def test_samples_share_one_code_per_field_and_differ_between_samples(tmp_path, style_run, masks):
    import keras

    from cig_k3.export import load_generator
    from cig_k3.inference.generate import GenerateOptions, encode_mask, generate_for_mask, read_mask
    from cig_k3.inference.style import encode_style

    dark, _ = styles(tmp_path / "styles")
    model = load_generator(style_run / "generator.keras")
    style = read_style(dark, MANIFEST, 1)
    posterior = encode_style(model, style)
    codes = style_codes(4, 3, seed=5, posterior=posterior)
    assert codes.shape == (3, 4) and np.abs(codes[0] - codes[1]).max() > 1e-3
    np.testing.assert_array_equal(style_codes(4, 3, seed=5, posterior=posterior), codes)
    np.testing.assert_array_equal(style_codes(4, 1, seed=5, posterior=posterior)[0], posterior[0].astype("float32"))
    condition, _, _ = encode_mask(read_mask(masks / "a.png"), MANIFEST, 3)
    # One code per field: the tiled field equals the untiled one (no per-tile style), up to
    # the blending of the overlaps, which only mixes tiles drawn with the same code.
    tiled = generate_for_mask(model, condition, GenerateOptions(tile=16, overlap=4), codes[:1])[0]
    whole = keras.ops.convert_to_numpy(model.synthesize(condition[None, :40, :56], codes[:1]))[0]
    assert np.abs(tiled - whole).mean() < 0.5 * np.abs(whole - whole.mean()).mean()


def test_no_style_draws_from_the_prior_reproducibly(tmp_path, style_run, masks):
    assert generate(style_run, masks, tmp_path / "one") == 0
    assert generate(style_run, masks, tmp_path / "two") == 0
    first = tifffile.imread(tmp_path / "one" / "a.tif")
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "two" / "a.tif"), first)
    assert read_provenance(tmp_path / "one" / "a.tif")["style"] == "prior N(0, I)"
    assert main(["generate", "--model", str(style_run), "--masks", str(masks), "--out", str(tmp_path / "three"),
                 "--tile", "16", "--overlap", "4", "--seed", "9"]) == 0
    assert not np.array_equal(tifffile.imread(tmp_path / "three" / "a.tif"), first)


@pytest.mark.parametrize("case, expected", [
    ("rgb", "has 3 channel(s) but the model draws 1"),
    ("garbage", "cannot read the image"),
    ("missing", "cannot read the image"),
    ("text", "must be a TIFF or PNG"),
])
def test_bad_style_stops_in_one_line_before_writing(tmp_path, style_run, masks, capsys, case, expected):
    path = {"rgb": tmp_path / "rgb.png", "garbage": tmp_path / "garbage.tif", "missing": tmp_path / "none.tif",
            "text": tmp_path / "style.txt"}[case]
    if case == "rgb":
        cv2.imwrite(str(path), np.full((16, 16, 3), 200, np.uint8))
    elif case in ("garbage", "text"):
        path.write_bytes(b"not an image")
    out = tmp_path / "out"
    assert generate(style_run, masks, out, "--style", str(path)) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and expected in error[0] and str(path) in error[0], error
    assert not out.exists()


def test_style_for_a_model_without_a_style_encoder(tmp_path, run_dir, masks, capsys):
    dark, _ = styles(tmp_path / "styles")
    for extra in ([], ["--dask", "local:1", "--as-shards", str(tmp_path / "shards")]):
        assert generate(run_dir, masks, tmp_path / "out", "--style", str(dark), *extra) == 2
        error = capsys.readouterr().err.strip().splitlines()
        assert len(error) == 1 and "has no style encoder" in error[0], error
        assert not (tmp_path / "out").exists() and not (tmp_path / "shards").exists()
