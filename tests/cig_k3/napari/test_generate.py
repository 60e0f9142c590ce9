"""`generate_from_labels`, the widget's work, headless: layers, samples, refusals."""

import json

import numpy as np
import pytest
import tifffile

from cig_k3.cli import main
from cig_k3.inference.tiling import count_calls
from cig_k3.napari.generate import generate_from_labels

from tests.cig_k3.export.conftest import tiny_generator
from tests.cig_k3.napari.conftest import labels_field


def test_one_image_in_the_data_scale_with_provenance(run_dir, tmp_path):
    progress = []
    layers = generate_from_labels(run_dir, labels_field(), tile=16, overlap=4, seed=3, labels_name="drawn",
                                  on_progress=lambda done, total: progress.append((done, total)))
    assert len(layers) == 1
    image, kwargs, kind = layers[0]
    assert kind == "image" and kwargs["name"] == "run"
    assert image.shape == (40, 56) and image.dtype == np.uint16
    assert 100 <= image.min() and image.max() <= 4000  # the manifest's p_low..p_high
    assert kwargs["contrast_limits"] == [100.0, 4000.0]
    meta = kwargs["metadata"]
    assert meta["synthetic"] is True and meta["run_id"] == "abc123" and meta["seed"] == 3
    assert meta["mask"] == "drawn" and meta["kind"] == "image" and meta["model"].endswith("generator.keras")
    total = count_calls(40, 56, 16, 4, tiny_generator().size_multiple, 4)  # the run's generator
    assert total > 1 and progress == [(done, total) for done in range(1, total + 1)]  # tiled, every call counted


def test_k_samples_mean_and_std_match_cig_generate(run_dir, tmp_path):
    layers = generate_from_labels(run_dir / "generator.keras", labels_field(), samples=3, tile=32, overlap=8,
                                  seed=7)
    assert [kwargs["name"] for _, kwargs, _ in layers] == ["run", "run mean", "run std"]
    (samples, sample_kwargs, _), (mean, _, _), (std, std_kwargs, _) = layers
    assert samples.shape == (3, 40, 56) and samples.dtype == np.uint16
    assert mean.shape == std.shape == (40, 56) and std.dtype == np.float32 and std.max() > 0
    assert not np.array_equal(samples[0], samples[1])  # dropout on
    assert sample_kwargs["metadata"]["samples"] == 3 and std_kwargs["metadata"]["kind"] == "uncertainty_std"
    np.testing.assert_allclose(mean, samples.astype(np.float32).mean(axis=0), atol=0.51)  # rounding to uint16

    # The same seed gives what `cig generate` writes: the widget runs the command's own code.
    masks = tmp_path / "masks"
    masks.mkdir()
    tifffile.imwrite(masks / "drawn.tif", labels_field())
    assert main(["generate", "--model", str(run_dir), "--masks", str(masks), "--out", str(tmp_path / "out"),
                 "--samples", "3", "--seed", "7", "--tile", "32", "--overlap", "8"]) == 0
    for k in range(3):
        np.testing.assert_array_equal(samples[k], tifffile.imread(tmp_path / "out" / f"drawn_sample{k:02d}.tif"))


def test_a_style_model_draws_in_the_style_of_an_image(style_run_dir):
    style = np.full((40, 56), 900, np.uint16)
    image, kwargs, _ = generate_from_labels(style_run_dir, labels_field(), style=style, tile=16, overlap=4)[0]
    assert image.shape == (40, 56) and kwargs["name"] == "style_run"
    other = generate_from_labels(style_run_dir, labels_field(), style=style * 4, tile=16, overlap=4)[0][0]
    assert not np.array_equal(image, other)  # the style reaches the generator


def test_an_instance_model_draws_each_labelled_object_as_cig_generate_does(tmp_path):
    from tests.cig_k3.export.conftest import MANIFEST
    from tests.cig_k3.export.test_instance_export import fitted_intensity_generator

    folder = tmp_path / "instance_run"
    folder.mkdir()
    fitted_intensity_generator().save(folder / "generator.keras")
    (folder / "manifest.json").write_text(json.dumps(MANIFEST))
    labels = labels_field()
    (samples, _, _), _, _ = generate_from_labels(folder, labels, samples=2, tile=16, overlap=4, seed=4)
    masks = tmp_path / "masks"
    masks.mkdir()
    tifffile.imwrite(masks / "drawn.tif", labels)
    assert main(["generate", "--model", str(folder), "--masks", str(masks), "--out", str(tmp_path / "out"),
                 "--samples", "2", "--seed", "4", "--tile", "16", "--overlap", "4"]) == 0
    for k in range(2):
        np.testing.assert_array_equal(samples[k], tifffile.imread(tmp_path / "out" / f"drawn_sample{k:02d}.tif"))
    # The labels' own ids pick the features: renumbered objects draw other nuclei.
    renumbered = generate_from_labels(folder, labels * 5, samples=2, tile=16, overlap=4, seed=4)[0][0]
    assert not np.array_equal(renumbered, samples)


def _not_a_generator(run_dir):
    import keras

    inputs = keras.Input((8, 8, 3))
    keras.Model(inputs, keras.layers.Activation("relu")(inputs)).save(run_dir / "generator.keras")


def _truncated(run_dir):
    (run_dir / "generator.keras").write_bytes(b"PK\x03\x04 not a whole archive")


def _binary_manifest(run_dir):
    manifest = json.loads((run_dir / "manifest.json").read_text())
    (run_dir / "manifest.json").write_text(json.dumps({**manifest, "encoding": "binary", "num_classes": 2}))


@pytest.mark.parametrize("spoil, expected", [
    (_not_a_generator, "not a CIG generator"),
    (_truncated, "not a Keras model file"),
    (lambda run_dir: (run_dir / "manifest.json").unlink(), "manifest.json does not exist"),
    (_binary_manifest, "gives 2 channels but the generator takes 3"),
])
def test_refused_models_and_channel_mismatch(run_dir, spoil, expected):
    spoil(run_dir)
    with pytest.raises(ValueError, match=expected) as caught:
        generate_from_labels(run_dir, labels_field())
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("labels, style, expected", [
    (np.zeros((2, 40, 56), np.uint16), None, "labels layer 'drawn' is 3-D \\(2, 40, 56\\)"),
    (np.zeros((40, 56), np.float32), None, "labels must be integers"),
    (labels_field(), np.zeros((40, 56), np.uint16), "takes no style image"),
])
def test_refused_labels_and_styles(run_dir, labels, style, expected):
    with pytest.raises(ValueError, match=expected):
        generate_from_labels(run_dir, labels, style=style, labels_name="drawn")


@pytest.mark.parametrize("style, expected", [
    (None, "choose a style image layer"),
    (np.zeros((40, 56, 3), np.uint16), "has 3 channels but the model draws 1: channel mismatch"),
    (np.zeros((20, 56), np.uint16), "must be an image of the labels' size"),
])
def test_style_refusals(style_run_dir, style, expected):
    with pytest.raises(ValueError, match=expected):
        generate_from_labels(style_run_dir, labels_field(), style=style)
