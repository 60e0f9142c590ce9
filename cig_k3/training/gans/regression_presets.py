"""Presets of `RegressionBaseline` (gan "regression"): a generator trained with L1 alone."""

import copy

from cig_k3.training.gans.feature_matching_presets import PRESETS as _FEATURE_MATCHING_PRESETS

# The virtual-staining generative preset this baseline stands beside: its data settings and
# generator are copied from it, so that the two can never drift apart.
_PIX2PIXHD = _FEATURE_MATCHING_PRESETS["pix2pixhd"]

PRESETS = {
    # The regression baseline of virtual staining (DynaCell, Cytoland): pix2pixhd's generator,
    # crop and batch, trained with L1 alone; no discriminator ("none" is never built) and the
    # default optimiser of pix2pixhd (Adam 2e-4, beta_1 0.5), so that only the loss differs.
    "regression": {
        "data": copy.deepcopy(_PIX2PIXHD["data"]),
        "model": {
            "generator": _PIX2PIXHD["model"]["generator"],
            "generator_args": copy.deepcopy(_PIX2PIXHD["model"]["generator_args"]),
            "discriminator": "none",
            "discriminator_args": {},
            "gan": "regression",
        },
        "loss": {"adversarial": "lsgan", "l1_weight": 1.0},
    },
}
