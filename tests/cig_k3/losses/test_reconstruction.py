"""low_pass_l1: the plain L1 at scale 1; blind to texture inside the blocks, not to brightness."""

import keras
import numpy as np
import pytest

from cig_k3.losses.reconstruction import low_pass_l1
from cig_k3.training.gans import FeatureMatchingGAN
from tests.cig_k3.training.test_losses import ConstantGenerator
from tests.cig_k3.training.test_pix2pixhd import two_scale_discriminator


def value(target, fake, scale):
    return float(keras.ops.convert_to_numpy(low_pass_l1(keras.ops.convert_to_tensor(target),
                                                        keras.ops.convert_to_tensor(fake), scale)))


def test_low_pass_l1_keeps_brightness_and_frees_texture():
    rng = np.random.default_rng(0)
    target = rng.uniform(-1, 1, (2, 16, 16, 1)).astype("float32")
    fake = rng.uniform(-1, 1, (2, 16, 16, 1)).astype("float32")
    assert value(target, fake, 1) == pytest.approx(np.mean(np.abs(target - fake)), rel=1e-6)
    # Texture that sums to zero in every 4x4 block: invisible at scale 4, not at scale 1.
    texture = np.tile(np.array([[1, -1], [-1, 1]], "float32"), (8, 8))[None, :, :, None] * 0.3
    assert value(target, target + texture, 4) == pytest.approx(0.0, abs=1e-6)
    assert value(target, target + texture, 1) == pytest.approx(0.3, rel=1e-5)
    # A brightness offset is seen at every scale; a side not a multiple of 4 drops the remainder.
    assert value(target, target + 0.25, 4) == pytest.approx(0.25, rel=1e-5)
    assert value(target[:, :14, :14], target[:, :14, :14] - 0.5, 4) == pytest.approx(0.5, rel=1e-5)


def test_feature_matching_gan_takes_l1_scale():
    gan = FeatureMatchingGAN(ConstantGenerator(), two_scale_discriminator("lsgan"), l1_scale=2)
    assert gan.get_config()["l1_scale"] == 2
    for bad in (0, 1.5):
        with pytest.raises(ValueError, match="l1_scale"):
            FeatureMatchingGAN(ConstantGenerator(), two_scale_discriminator("lsgan"), l1_scale=bad)
