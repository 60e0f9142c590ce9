"""Presets of `WGANGP` (gan "wgan-gp")."""

PRESETS = {
    # WGAN-GP (Gulrajani et al. 2017): layer-norm critic, lambda 10, n_critic 5, Adam 1e-4, betas (0, 0.9).
    "wgan-gp": {
        "data": {"crop": 64, "batch_size": 16},
        "model": {
            "generator": "dcgan", "generator_args": {"latent_dim": 100, "base_filters": 64},
            "discriminator": "dcgan", "discriminator_args": {"base_filters": 64, "norm": "layer"},
            "gan": "wgan-gp",
        },
        "loss": {"adversarial": "wasserstein", "l1_weight": 0.0, "extra": {"n_critic": 5, "penalty_weight": 10.0}},
        "optimizer": {"generator_learning_rate": 1e-4, "discriminator_learning_rate": 1e-4,
                      "beta_1": 0.0, "beta_2": 0.9},
    },
}
