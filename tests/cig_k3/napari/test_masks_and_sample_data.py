"""The sample data (CIG's synthetic nuclei) and "Sample masks like these", headless."""

import json

import numpy as np
import pytest

from cig_k3.napari.masks import sample_masks
from cig_k3.napari.sample_data import synthetic_nuclei

from tests.cig_k3.export.conftest import disc_instances

pytestmark = pytest.mark.backend_independent


def test_sample_data_is_a_matching_image_and_labels_pair():
    (image, image_kwargs, image_kind), (labels, labels_kwargs, labels_kind) = synthetic_nuclei(size=64, seed=2)
    assert (image_kind, labels_kind) == ("image", "labels")
    assert image.shape == labels.shape == (64, 64) and image.dtype == labels.dtype == np.uint16
    assert labels.max() >= 1 and image_kwargs["metadata"]["synthetic"] is True
    # nuclei are brighter than the background, as the generator draws them
    assert image[labels > 0].mean() > 2 * image[labels == 0].mean()
    np.testing.assert_array_equal(synthetic_nuclei(size=64, seed=2)[1][0], labels)  # seeded
    assert labels_kwargs["name"] == "synthetic nuclei labels"


def _shard_folder(folder):
    from data_prep import schema, sharding

    folder.mkdir()
    instances = [disc_instances(size=(48, 48), centers=((12, 12), (30, 34), (38, 10)), radius=r) for r in (5, 6)]
    samples = [(f"f{i}", {schema.INSTANCES: sharding.encode_png(m)}) for i, m in enumerate(instances)]
    sharding.write_shard(folder / "train-000000.tar", samples)
    manifest = {"task": "mask2image", "splits": {"train": {"count": 2, "shards": ["train-000000.tar"]}},
                "stats": {"raw": {}}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_sample_masks_like_a_shard_folder(tmp_path):
    like = _shard_folder(tmp_path / "like")
    masks, kwargs, kind = sample_masks(like, count=3, seed=1)
    assert kind == "labels" and kwargs["name"] == "masks like like"
    assert masks.shape == (3, 48, 48) and masks.dtype == np.uint16
    assert [len(np.unique(mask)) - 1 for mask in masks] == [3, 3, 3]  # three objects per measured field
    assert kwargs["metadata"]["objects"] == 6 and kwargs["metadata"]["seed"] == 1
    single, _, _ = sample_masks(like, count=1, height=32, width=40, seed=1)
    assert single.shape == (32, 40)


@pytest.mark.parametrize("arguments, expected", [
    ({"shard_folder": ""}, "choose a shard folder"),
    ({"shard_folder": "no/such/folder"}, "is not a shard folder"),
    ({"shard_folder": "x", "height": 32}, "give both height and width"),
])
def test_sample_masks_refusals(arguments, expected):
    with pytest.raises(ValueError, match=expected):
        sample_masks(**arguments)
