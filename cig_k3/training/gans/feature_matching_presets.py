"""Presets of `FeatureMatchingGAN` (gan "feature_matching"): pix2pixHD and SPADE."""

import copy

PRESETS = {
    # Seed 003: pix2pixHD for virtual staining: coarse-to-fine generator (G1 at half resolution
    # + local enhancer), three PatchGANs at 1, 1/2, 1/4 scale, LSGAN + 10 x feature matching,
    # instance norm. generator_args.global_only=True trains G1 alone first.
    "pix2pixhd": {
        "data": {"crop": 256, "batch_size": 1},
        "model": {
            "generator": "pix2pixhd",
            "generator_args": {"base_filters": 32, "global_downsamples": 4, "global_blocks": 9, "local_blocks": 3,
                               "norm": "instance"},
            "discriminator": "multiscale",
            "discriminator_args": {"base_filters": 64, "num_downsamples": 3, "num_scales": 3, "norm": "instance"},
            "gan": "feature_matching",
        },
        "loss": {"adversarial": "lsgan", "l1_weight": 0.0,
                 "extra": {"feature_matching_weight": 10.0, "vgg_weight": 10.0}},
    },
    # SPADE / GauGAN (Park et al. 2019) for label -> image: SPADE residual blocks, multi-scale
    # discriminator, hinge loss + 10 x feature matching, TTUR (G 1e-4, D 4e-4, betas 0, 0.9).
    "spade": {
        "data": {"crop": 128, "batch_size": 4},
        "model": {
            "generator": "spade",
            "generator_args": {"base_filters": 32, "num_upsamples": 4, "hidden_filters": 64, "norm": "batch"},
            "discriminator": "multiscale",
            "discriminator_args": {"base_filters": 32, "num_downsamples": 3, "num_scales": 2, "norm": "instance"},
            "gan": "feature_matching",
        },
        "loss": {"adversarial": "hinge", "l1_weight": 0.0,
                 "extra": {"feature_matching_weight": 10.0, "vgg_weight": 10.0}},
        "optimizer": {"generator_learning_rate": 1e-4, "discriminator_learning_rate": 4e-4,
                      "beta_1": 0.0, "beta_2": 0.9},
    },
    # Realistic, diverse mask -> image (issue 14): the cig U-Net with bilinear resize-convolution
    # (no checkerboard) and StyleGAN noise in every decoder block and in a last full-resolution
    # block (pixel-scale grain: camera noise, chromatin) in place of dropout, a two-scale
    # PatchGAN with instance norm and feature matching (pix2pixHD), a light L1 that keeps the
    # intensities while leaving the texture to the discriminator, and the mode-seeking term
    # that makes the K samples of one mask differ (capped at the scale of real texture). An
    # 8-value latent code at the bottleneck lets a sample's overall brightness and texture
    # vary, as real nuclei's do (benchmarks/RESULTS.md: FID 135 with it, 199
    # without). The L1 compares 4x4 block means (l1_scale), so that texture the mask cannot
    # predict is left to the discriminator, and the saved generator is the moving average of
    # its weights (generator_ema 0.999): 6000 CPU steps with both reached FID 99 and C2ST
    # 0.988, against 136 and 0.996 without them, but brought a periodic trace back (1.14 dB
    # above real at the upsampling frequencies), which 4x4 blocks cannot see. The spectrum
    # term (spectrum_weight, `spectrum_l1`) asks for the real batch's power at every 2-D
    # frequency: with it, 6000 steps reached FID 60.8, C2ST 0.981 and no checkerboard
    # (0.07 dB, real vs real 0.25; RESULTS.md, issue 14). A lighter L1 (weight 1) let the
    # nuclei's outlines wander between samples and was worse (FID 89, RESULTS.md).
    "realistic": {
        "data": {"crop": 128, "batch_size": 4},
        "model": {
            "generator": "unet",
            "generator_args": {"base_filters": 32, "depth": 5, "max_filters": 256, "dropout_layers": 0,
                               "upsample": "bilinear_conv", "noise": True, "latent_dim": 8,
                               "full_resolution_noise": True},
            "discriminator": "multiscale",
            "discriminator_args": {"base_filters": 32, "num_downsamples": 3, "num_scales": 2, "norm": "instance"},
            "gan": "feature_matching",
        },
        "loss": {"adversarial": "lsgan", "l1_weight": 5.0,
                 "extra": {"feature_matching_weight": 10.0, "vgg_weight": 0.0, "diversity_weight": 5.0,
                           "diversity_cap": 0.05, "l1_scale": 4, "spectrum_weight": 1.0}},
        "optimizer": {"generator_ema": 0.999},
    },
}


