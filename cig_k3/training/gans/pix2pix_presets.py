"""Presets of `Pix2PixGAN` (gan "conditional"): plain dicts of overrides of the config's
defaults (`cig_k3.config.config_from_preset`)."""

PRESETS = {
    # The CIG cGAN of the original notes (seed 000): U-Net generator, PatchGAN with an 8x8
    # patch map at its 128x128 crop, discriminator compiled with loss="mse" (LSGAN),
    # generator loss = adversarial + 100 * MAE.
    "cig": {
        "data": {"crop": 128, "batch_size": 4},
        "model": {
            "generator": "unet",
            "generator_args": {"base_filters": 32, "depth": 5, "max_filters": 256, "dropout_layers": 2},
            "discriminator": "patchgan",
            "discriminator_args": {"base_filters": 32, "num_downsamples": 4, "padding": "same"},
            "gan": "conditional",
        },
        "loss": {"adversarial": "lsgan", "l1_weight": 100.0},
    },
    # pix2pix (Isola et al. 2017) reference: unet_256, 70x70 PatchGAN, BCE, L1 weight 100,
    # Adam 2e-4 with beta_1 0.5, batch 1.
    "pix2pix": {
        "data": {"crop": 256, "batch_size": 1},
        "model": {
            "generator": "unet",
            "generator_args": {"base_filters": 64, "depth": 8, "max_filters": 512, "dropout_layers": 3},
            "discriminator": "patchgan",
            "discriminator_args": {"base_filters": 64, "num_downsamples": 3, "padding": "pix2pix"},
            "gan": "conditional",
        },
        "loss": {"adversarial": "bce", "l1_weight": 100.0},
        "optimizer": {"generator_learning_rate": 2e-4, "discriminator_learning_rate": 2e-4, "beta_1": 0.5},
    },
}
