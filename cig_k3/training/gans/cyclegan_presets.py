"""Presets of `CycleGAN` (gan "cyclegan")."""

PRESETS = {
    # CycleGAN (Zhu et al. 2017): U-Net generators with instance norm and no dropout, 70x70
    # PatchGANs on single images, LSGAN, cycle 10, identity 5 (0.5 x 10), pools of 50, batch 1.
    # Domain A is data.shards, domain B data.shards_b (--data-b).
    "cyclegan": {
        "data": {"crop": 128, "batch_size": 1},
        "model": {
            "generator": "unet",
            "generator_args": {"base_filters": 32, "depth": 7, "max_filters": 256, "dropout_layers": 0,
                               "norm": "instance"},
            "discriminator": "image_patchgan",
            "discriminator_args": {"base_filters": 64, "num_downsamples": 3, "norm": "instance"},
            "gan": "cyclegan",
        },
        "loss": {"adversarial": "lsgan", "l1_weight": 0.0,
                 "extra": {"cycle_weight": 10.0, "identity_weight": 5.0, "pool_size": 50}},
    },
}