def _with_style_encoder(preset, latent_dim=8, kl_weight=0.01, encoder_pooling="average_max"):
    """`preset` with its U-Net drawn in the style of an image: a `StyleUNetGenerator` whose
    encoder's code (`latent_dim` values) replaces the U-Net's own latent code, trained as a
    cVAE-GAN with `kl_weight`.

    kl_weight 0.01, not SPADE's 0.05: beside this preset's light L1, 0.05 let the code carry
    under one nat (g_kl ~0.7) and the nuclei's brightness hardly followed the style (r 0.52
    against 0.76 with 0.01, 700 steps on BBBC039, `benchmarks/style_transfer.py`). Average
    and max pooling (`StyleEncoder`) reads bright nuclei in sparse fields too."""
    styled = copy.deepcopy(preset)
    styled["model"]["generator"] = "style_unet"
    styled["model"]["generator_args"]["latent_dim"] = latent_dim
    styled["model"]["generator_args"]["encoder_pooling"] = encoder_pooling
    styled["loss"]["extra"]["kl_weight"] = kl_weight
    return styled


# Realistic images in the style of a reference field (issue 14, `cig generate --style`): the
# realistic preset's networks and losses, its latent code now read from the target image by
# a style encoder (SPADE's multi-modal synthesis), so that exposure, background and texture
# follow a real field; without a style, the code is drawn from N(0, I).
PRESETS["realistic-style"] = _with_style_encoder(PRESETS["realistic"])
# Its image ends with the camera's read and shot noise measured on the data, as the default's
# does (`camera_noise: "calibrated"`): a field's style is its exposure and staining; its
# grain is the camera's. At 800 steps: FID 133 against 138 without, cell-feature FD 7.4
# against 14 (C2ST 1.0 either way; benchmarks/RESULTS.md, ninth session).
PRESETS["realistic-style"]["model"]["generator_args"]["camera_noise"] = "calibrated"


def _with_instance_encoder(preset, encoder="intensity", feature_dim=2, num_clusters=10):
    """`preset` with its U-Net conditioned on per-instance features (pix2pixHD): an
    `InstanceUNetGenerator` (generator "instance_unet") that reads each nucleus's
    `feature_dim` features from the target, with `encoder` "intensity" (the nucleus's mean and
    standard deviation) or "learned" (pix2pixHD's encoder network); `num_clusters` k-means
    centres of the train split's features are fitted when training ends, for sampling
    without a real image."""
    instanced = copy.deepcopy(preset)
    instanced["model"]["generator"] = "instance_unet"
    instanced["model"]["generator_args"].update(encoder=encoder, feature_dim=feature_dim, num_clusters=num_clusters)
    return instanced


