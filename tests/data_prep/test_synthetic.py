"""The synthetic generator: deterministic, valid labels, plausible values, fast."""

import time

import numpy as np
import pytest

from data_prep.labels import encode_label, semantic3_from_instances
from data_prep.synthetic import MAX_VALUE, field_rng, make_field

pytestmark = pytest.mark.backend_independent


def test_make_field_is_deterministic_and_well_formed():
    raw, instances = make_field(field_rng(7, 3), 128)
    again = make_field(field_rng(7, 3), 128)
    assert np.array_equal(raw, again[0]) and np.array_equal(instances, again[1])
    assert raw.dtype == np.uint16 and instances.dtype == np.uint16 and raw.shape == (128, 128)
    assert raw.max() <= MAX_VALUE
    labels = np.unique(instances)
    assert labels[0] == 0 and np.array_equal(labels, np.arange(len(labels)))  # 1..N, no gaps
    assert len(labels) > 3
    # Nuclei are brighter than the background, as in fluorescence.
    assert np.median(raw[instances > 0]) > 2 * np.median(raw[instances == 0])
    other = make_field(field_rng(7, 4), 128)[0]
    assert not np.array_equal(raw, other)


def test_make_field_accepts_rectangles():
    raw, instances = make_field(np.random.default_rng(0), (64, 96))
    assert raw.shape == instances.shape == (64, 96)


def test_make_field_is_fast():
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(20):
        make_field(rng, 256)
    assert (time.perf_counter() - start) / 20 < 0.1  # ~10 ms on one core; loose for busy CI


def test_semantic3_marks_inner_boundaries():
    instances = np.zeros((7, 9), np.uint16)
    instances[1:6, 1:4] = 1
    instances[1:6, 4:8] = 2  # touching object
    label = semantic3_from_instances(instances)
    assert label[0].tolist() == [0] * 9
    assert label[3].tolist() == [0, 2, 1, 2, 2, 1, 1, 2, 0]  # touching edge is boundary on both sides
    assert label[1, 1:8].tolist() == [2] * 7
    encoded, kept, count = encode_label(instances, "semantic3")
    assert np.array_equal(encoded, label) and np.array_equal(kept, instances) and count == 2


def test_semantic_mask_for_semantic3_must_hold_three_classes():
    with pytest.raises(ValueError, match="masks/x.png holds class 5"):
        encode_label(np.array([[0, 5], [1, 2]]), "semantic3", "semantic", path="masks/x.png")


def test_inner_boundaries_match_scikit_image():
    from skimage.segmentation import find_boundaries

    from data_prep.labels import inner_boundaries

    rng = np.random.default_rng(0)
    cases = [rng.integers(0, 4, (30, 41)).astype(np.uint16), make_field(rng, 96)[1]]
    for instances in cases:
        assert np.array_equal(inner_boundaries(instances), find_boundaries(instances, mode="inner"))
