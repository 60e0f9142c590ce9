"""pix2pixHD's instance-wise feature encoder: pooling by hand, seeded draws from the cluster
centres, a fresh-process .keras round trip with the centres, and inference through
`generator_inputs`, tiled fields and `cig generate`."""

import json
import os
import subprocess
import sys

import cv2
import keras
import numpy as np
import pytest

from cig_k3.layers.instance_pooling import InstanceAveragePooling, InstanceBroadcast
from cig_k3.models import InstanceUNetGenerator
from cig_k3.models.instance_encoder import cluster_choice
from tests.cig_k3.export.conftest import MANIFEST, disc_instances


def tiny(seed=0, **kwargs):
    return InstanceUNetGenerator(3, 1, base_filters=4, depth=2, max_filters=8, encoder_filters=4, max_instances=8,
                                 seed=seed, **kwargs)


def fitted(seed=0):
    """A tiny generator whose ten centres are far apart: (10 k, -k, k / 10) for k = 0..9,
    cluster k holding 2 (k + 1) of the 110 instances."""
    generator = tiny(seed)
    rng = np.random.default_rng(0)
    centres = np.stack([10.0 * np.arange(10), -np.arange(10.0), np.arange(10) / 10], axis=1)
    generator.fit_clusters(np.repeat(centres, 2 * np.arange(1, 11), axis=0) + rng.normal(0, 0.01, (110, 3)))
    return generator


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def test_pooling_by_hand():
    features = np.arange(2 * 4 * 4 * 2, dtype="float32").reshape(2, 4, 4, 2)
    ids = np.zeros((2, 4, 4), "int32")
    ids[0, :2, :2], ids[0, 3, :] = 1, 3
    ids[1, 1:, 3] = 1
    table = numpy(InstanceAveragePooling(5)([features, ids[..., None]]))
    expected = np.zeros((2, 5, 2), "float32")
    expected[0, 1] = (features[0, 0, 0] + features[0, 0, 1] + features[0, 1, 0] + features[0, 1, 1]) / 4
    expected[0, 3] = features[0, 3].sum(axis=0) / 4
    expected[1, 1] = (features[1, 1, 3] + features[1, 2, 3] + features[1, 3, 3]) / 3
    np.testing.assert_allclose(table, expected, rtol=1e-6)
    # Painted back: each pixel its instance's mean, the background 0.
    painted = numpy(InstanceBroadcast()([table, ids]))
    np.testing.assert_allclose(painted[0, 3, 2], expected[0, 3], rtol=1e-6)
    np.testing.assert_allclose(painted[1, 2, 3], expected[1, 1], rtol=1e-6)
    assert not painted[ids == 0].any()


def test_generator_pools_its_encoder_inside_each_instance():
    generator = tiny()
    rng = np.random.default_rng(1)
    raw = rng.uniform(-1, 1, (1, 16, 16, 1)).astype("float32")
    ids = np.zeros((1, 16, 16), "int32")
    ids[0, 2:7, 3:9], ids[0, 9:15, 8:16] = 2, 5
    feature_map, table = numpy(generator.feature_map(raw)), numpy(generator.encode_instances(raw, ids))
    assert table.shape == (1, 8, 3)
    for instance in (2, 5):
        np.testing.assert_allclose(table[0, instance], feature_map[0][ids[0] == instance].mean(axis=0), atol=1e-5)
    assert not table[0, [0, 1, 3, 4, 6, 7]].any()
    label = np.eye(3, dtype="float32")[(ids > 0).astype(int)]
    image = generator({"label": label, "instances": ids, "raw": raw})
    assert tuple(image.shape) == (1, 16, 16, 1)