# Per-nucleus variety (issue 14), the default preset of `cig train`, `cig main` and `mlflow
# run .`: the realistic preset, each nucleus conditioned on features of its own (pix2pixHD's
# instance-wise features, sec. 3.4), drawn at inference from the k-means centres of the
# training nuclei's features (each as often as its cluster), so that the nuclei of one field
# differ in brightness and texture as real ones do. The features are each nucleus's own
# intensity mean and standard deviation, not a learned encoder's: they mean the same from the
# first step to the clusters fitted at the end, cost nothing, and a person can read them. The
# learning rates decay linearly to 0 over the last third of the epochs (pix2pixHD decays over
# its second half): with a constant rate two checkpoints 600 steps apart scored FID 45.9 and
# 70; with the decay, 5400 CPU steps (60 min) reached FID 43.5, C2ST 0.973 and C2ST CNN 0.50
# (real vs real 17.9, 0.51, 0.50; flat-mask baseline 223, 1.0, 0.95; `realistic` 61.1, 0.981,
# 0.75; benchmarks/RESULTS.md, issue 14). Its exports take the label and the instance ids (`InstanceFieldGenerator`).
# The image ends with camera noise (`CameraNoise`: white read and shot noise of learned
# size): without it the background's grain came out of convolutions as diagonal streaks
# (neighbour correlation 0.18 against 0.00 real), which the classifier read; with it, the
# same 5400 steps reached FID 36.5, C2ST 0.963 and no checkerboard (benchmarks/realism_parts.py).
# Its read noise is "calibrated": measured on the train split's far background before training
# and kept fixed (`camera_calibration`). Learned, it followed whatever the targets held: twice
# the real grain with noise-augmented targets, none on targets as recorded. Calibrated, 5400
# steps reached the real grain strength and FID 34.3 (C2ST 0.971; checkerboard 0.35 dB). Its shot
# noise, learned, went to 0; measured on the nuclei's interiors and fixed as well, 5400 steps
# (44 min) reached FID 24.9 and C2ST 0.925, every issue-14 target but the C2ST (a first run of
# the same config scored 23.7 and 0.896; benchmarks/RESULTS.md, eighth and ninth sessions).
# Its saved generator keeps batch norm's moving averages (`optimizer.standing_statistics` 0):
# measured again over 200 train batches, three seed-1 runs redrawn scored C2ST 0.005-0.018
# closer to real, but the control's background intensity CV moved from 0.76 to 1.35 real IQRs,
# past the 1-IQR target (benchmarks/RESULTS.md, twenty-first session).
PRESETS["realistic-instance"] = _with_instance_encoder(PRESETS["realistic"])
PRESETS["realistic-instance"]["model"]["generator_args"]["camera_noise"] = "calibrated"
# Before the camera noise, the background's small bright specks (debris; `Specks`), their
# density and brightness measured on the train split's far background and fixed: the game drew
# ten times too few, and drawn at the measured density post hoc they took FID 25.4 -> 22.6 and
# C2ST 0.918 -> 0.895. Part of the model, the same 5400 steps (47 min) reached FID 23.5 and C2ST
# 0.884, from 24.9 and 0.925, scored with the noise drawn per tile; per field, as tiled fields
# are drawn since, 25.0 and 0.896 (benchmarks/RESULTS.md, ninth to eleventh sessions).
PRESETS["realistic-instance"]["model"]["generator_args"]["specks"] = "calibrated"
PRESETS["realistic-instance"]["optimizer"]["decay_fraction"] = 1 / 3
# The spectrum term over the background alone (g_bspec: the detail finer than 7 px, 3 px or
# more from any nucleus), where the real texture is the camera's stationary grain, which a
# power spectrum describes whole. The same 5400 steps went from FID 25.0, C2ST 0.896 and a
# worst cell feature of 1.13 IQR (the background's intensity CV) to 22.4, 0.891 and 0.64, and
# the nuclei's fine texture from 0.80 to 0.91 of real (floor 0.90); the checkerboard excess
# went from 0.263 to 0.276 dB (floor 0.266). The same term inside the nuclei drew pixel
# speckle and stays off (benchmarks/RESULTS.md, thirteenth and fourteenth sessions).
PRESETS["realistic-instance"]["loss"]["extra"]["background_spectrum_weight"] = 1.0
# TTUR (Heusel et al. 2017): the discriminators learn 4x as fast as the generator. In every run
# at equal rates they sat at chance (d_real, d_fake about 0.245) while an Inception classifier
# still told the draws from real. The same 5400 steps, on two seeds, went from C2ST 0.891 to
# 0.850 and 0.848 and from FID 22.4 to 21.6 and 18.2 (benchmarks/RESULTS.md, fifteenth and
# sixteenth sessions). The checkerboard excess (0.175, 0.388 dB) and the worst cell feature
# (1.19, 0.87 IQR) scatter by seed around the equal-rate run's (0.276, 0.64). At 8x (0.0016,
# seed 1) the discriminators spiked and ended at chance, and the same steps scored C2ST 0.947
# and FID 31.0, with a bright ring inside many nuclei (seventeenth session).
PRESETS["realistic-instance"]["optimizer"]["discriminator_learning_rate"] = 0.0008
# The L1 compares 8x8 block means, not 4x4: the drawn nuclei were flatter than real, most at the
# scale of the whole nucleus (a nucleus's intensity spread 0.78 of real, the spread of its σ 2 px
# blur 0.77), texture the mask cannot predict that the L1 pulled toward its mean. Seed 1, the
# same 5400 steps: C2ST 0.848 -> 0.823, FID 18.2 -> 18.1, cell FD 3.76 -> 2.87, nuclei CV offset -0.55 -> -0.32 IQR,
# checkerboard 0.388 -> 0.354 dB, diversity 1.42 -> 1.39 (eighteenth session; one seed).
# 16x16 went too far: C2ST 0.854, FID 21.2; its nuclei alone scored more real, but their rims
# gave the draws away (nineteenth session, benchmarks/RESULTS.md). A fine L1 at the rims alone
# (rim_l1_scale 4) under 16x16 or 8x8 insides was worse still: C2ST 0.870 and 0.893, FID 22.1
# and 23.9 (twentieth session, on another machine), so rim_l1_scale stays off.
PRESETS["realistic-instance"]["loss"]["extra"]["l1_scale"] = 8
