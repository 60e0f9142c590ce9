"""Tiny configurations of the seed-system presets for fast tests (not a test module)."""

from cig_k3.config import config_from_preset

TINY_MODELS = {
    "attention": {"generator_args": {"base_filters": 4, "depth": 2, "max_filters": 8},
                  "discriminator_args": {"base_filters": 4, "depth": 2}},
    "mixlc": {"generator_args": {"base_filters": 4, "depth": 2, "max_filters": 8},
              "discriminator_args": {"base_filters": 4, "num_downsamples": 2}},
    "pix2pixhd": {"generator_args": {"base_filters": 4, "global_downsamples": 1, "global_blocks": 1, "local_blocks": 1},
                  "discriminator_args": {"base_filters": 4, "num_downsamples": 2, "num_scales": 3}},
    "spade": {"generator_args": {"base_filters": 4, "num_upsamples": 2, "hidden_filters": 4},
              "discriminator_args": {"base_filters": 4, "num_downsamples": 2, "num_scales": 2}},
}


def tiny_preset(name, shards, out, **overrides):
    values = {"data": {"shards": str(shards), "crop": 32, "batch_size": 2}, "model": TINY_MODELS[name],
              "epochs": 1, "steps_per_epoch": 2, "out": str(out), "verbose": 0, "num_samples": 1, **overrides}
    return config_from_preset(name, values)


def fit_and_check(name, shards, out, expected_losses, **overrides):
    """train() the tiny preset (with `overrides` of its config); every loss finite, the run
    folder complete."""
    import json
    import math

    from cig_k3.training import train

    result = train(tiny_preset(name, shards, out, **overrides))
    history = json.loads((out / "history.json").read_text())[-1]
    assert set(expected_losses) <= set(history), sorted(history)
    assert all(math.isfinite(history[key]) for key in expected_losses)
    assert {"val_l1", "val_psnr"} <= set(history)
    assert (out / "generator.keras").exists() and (out / "gan.keras").exists()
    return result, history