def test_intensity_encoder_gives_each_instance_its_mean_and_spread(tmp_path):
    generator = InstanceUNetGenerator(3, 1, feature_dim=2, encoder="intensity", base_filters=4, depth=2,
                                      max_filters=8, max_instances=8, seed=0)
    assert not generator.encoder.weights  # fixed statistics: nothing to learn
    rng = np.random.default_rng(2)
    raw = rng.uniform(-1, 1, (2, 16, 16, 1)).astype("float32")
    ids = np.zeros((2, 16, 16), "int32")
    ids[0, 2:7, 3:9], ids[1, 9:15, 8:16] = 3, 1
    table = numpy(generator.encode_instances(raw, ids))
    for image, instance in ((0, 3), (1, 1)):
        pixels = raw[image, ..., 0][ids[image] == instance]
        np.testing.assert_allclose(table[image, instance], [pixels.mean(), pixels.std()], atol=1e-5)
    assert not table[0, [0, 1, 2]].any() and not table[1, [0, 2, 3]].any()
    # The cluster fit turns whole-field means into the same statistics (numpy path).
    means = np.stack([raw[0, ..., 0][ids[0] == 3].mean(), (raw[0, ..., 0][ids[0] == 3] ** 2).mean()])
    np.testing.assert_allclose(generator.instance_features(means[None]), table[0, 3][None], atol=1e-5)
    # A .keras round trip keeps the encoder kind, its centres and the output.
    label = np.eye(3, dtype="float32")[(ids > 0).astype(int)]
    generator.fit_clusters(np.stack([np.linspace(-1, 1, 40), np.full(40, 0.1)], axis=1))
    features = generator.sample_features(ids, seed=4)
    image = numpy(generator({"label": label, "instances": ids, "features": features}))
    path = tmp_path / "intensity.keras"
    generator.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.encoder_kind == "intensity" and loaded.fitted
    np.testing.assert_allclose(numpy(loaded({"label": label, "instances": ids, "features": features})), image,
                               atol=1e-5)
    with pytest.raises(ValueError, match="feature_dim=3 .* feature_dim 2"):
        InstanceUNetGenerator(3, 1, feature_dim=3, encoder="intensity")
    with pytest.raises(ValueError, match="unknown encoder 'vae'"):
        InstanceUNetGenerator(3, 1, encoder="vae")


@pytest.mark.backend_independent
def test_cluster_choice_is_a_function_of_seed_and_id():
    ids = np.arange(1, 200)
    first, again, other = cluster_choice(ids, 3, 10), cluster_choice(ids, 3, 10), cluster_choice(ids, 4, 10)
    np.testing.assert_array_equal(first, again)
    assert (first != other).mean() > 0.5 and set(first) == set(range(10))
    # An id's choice does not depend on which other ids are asked with it (tiles of a field).
    np.testing.assert_array_equal(cluster_choice(ids[50:60], 3, 10), first[50:60])
    # Weighted: each cluster as often as its share; a cluster of weight 0 never.
    weights = np.array([0.6, 0.3, 0.0, 0.1])
    drawn = cluster_choice(np.arange(1, 20001), 3, weights)
    np.testing.assert_allclose(np.bincount(drawn, minlength=4) / 20000, weights, atol=0.015)
    with pytest.raises(ValueError, match="cluster weights"):
        cluster_choice(ids, 3, np.array([0.5, -0.1]))


def test_seeds_draw_per_instance_features_from_the_centres():
    generator = fitted()
    centres = numpy(generator.cluster_centres)
    assert generator.fitted and centres.shape == (10, 3)
    np.testing.assert_allclose(np.sort(centres[:, 0]), 10.0 * np.arange(10), atol=0.1)
    # The weights are the clusters' shares of the fitted instances, centre by centre.
    shares = (np.round(centres[:, 0] / 10) + 1) * 2 / 110
    np.testing.assert_allclose(numpy(generator.cluster_weights), shares, atol=1e-6)
    ids = np.arange(21, dtype="int32").reshape(1, 3, 7)
    same, again, other = (generator.sample_features(ids, seed) for seed in (1, 1, 2))
    assert same.shape == (1, 21, 3) and not same[0, 0].any()
    np.testing.assert_array_equal(same, again)
    assert (np.abs(same - other).max(axis=-1)[0, 1:] > 1).mean() > 0.5
    for row in same[0, 1:]:  # each instance takes one of the centres
        assert np.abs(centres - row).max(axis=1).min() < 1e-6
    with pytest.raises(ValueError, match="no fitted instance-feature clusters"):
        tiny().sample_features(ids)


