"""Presets of `DCGAN` (gan "dcgan").

The GAN families of seed 004 (issue 9: dcgan, cgan, wgan-gp, bigan, cyclegan) train on the
same data stream as every preset: dcgan, wgan-gp and bigan learn unconditional field crops
(the stream's label is ignored), cgan conditions on the crop's density class, cyclegan
translates raw images of data.shards (A) <-> data.shards_b (B), unpaired.
"""

PRESETS = {
    # DCGAN (Radford et al. 2016): transposed convolutions, batch norm, no dense layers, BCE
    # from logits, Adam 2e-4 with beta_1 0.5, batch 128 in the paper (16 here).
    "dcgan": {
        "data": {"crop": 64, "batch_size": 16},
        "model": {
            "generator": "dcgan", "generator_args": {"latent_dim": 100, "base_filters": 64},
            "discriminator": "dcgan", "discriminator_args": {"base_filters": 64},
            "gan": "dcgan",
        },
        "loss": {"adversarial": "bce", "l1_weight": 0.0},
    },
}
