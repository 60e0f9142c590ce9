"""Presets of `AttentionGAN` (gan "attention")."""

PRESETS = {
    # Seed 002 (French notes): attention-guided generator (one encoder, image and attention
    # decoders, dilated bottleneck), U-Net discriminator with one logit per pixel, identity loss.
    "attention": {
        "data": {"crop": 128, "batch_size": 4},
        "model": {
            "generator": "attention",
            "generator_args": {"base_filters": 32, "depth": 3, "max_filters": 256, "dropout_layers": 1},
            "discriminator": "unet",
            "discriminator_args": {"base_filters": 16, "depth": 3},
            "gan": "attention",
        },
        "loss": {"adversarial": "lsgan", "l1_weight": 100.0, "extra": {"identity_weight": 5.0}},
    },
}