def test_fields_draw_gives_each_image_one_train_field_and_round_trips(tmp_path):
    """feature_draw "fields": every object of an image takes the features of an object of one
    bank field (fields differ by tens, objects within one by tenths); which field follows the
    seed; the bank keeps at most bank_instances objects a field and travels in the file."""
    generator = tiny(feature_draw="fields", bank_fields=4, bank_instances=5)
    fields = [np.stack([10.0 * f + 0.1 * np.arange(n), np.full(n, -f), np.zeros(n)], axis=1)
              for f, n in ((1, 3), (2, 7), (3, 0), (4, 2))]
    generator.fit_clusters(np.concatenate(fields))
    with pytest.raises(ValueError, match="bank is empty"):
        generator.sample_features(np.ones((1, 2, 2), "int32"))
    assert generator.fit_bank(fields) == 3
    assert sorted(numpy(generator.bank_counts).tolist()) == [0.0, 2.0, 3.0, 5.0]
    ids = np.arange(21, dtype="int32").reshape(1, 3, 7)
    chosen = set()
    for seed in range(30):
        table = generator.sample_features(ids, seed)[0]
        assert not table[0].any()
        field = int(round(table[1, 0] // 10))
        chosen.add(field)
        assert set(np.floor(table[1:, 0] / 10).round().astype(int)) == {field}  # one field for the image
        rows = fields[field - 1][:, 0]
        assert all(np.abs(rows - value).min() < 1e-5 for value in table[1:, 0])
    assert chosen == {1, 2, 4}  # every field with objects, none without
    np.testing.assert_array_equal(generator.sample_features(ids, 5), generator.sample_features(ids, 5))
    generator.save(tmp_path / "fields.keras")
    loaded = keras.saving.load_model(tmp_path / "fields.keras", safe_mode=True)
    assert loaded.get_config()["feature_draw"] == "fields"
    np.testing.assert_array_equal(loaded.sample_features(ids, 11), generator.sample_features(ids, 11))
    with pytest.raises(ValueError, match="feature_draw"):
        tiny(feature_draw="nuclei")


def test_keras_round_trip_in_a_fresh_process_keeps_the_centres(tmp_path):
    generator = fitted(seed=3)
    for variable in generator.trainable_variables:  # non-zero everywhere: the file must carry them
        variable.assign(np.random.default_rng(len(variable.path)).normal(0, 0.2, variable.shape).astype("float32"))
    ids = disc_instances((16, 16), ((4, 4), (11, 10)), 3).astype("int32")[None]
    label = np.eye(3, dtype="float32")[(ids > 0).astype(int)]
    inputs = {"label": label, "instances": ids, "features": generator.sample_features(ids, seed=7)}
    expected = numpy(generator(inputs))
    generator.save(tmp_path / "generator.keras")
    np.savez(tmp_path / "inputs.npz", label=label, instances=ids)
    script = """
import sys, numpy as np, keras, cig_k3
model = keras.saving.load_model(sys.argv[1], safe_mode=True)
data = np.load(sys.argv[2])
inputs = {"label": data["label"], "instances": data["instances"],
          "features": model.sample_features(data["instances"], seed=7)}
np.save(sys.argv[3], keras.ops.convert_to_numpy(model(inputs)))
np.save(sys.argv[3].replace("out.npy", "weights.npy"), keras.ops.convert_to_numpy(model.cluster_weights))
print(type(model).__name__, model.fitted)
"""
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path / "generator.keras"),
                             str(tmp_path / "inputs.npz"), str(tmp_path / "out.npy")],
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[-2:] == ["InstanceUNetGenerator", "True"]
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, atol=1e-5)
    np.testing.assert_array_equal(np.load(tmp_path / "weights.npy"), numpy(generator.cluster_weights))


