"""An instance generator (realistic-instance) exported as one graph: label channels then a
channel of instance ids in, each id's feature drawn inside the graph as `cig generate` draws it."""

import json

import keras
import numpy as np
import pytest
import tifffile

from cig_k3.cli import main
from cig_k3.export import FORMATS, export_model, load_generator, run_onnx, run_savedmodel
from cig_k3.inference.instances import sample_seed
from cig_k3.models import InstanceFieldGenerator, InstanceUNetGenerator
from cig_k3.models.instance_field import InstanceFeaturePainter
from tests.cig_k3.export.conftest import MANIFEST, disc_instances


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def fitted_intensity_generator():
    """The preset's shape in miniature (intensity encoder, noise, a latent code), non-zero
    weights everywhere and ten fitted centres."""
    generator = InstanceUNetGenerator(3, 1, feature_dim=2, encoder="intensity", base_filters=4, depth=2,
                                      max_filters=8, max_instances=8, noise=True, latent_dim=2,
                                      full_resolution_noise=True, upsample="bilinear_conv", seed=0)
    for variable in generator.trainable_variables:
        variable.assign(np.random.default_rng(len(variable.path)).normal(0, 0.3, variable.shape).astype("float32"))
    rng = np.random.default_rng(1)
    generator.fit_clusters(np.stack([rng.uniform(-1, 1, 200), rng.uniform(0, 0.3, 200)], axis=1))
    return generator


def field_input(mask):
    label = np.eye(3, dtype="float32")[(mask > 0).astype(int)]
    return np.concatenate([label, mask[..., None].astype("float32")], axis=-1)[None]


def test_field_graph_draws_what_cig_generate_draws():
    generator = fitted_intensity_generator()
    field = InstanceFieldGenerator.from_instance_generator(generator, seed=5, rows=64)
    assert field.inputs[0].shape[-1] == 4 and field.size_multiple == generator.size_multiple
    mask = disc_instances((16, 24), ((5, 5), (10, 17)), 4).astype("int32")
    mask[mask == 2] = 63  # the last row of the table
    inputs = field_input(mask)
    features = generator.sample_features(mask[None], seed=sample_seed(5, 0))
    expected = numpy(generator({"label": inputs[..., :3], "instances": mask[None], "features": features}))
    np.testing.assert_allclose(numpy(field(inputs)), expected, atol=1e-5)
    # Another seed draws other features, so another image.
    other = InstanceFieldGenerator.from_instance_generator(generator, seed=6, rows=64)
    assert np.abs(numpy(other.painter.table) - numpy(field.painter.table)).max() > 0.1


def test_painter_wraps_large_ids_and_leaves_the_background_empty():
    painter = InstanceFeaturePainter(1, 2, rows=8)
    painter.table.assign(np.arange(16, dtype="float32").reshape(8, 2) + 1)
    ids = np.array([[0, 3, 7, 8, 15, 100]], "float32")
    out = numpy(painter(np.stack([np.full_like(ids, 0.5), ids], axis=-1)[None]))[0, 0]
    np.testing.assert_array_equal(out[:, 0], 0.5)  # the label passes through
    rows = [0, 3, 7, 1, 1, 1 + (100 - 1) % 7]
    expected = np.arange(16, dtype="float32").reshape(8, 2)[rows] + 1
    expected[0] = 0.0
    np.testing.assert_array_equal(out[:, 1:], expected)


@pytest.mark.parametrize("fmt", FORMATS)
def test_instance_generator_exports_as_one_graph(tmp_path, fmt):
    folder = tmp_path / "run"
    folder.mkdir()
    generator = fitted_intensity_generator()
    generator.save(folder / "generator.keras")
    (folder / "manifest.json").write_text(json.dumps(MANIFEST))
    out = tmp_path / {"keras": "g.keras", "savedmodel": "g_savedmodel", "onnx": "g.onnx"}[fmt]
    result = export_model(folder, fmt, out)
    assert result.max_abs_diff <= 1e-4 and out.exists()
    # Checked here against the instance generator itself on a field it never saw.
    mask = disc_instances((24, 40), ((6, 8), (15, 30), (18, 9)), 5).astype("int32")
    inputs = field_input(mask)
    features = generator.sample_features(mask[None], seed=sample_seed(0, 0))
    expected = numpy(generator({"label": inputs[..., :3], "instances": mask[None], "features": features}))
    if fmt == "keras":
        loaded = load_generator(out)
        assert isinstance(loaded, InstanceFieldGenerator)
        actual = numpy(loaded(inputs))
        # `cig generate --mean` (noise off, as in the graph) draws with the exported file what
        # it draws with the run.
        (tmp_path / "manifest.json").write_text(json.dumps(MANIFEST))
        (tmp_path / "masks").mkdir()
        tifffile.imwrite(tmp_path / "masks" / "m.tif", mask.astype("uint16"))
        for model, name in ((folder, "run"), (out, "exported")):
            assert main(["generate", "--model", str(model), "--masks", str(tmp_path / "masks"), "--out",
                         str(tmp_path / name), "--tile", "16", "--overlap", "4", "--mean"]) == 0
        np.testing.assert_array_equal(tifffile.imread(tmp_path / "exported" / "m.tif"),
                                      tifffile.imread(tmp_path / "run" / "m.tif"))
    elif fmt == "onnx":
        actual = run_onnx(out, inputs)
    else:
        actual = run_savedmodel(out, inputs)
    np.testing.assert_allclose(actual, expected, atol=1e-4)
