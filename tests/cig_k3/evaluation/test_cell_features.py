import numpy as np
import pytest
from scipy import ndimage
from skimage.draw import disk

from cig_k3.evaluation import cell_features

pytestmark = pytest.mark.backend_independent

SIZE = 64


def two_discs():
    """Instance labels of two discs of radius 10 on a 64x64 field."""
    instances = np.zeros((SIZE, SIZE), dtype=np.int32)
    for label, centre in ((1, (18, 18)), (2, (44, 44))):
        instances[disk(centre, 10, shape=instances.shape)] = label
    return instances


def field(rng, instances, texture=(0.0, 0.0), background_noise=0.0, level=0.2):
    """Objects at `level` plus noise of std texture[label - 1]; background at -0.8."""
    image = np.full(instances.shape, -0.8) + rng.normal(0, background_noise, instances.shape)
    for label, std in enumerate(texture, start=1):
        inside = instances == label
        image[inside] = level + rng.normal(0, std, inside.sum())
    return np.clip(image, -1, 1)


def test_textured_object_scores_higher_texture_than_flat_one(rng):
    instances = two_discs()
    rows = cell_features.object_features(field(rng, instances, texture=(0.0, 0.25)), instances)
    assert list(rows["label"]) == [1, 2]
    flat, textured = 0, 1
    for key in ("intensity_std", "intensity_cv", "glcm_contrast", "glcm_entropy", "lbp_entropy"):
        assert rows[key][textured] > rows[key][flat] + 0.01, key
    # A flat object stays flat: the GLCM is quantised over a fixed range, not its own min/max.
    assert rows["intensity_std"][flat] == pytest.approx(0.0, abs=1e-12)
    assert rows["glcm_contrast"][flat] == pytest.approx(0.0, abs=1e-12)
    assert rows["glcm_entropy"][flat] == pytest.approx(0.0, abs=1e-12)
    assert rows["glcm_homogeneity"][flat] == pytest.approx(1.0)
    assert rows["glcm_homogeneity"][textured] < 0.9
    assert rows["lbp_flat_fraction"][flat] == pytest.approx(1.0)
    assert rows["intensity_mean"][flat] == pytest.approx(0.6)  # (0.2 + 1) / 2
    assert rows["intensity_p10"][textured] < rows["intensity_p50"][textured] < rows["intensity_p90"][textured]


def test_glcm_sees_only_pixels_inside_the_object(rng):
    """A flat object next to a bright, noisy neighbour inside its bounding box stays flat."""
    instances = np.zeros((SIZE, SIZE), dtype=np.int32)
    instances[10:30, 10:30] = 1
    instances[10:20, 10:20] = 2  # cuts a corner out of object 1's box
    image = np.full(instances.shape, 0.0)
    image[instances == 2] = rng.uniform(-1, 1, (instances == 2).sum())
    rows = cell_features.object_features(image, instances)
    assert rows["glcm_contrast"][0] == pytest.approx(0.0, abs=1e-12)
    assert rows["glcm_contrast"][1] > 10


def test_boundary_is_sharper_for_a_sharp_disc_than_a_blurred_one(rng):
    instances = two_discs()
    sharp = field(rng, instances)
    blurred = ndimage.gaussian_filter(sharp, 2.0)
    sharp_rows = cell_features.object_features(sharp, instances)
    blurred_rows = cell_features.object_features(blurred, instances)
    assert np.all(sharp_rows["boundary_sharpness"] > 1.5 * blurred_rows["boundary_sharpness"])


def test_small_objects_are_skipped_and_inputs_may_be_nhwc(rng):
    instances = two_discs()
    instances[60:63, 60:63] = 3  # 9 pixels, below min_object_pixels
    image = field(rng, instances, texture=(0.1, 0.1))
    rows = cell_features.object_features(image[None, ..., None], instances)
    assert list(rows["label"]) == [1, 2]
    assert list(cell_features.object_features(image, instances, min_object_pixels=4)["label"]) == [1, 2, 3]
    with pytest.raises(ValueError, match="mask"):
        cell_features.object_features(image, instances[:32])


def test_background_features_see_background_noise(rng):
    instances = two_discs()
    clean = cell_features.background_features(field(rng, instances), instances)
    noisy = cell_features.background_features(field(rng, instances, background_noise=0.1), instances)
    assert set(clean) == set(cell_features.BACKGROUND_FEATURES)
    assert clean["background_intensity_std"] == pytest.approx(0.0, abs=1e-12)
    assert clean["background_intensity_mean"] == pytest.approx(0.1)
    for key in ("intensity_std", "glcm_contrast", "glcm_entropy", "lbp_entropy"):
        assert noisy[f"background_{key}"] > clean[f"background_{key}"] + 0.01, key