def test_generator_inputs_draws_features_for_the_instances():
    from cig_k3.evaluation.conditioning import generator_inputs, takes_instances, takes_style

    generator = fitted()
    assert takes_instances(generator) and not takes_style(generator)
    mask = disc_instances((16, 24), ((5, 5), (10, 17)), 3)
    condition = np.eye(3, dtype="float32")[(mask > 0).astype(int)][None]
    inputs = generator_inputs(generator, condition, None, instances=mask[None], seed=4)
    assert set(inputs) == {"label", "instances", "features"}
    np.testing.assert_array_equal(inputs["features"], generator.sample_features(mask[None], seed=4))
    # Without instances, the objects are found in the label: two discs, two instances.
    found = generator_inputs(generator, condition, None)["instances"]
    assert found.shape == (1, 16, 24) and len(np.unique(found)) == 3
    assert tuple(generator(inputs).shape) == (1, 16, 24, 1)


def test_tiles_give_each_instance_its_whole_field_feature(monkeypatch):
    from cig_k3.inference.instances import generate_with_instances

    generator = fitted()
    # The generator's output replaced by the feature map it is conditioned on (channel 0).
    monkeypatch.setattr(generator, "synthesize",
                        lambda label, ids, table, training=False: InstanceBroadcast()([table, ids])[..., :1])
    mask = disc_instances((40, 56), ((10, 12), (20, 16), (25, 35), (30, 10)), 6)
    condition = np.eye(3, dtype="float32")[(mask > 0).astype(int)]
    whole = generate_with_instances(generator, condition, mask, tile=64, overlap=8, seed=5)[0]
    tiled = generate_with_instances(generator, condition, mask, tile=16, overlap=4, seed=5)[0]
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
    table = generator.sample_features(mask[None], seed=5 * 65537)[0]
    for instance in range(1, 5):
        np.testing.assert_allclose(tiled[mask == instance, 0], table[instance, 0], atol=1e-5)
    two = generate_with_instances(generator, condition, mask, tile=16, overlap=4, samples=2, seed=5)
    np.testing.assert_allclose(two[0], whole, atol=1e-5)
    assert np.abs(two[1] - two[0]).max() > 1


def test_cig_generate_draws_an_instance_mask(tmp_path):
    from cig_k3.cli import main
    from cig_k3.inference.generate import read_provenance

    run = tmp_path / "run"
    run.mkdir()
    fitted(seed=1).save(run / "generator.keras")
    (run / "manifest.json").write_text(json.dumps(MANIFEST))
    masks = tmp_path / "masks"
    masks.mkdir()
    cv2.imwrite(str(masks / "a.png"), disc_instances())  # 40 x 56, tiled by --tile 16

    def generate(out, *extra):
        code = main(["generate", "--model", str(run), "--masks", str(masks), "--out", str(out), "--tile", "16",
                     "--overlap", "4", *extra])
        assert code in (0, None)
        return out

    import tifffile

    first = tifffile.imread(generate(tmp_path / "one", "--seed", "2") / "a.tif")
    again = tifffile.imread(generate(tmp_path / "again", "--seed", "2") / "a.tif")
    assert first.shape == (40, 56)
    np.testing.assert_array_equal(first, again)
    assert "instance_features" in read_provenance(tmp_path / "one" / "a.tif")
    samples = generate(tmp_path / "samples", "--seed", "2", "--samples", "2")
    assert (samples / "a_sample00.tif").exists() and (samples / "a_std.tif").exists()


def test_evaluation_draws_whole_fields_tile_by_tile():
    from cig_k3.evaluation.evaluate import generate_fields
    from cig_k3.inference.instances import generate_with_instances

    generator = fitted()
    mask = disc_instances((24, 40), ((6, 8), (16, 28)), 5)
    condition = np.eye(3, dtype="float32")[(mask > 0).astype(int)]
    single, = generate_fields(generator, [condition], tile=16, overlap=4)
    drawn, = generate_fields(generator, [condition], tile=16, overlap=4, samples=2)
    assert single.shape == (24, 40, 1) and drawn.shape == (2, 24, 40, 1)
    assert np.all(np.abs(drawn) <= 1) and np.abs(drawn[1] - drawn[0]).max() > 0
    # The shards' own instance map is used when given (cig evaluate): its ids pick the features.
    given = [generate_fields(generator, [condition], tile=16, overlap=4, instances=[mask * factor])[0]
             for factor in (1, 3, 7, 11)]
    np.testing.assert_array_equal(given[0], generate_with_instances(generator, condition, mask, 16, 4)[0])
    assert max(np.abs(other - given[0]).max() for other in given[1:]) > 1e-6


