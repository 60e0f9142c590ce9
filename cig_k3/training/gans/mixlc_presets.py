"""Presets of `MixLCGAN` (gan "mixlc")."""

PRESETS = {
    # Seed 001: MixLC ACGAN on mixing batches (a's raw + mixed label -> mixed raw); two-branch
    # generator, 8x8 patch + per-pixel auxiliary classifier; STYLE 0.45, ADV 0.05, PIXEL 0.5.
    # Set loss.extra.vgg_weights to a VGG16 weights file for the relu3_3 style loss.
    # Dropout stays in the branches' first decoder blocks, as pix2pix places it, and not in the
    # output net: at full resolution right before the 1x1 output convolution it painted
    # salt-and-pepper speckle on every sample (FID 396 against 178 without it, 800 steps;
    # benchmarks/RESULTS.md, issue 14).
    "mixlc": {
        "data": {"crop": 64, "batch_size": 4, "mixing": "random"},
        "model": {
            "generator": "mixlc",
            "generator_args": {"base_filters": 32, "depth": 4, "max_filters": 256, "dropout_layers": 1,
                               "output_dropout": 0.0},
            "discriminator": "mixlc",
            "discriminator_args": {"base_filters": 32, "num_downsamples": 3},
            "gan": "mixlc",
        },
        "loss": {"adversarial": "lsgan", "l1_weight": 0.5,
                 "extra": {"style_weight": 0.45, "adv_weight": 0.05, "auxiliary_weight": 1.0, "identity_weight": 1.0}},
    },
}
