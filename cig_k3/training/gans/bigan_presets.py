"""Presets of `BiGAN` (gan "bigan")."""

PRESETS = {
    # BiGAN / ALI (Donahue et al. 2017; Dumoulin et al. 2017): encoder + joint (x, z) discriminator.
    "bigan": {
        "data": {"crop": 64, "batch_size": 16},
        "model": {
            "generator": "dcgan", "generator_args": {"latent_dim": 64, "base_filters": 64},
            "discriminator": "dcgan", "discriminator_args": {"base_filters": 64},
            "gan": "bigan",
        },
        "loss": {"adversarial": "bce", "l1_weight": 0.0},
    },
}