def test_exports_refuse_it_in_one_line_before_writing(tmp_path):
    from cig_k3.export.bioimageio import export_bioimageio
    from cig_k3.export.formats import export_model

    import json

    path = tmp_path / "generator.keras"
    tiny().save(path)
    (tmp_path / "manifest.json").write_text(json.dumps(MANIFEST))
    out = tmp_path / "out" / "model.onnx"
    # ONNX takes its one-graph form (tests/cig_k3/export/test_instance_export.py), which needs
    # the clusters; a bioimage.io package describes one label input, so it refuses the generator.
    with pytest.raises(ValueError, match="no fitted instance-feature clusters"):
        export_model(path, "onnx", out)
    with pytest.raises(ValueError, match="bioimage.io package .* instance_unet"):
        export_bioimageio(path, tmp_path / "out" / "package.zip")
    assert not (tmp_path / "out").exists()


def test_texture_encoder_adds_each_instance_texture_strength(tmp_path):
    from scipy import ndimage

    generator = InstanceUNetGenerator(3, 1, feature_dim=3, encoder="texture", base_filters=4, depth=2,
                                      max_filters=8, max_instances=8, seed=0)
    assert not generator.encoder.weights  # fixed statistics: nothing to learn
    rng = np.random.default_rng(5)
    # Two instances of equal mean: one with grain alone, one with strong fine texture; the
    # background has grain too.
    raw = np.full((1, 24, 24, 1), -0.8, "float32") + rng.normal(0, 0.01, (1, 24, 24, 1)).astype("float32")
    ids = np.zeros((1, 24, 24), "int32")
    ids[0, 2:10, 2:12], ids[0, 13:22, 8:20] = 2, 4
    raw[0, 2:10, 2:12, 0] = 0.3 + rng.normal(0, 0.02, (8, 10))
    raw[0, 13:22, 8:20, 0] = 0.3 + rng.normal(0, 0.1, (9, 12))
    table = numpy(generator.encode_instances(raw, ids))
    assert table.shape == (1, 8, 3)
    # By hand: scipy's Gaussian of σ 1.5 with mirrored borders (Keras' "reflect"), over the
    # objects alone (a normalised convolution), so that their edges are no texture.
    foreground = (ids[0] > 0).astype("float64")
    blur = lambda x: ndimage.gaussian_filter(x, 1.5, mode="mirror")  # noqa: E731
    texture = raw[0, ..., 0] - blur(raw[0, ..., 0] * foreground) / np.maximum(blur(foreground), 1e-6)
    for instance in (2, 4):
        pixels, inside = raw[0, ..., 0][ids[0] == instance], ids[0] == instance
        np.testing.assert_allclose(table[0, instance], [pixels.mean(), pixels.std(),
                                                        np.sqrt((texture[inside] ** 2).mean())], atol=1e-3)
    # The textured nucleus's texture is strong; the grainy one's is its grain alone, not its edge
    # (0.02 grain, less what a σ 1.5 blur keeps of it).
    assert table[0, 4, 2] > 3 * table[0, 2, 2] > 0 and table[0, 2, 2] < 0.025
    assert not table[0, [0, 1, 3, 5, 6, 7]].any()
    # The cluster fit's numpy path gives the same features from whole-field means.
    feature_map = numpy(generator.feature_map(raw, ids))[0]
    means = feature_map[ids[0] == 4].mean(axis=0)
    np.testing.assert_allclose(generator.instance_features(means[None].astype(np.float64)), table[0, 4][None],
                               atol=1e-5)
    # A .keras round trip keeps the encoder kind and its features.
    path = tmp_path / "texture.keras"
    generator.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.encoder_kind == "texture"
    np.testing.assert_allclose(numpy(loaded.encode_instances(raw, ids)), table, atol=1e-6)
    with pytest.raises(ValueError, match="feature_dim=2 .* texture strength .* feature_dim 3"):
        InstanceUNetGenerator(3, 1, feature_dim=2, encoder="texture")