def test_background_speck_density_counts_bright_specks_on_the_far_background(rng):
    instances = two_discs()
    far = ndimage.distance_transform_edt(instances == 0) > cell_features.SPECK_MARGIN
    grainy = field(rng, instances, background_noise=0.01)
    specked = grainy.copy()
    for y, x in ((3, 60), (60, 3), (3, 40)):
        assert far[y, x]
        specked[y, x] += 0.2
    near = grainy.copy()
    near[18, 30] += 0.2  # 2 px from a disc: its glow, not the background
    density = {name: cell_features.background_features(image, instances)["background_speck_density"]
               for name, image in (("grainy", grainy), ("specked", specked), ("near", near),
                                   ("clean", field(rng, instances)))}
    assert density["specked"] == pytest.approx(3e4 / far.sum())
    assert density["grainy"] == density["near"] == density["clean"] == 0.0
    # A field with under MIN_SPECK_PIXELS of far background has no figure.
    crowded = np.zeros((SIZE, SIZE), np.int32)
    crowded[::16, ::16] = np.arange(1, 17).reshape(4, 4)
    assert np.isnan(cell_features.background_features(specked, crowded)["background_speck_density"])


def random_fields(rng, count, texture):
    instances = np.stack([two_discs()] * count)
    images = np.stack([field(rng, item, texture=(texture, texture), level=rng.uniform(-0.1, 0.3),
                             background_noise=0.03) for item in instances])
    return images[..., None], instances


def test_feature_table_rows_and_image_index(rng):
    images, instances = random_fields(rng, 3, 0.1)
    table = cell_features.feature_table(images, instances)
    assert list(table["image_index"]) == [0, 0, 1, 1, 2, 2]
    for key in cell_features.OBJECT_FEATURES:
        assert table[key].shape == (6,), key
    for key in cell_features.BACKGROUND_FEATURES:
        assert table[key].shape == (3,), key
    as_list = cell_features.feature_table([image[..., 0] for image in images], list(instances))
    np.testing.assert_allclose(as_list["glcm_contrast"], table["glcm_contrast"])
    with pytest.raises(ValueError, match="3 images but 2 masks"):
        cell_features.feature_table(images, instances[:2])


def test_compare_of_a_set_with_itself_is_zero(rng):
    images, instances = random_fields(rng, 4, 0.1)
    table = cell_features.feature_table(images, instances)
    result = cell_features.compare(table, table)
    assert result["frechet"] == pytest.approx(0.0, abs=1e-6)
    for key, scores in result["per_feature"].items():
        assert scores["w1_iqr"] == pytest.approx(0.0, abs=1e-12), key
        assert scores["median_offset_iqr"] == pytest.approx(0.0, abs=1e-12), key
    assert set(result["per_feature"]) == set(cell_features.OBJECT_FEATURES + cell_features.BACKGROUND_FEATURES)
    assert len(result["worst"]) == 5 and result["n_real"] == 8


def test_compare_flags_the_changed_feature_first(rng):
    real = {key: rng.normal(10, 1, 200) for key in ("glcm_contrast", "intensity_mean", "lbp_entropy")}
    fake = dict(real)
    fake["glcm_contrast"] = real["glcm_contrast"] * 0.4
    fake["intensity_mean"] = real["intensity_mean"] + 0.05  # a small shift, ranked below
    result = cell_features.compare(real, fake, object_name="nuclei")
    worst = result["worst"]
    assert [item["feature"] for item in worst] == ["glcm_contrast", "intensity_mean", "lbp_entropy"]
    assert worst[0]["median_ratio"] == pytest.approx(0.4)
    assert worst[0]["text"].startswith("texture contrast (GLCM) of generated nuclei is 0.4x real")
    assert worst[0]["median_offset_iqr"] < -3
    assert worst[2]["w1_iqr"] == pytest.approx(0.0)
    assert result["frechet"] > 10


def test_compare_flat_generated_nuclei_puts_texture_among_the_worst(rng):
    images, instances = random_fields(rng, 4, 0.15)
    flat_images, _ = random_fields(rng, 4, 0.0)
    result = cell_features.compare(cell_features.feature_table(images, instances),
                                   cell_features.feature_table(flat_images, instances))
    texture = {"intensity_std", "intensity_cv", "glcm_contrast", "glcm_entropy", "glcm_homogeneity", "lbp_entropy",
               "lbp_flat_fraction", "lbp_uniform_fraction"}
    assert result["worst"][0]["feature"] in texture
    assert result["per_feature"]["glcm_contrast"]["median_ratio"] < 0.1
    assert result["frechet"] > 1.0
    same = cell_features.compare(cell_features.feature_table(images, instances),
                                 cell_features.feature_table(random_fields(rng, 4, 0.15)[0], instances))
    assert same["frechet"] < result["frechet"]


def test_compare_guards_a_constant_real_feature():
    real = {"glcm_correlation": np.ones(10)}
    result = cell_features.compare(real, {"glcm_correlation": np.full(10, 0.5)})
    scores = result["per_feature"]["glcm_correlation"]
    assert np.isfinite(scores["w1_iqr"]) and scores["w1_iqr"] == pytest.approx(0.5)  # falls back to scale 1
    assert scores["median_ratio"] == pytest.approx(0.5)
