"""Presets of `ClassConditionalGAN` (gan "cgan")."""

PRESETS = {
    # DCGAN conditioned on the crop's density class: sparse / medium / dense foreground,
    # tertiles of the training crops unless loss.extra.class_thresholds gives them.
    "cgan": {
        "data": {"crop": 64, "batch_size": 16},
        "model": {
            "generator": "dcgan", "generator_args": {"latent_dim": 100, "base_filters": 64},
            "discriminator": "dcgan", "discriminator_args": {"base_filters": 64},
            "gan": "cgan",
        },
        "loss": {"adversarial": "bce", "l1_weight": 0.0},
    },
}
