"""benchmarks/instance_features.py: the per-nucleus features its draws use are the generator's own."""

import numpy as np
import pytest

from cig_k3.models import InstanceUNetGenerator
from tests.benchmarks import load_script


class Fields:
    """The attributes of `realism.load_fields`' result that `field_features` and `feature_tables` read."""

    def __init__(self, images, instances):
        self.images, self.instances = images, instances

    def __len__(self):
        return len(self.images)


def fields():
    """Two 24-px fields: three nuclei of differing brightness and grain on a dark background."""
    rng = np.random.default_rng(3)
    images, instances = [], []
    for shift in (0.0, 0.3):
        image = np.full((24, 24, 1), -0.85, np.float32) + rng.normal(0, 0.01, (24, 24, 1)).astype(np.float32)
        ids = np.zeros((24, 24), np.int32)
        for number, (box, level, grain) in enumerate([((2, 9, 2, 10), 0.1, 0.02), ((12, 21, 3, 11), 0.4, 0.1),
                                                       ((4, 12, 14, 22), -0.2, 0.05)], start=1):
            y0, y1, x0, x1 = box
            ids[y0:y1, x0:x1] = number + 2  # ids 3, 4, 5: the tables are indexed by id
            image[y0:y1, x0:x1, 0] = level + shift + rng.normal(0, grain, (y1 - y0, x1 - x0))
        images.append(image)
        instances.append(ids)
    return Fields(images, instances)


@pytest.mark.parametrize("encoder, dim", [("intensity", 2), ("texture", 3)])
def test_the_oracle_gives_each_nucleus_the_features_its_generator_encodes(encoder, dim):
    script = load_script("instance_features")
    generator = InstanceUNetGenerator(3, 1, feature_dim=dim, encoder=encoder, base_filters=4, depth=2, max_filters=8,
                                      max_instances=8, seed=0)
    reference = fields()
    features = script.field_features(generator, reference)
    own = script.feature_tables("own (oracle)", reference, features, features, dim)
    for table, image, ids in zip(own, reference.images, reference.instances):
        assert table.shape == (1, 6, dim)
        encoded = np.asarray(generator.encode_instances(image[None], ids[None]))
        np.testing.assert_allclose(table[0, 3:], encoded[0, 3:6], atol=1e-5)
        assert not table[0, :3].any()  # ids 0-2 are absent
        # The first two features are the intensity mean and std, whatever the encoder.
        _, statistics = script.nucleus_statistics(image, ids)
        np.testing.assert_allclose(table[0, 3:, :2], statistics, atol=1e-4)
    # Drawn from the pooled train nuclei: every row one real nucleus's features.
    pooled = np.concatenate([table[0, 3:] for table in own])
    for table in script.feature_tables("train nuclei", reference, features, features, dim):
        for row in table[0, 3:]:
            assert np.abs(pooled - row).max(axis=1).min() < 1e-6
    assert script.feature_tables("clusters", reference, features, features, dim) == [None, None]
