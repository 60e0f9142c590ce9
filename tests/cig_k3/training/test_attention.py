"""AttentionGAN: losses by hand with stub networks, and a tiny fit of the preset."""

import keras
import numpy as np
import pytest

from cig_k3.training.gans import AttentionGAN
from tests.cig_k3.training.systems_tiny import fit_and_check
from tests.cig_k3.training.test_losses import CONDITION, TARGET, identity_discriminator, numbers


class StubAttentionGenerator(keras.Model):
    """fake = condition; the identity path halves the image it is fed."""

    def call(self, condition, training=False):
        return condition

    def identity(self, image, training=False):
        return {"image": 0.5 * image}

    def views(self, condition, training=False):
        return {"image": condition, "attention": keras.ops.ones_like(condition) * 0.25, "prediction": condition}


def test_generator_losses_by_hand():
    gan = AttentionGAN(StubAttentionGenerator(), identity_discriminator("lsgan"), l1_weight=100.0, identity_weight=5.0)
    losses, fake = gan.generator_losses((keras.ops.convert_to_tensor(CONDITION), keras.ops.convert_to_tensor(TARGET)))
    losses = numbers(losses)
    adv, l1, identity = 1.0, np.mean(np.abs(TARGET)), np.mean(np.abs(TARGET - 0.5 * TARGET))  # D(0) = 0 -> (0-1)^2
    assert losses["g_adv"] == pytest.approx(adv, rel=1e-5)
    assert losses["g_l1"] == pytest.approx(l1, rel=1e-5)
    assert losses["g_identity"] == pytest.approx(identity, rel=1e-5)
    assert losses["g_total"] == pytest.approx(adv + 100 * l1 + 5 * identity, rel=1e-5)
    (name, mask), (prediction_name, _), *samples = gan.grid_columns(CONDITION, TARGET, num_samples=2)
    assert name == "attention" and np.allclose(mask, -0.5)  # 0.25 shown in [-1, 1]
    assert prediction_name == "prediction" and [column for column, _ in samples] == ["sample 1", "sample 2"]


def test_preset_fits_and_grids_show_the_mask(synthetic_shards, tmp_path):
    _, history = fit_and_check("attention", synthetic_shards, tmp_path, ["g_identity", "g_adv", "d_loss"])
    grid = next((tmp_path / "samples").glob("*.png"))
    import cv2

    # condition | target | attention | prediction | 1 sample, 32 px each.
    assert cv2.imread(str(grid)).shape[1] == 5 * 32
