"""Every generator family saved here loads in a new process (same KERAS_BACKEND) and predicts
the same: one process for all of them, since its start-up (and JAX's compiles) dominate.

Each family's file builds its own tiny model; this file only gathers them. New generator
arguments (resize-convolution, full-resolution noise, style encoder pooling) are included.
"""

import numpy as np

from cig_k3.models import Pix2PixHDGenerator, SPADEGenerator, MixLCGenerator, UNetGenerator
from tests.cig_k3.models import test_attention, test_mixlc, test_pix2pixhd, test_style_encoder
from tests.cig_k3.models.test_unet_upsampling import set_noise_scales


def _models():
    rng = np.random.default_rng(0)
    models = [
        (test_attention.tiny(), rng.random((1, 16, 16, 3)).astype("float32"), "AttentionGenerator"),
        (Pix2PixHDGenerator(13, 3, **test_pix2pixhd.ARGS), rng.random((1, 16, 16, 13)).astype("float32"),
         "Pix2PixHDGenerator"),
        (SPADEGenerator(3, 1, base_filters=4, num_upsamples=2, hidden_filters=4),
         np.eye(3, dtype="float32")[rng.integers(0, 3, (1, 16, 16))], "SPADEGenerator"),
        (MixLCGenerator(3, 1, base_filters=4, depth=2, max_filters=8, seed=0), test_mixlc.inputs(16),
         "MixLCGenerator"),
    ]
    style = test_style_encoder.tiny(seed=1, encoder_pooling="average_max")
    # Non-zero weights everywhere, so that the loaded file must carry the trained values.
    for variable in style.trainable_variables:
        variable.assign(np.random.default_rng(len(variable.path)).normal(0, 0.2, variable.shape).astype("float32"))
    models.append((style, test_style_encoder.inputs(16, (16, 24)), "StyleUNetGenerator"))
    x = np.random.default_rng(1).random((2, 32, 32, 3)).astype("float32")
    for mode in ("transpose", "bilinear_conv", "subpixel"):  # resize_conv builds bilinear_conv's layer types
        generator = UNetGenerator(3, 1, base_filters=8, depth=3, upsample=mode, noise=True, latent_dim=4, seed=0,
                                  full_resolution_noise=mode != "transpose")
        set_noise_scales(generator, 0.3)
        models.append((generator, x, "UNetGenerator"))
    return models


def test_every_generator_family_round_trips_in_one_fresh_process(fresh_process_roundtrip):
    models, inputs, names = zip(*_models())
    assert fresh_process_roundtrip(list(models), list(inputs)) == list(names)
