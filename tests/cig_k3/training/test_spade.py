"""The spade preset: hinge + feature matching, TTUR, and a tiny fit (losses by hand are in
test_pix2pixhd.py, which checks the shared FeatureMatchingGAN with the hinge loss too)."""

from tests.cig_k3.training.systems_tiny import fit_and_check, tiny_preset


def test_preset_is_gaugan_recipe(tmp_path):
    config = tiny_preset("spade", tmp_path, tmp_path / "run")
    assert config.loss.adversarial == "hinge" and config.loss.extra["feature_matching_weight"] == 10.0
    optimizer = config.optimizer
    assert (optimizer.generator_learning_rate, optimizer.discriminator_learning_rate) == (1e-4, 4e-4)
    assert (optimizer.beta_1, optimizer.beta_2) == (0.0, 0.9)


def test_preset_fits(synthetic_shards, tmp_path):
    fit_and_check("spade", synthetic_shards, tmp_path, ["g_fm", "g_adv", "d_loss"])
