"""Presets of `AttentionGAN` (gan "attention")."""

PRESETS = {
    # Seed 002 (French notes): attention-guided generator (one encoder, image and attention
    # decoders, dilated bottleneck), U-Net discriminator with one logit per pixel, identity loss.
    # Instance norm in the generator (issue 14): with batch norm, the identity term runs the
    # same body on adapted target images, so the moving statistics averaged two different
    # input distributions and the inference-mode generator drifted from the trained one (val
    # L1 0.21 at 400 steps, 0.59 at 800, contrast inverted); instance norm has no running
    # statistics to mix. Learning rates 1e-4 (from 2e-4) for both players damp the late
    # oscillation of the per-pixel discriminator.
    "attention": {
        "data": {"crop": 128, "batch_size": 4},
        "model": {
            "generator": "attention",
            "generator_args": {"base_filters": 32, "depth": 3, "max_filters": 256, "dropout_layers": 1,
                               "norm": "instance"},
            "discriminator": "unet",
            "discriminator_args": {"base_filters": 16, "depth": 3},
            "gan": "attention",
        },
        "loss": {"adversarial": "lsgan", "l1_weight": 100.0, "extra": {"identity_weight": 5.0}},
        "optimizer": {"generator_learning_rate": 1e-4, "discriminator_learning_rate": 1e-4, "beta_1": 0.5},
    },
}
