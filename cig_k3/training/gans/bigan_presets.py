"""Presets of `BiGAN` (gan "bigan")."""

PRESETS = {
    # BiGAN / ALI (Donahue et al. 2017; Dumoulin et al. 2017): encoder + joint (x, z) discriminator.
    # With D as strong as G and E (2e-4 each, no dropout) the joint discriminator won within
    # 100 steps and G collapsed (issue 9; benchmarks/RESULTS.md, "GAN families" and issue 14):
    # dropout 0.2 after every D block, as ALI's discriminator has, and D at half G's
    # learning rate keep the game balanced: at 2000 steps (32-px crops) neither seed 0 nor 1
    # collapsed and both beat a constant image and noise (Inception FID 155 / 167 against
    # 220 / 301; RESULTS.md, "BiGAN at 2000 steps").
    "bigan": {
        "data": {"crop": 64, "batch_size": 16},
        "model": {
            "generator": "dcgan", "generator_args": {"latent_dim": 64, "base_filters": 64},
            "discriminator": "dcgan", "discriminator_args": {"base_filters": 64, "dropout": 0.2},
            "gan": "bigan",
        },
        "loss": {"adversarial": "bce", "l1_weight": 0.0},
        "optimizer": {"generator_learning_rate": 2e-4, "discriminator_learning_rate": 1e-4, "beta_1": 0.5},
    },
}
