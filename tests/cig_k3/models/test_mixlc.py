import keras
import numpy as np

from cig_k3.models import MixLCDiscriminator, MixLCGenerator


def inputs(size=32):
    rng = np.random.default_rng(0)
    return {"label": np.eye(3, dtype="float32")[rng.integers(0, 3, (2, size, size))],
            "raw": rng.uniform(-1, 1, (2, size, size, 1)).astype("float32")}


def test_generator_takes_raw_and_label():
    generator = MixLCGenerator(3, 1, base_filters=4, depth=3, max_filters=8, seed=0)
    out = keras.ops.convert_to_numpy(generator(inputs()))
    assert out.shape == (2, 32, 32, 1) and np.abs(out).max() <= 1
    names = [layer.name for layer in generator.layers]
    assert any(n.startswith("raw_net") for n in names) and any(n.startswith("label_net") for n in names)
    assert "output_net_res_add" in names and "output_net_block_conv" in names


def test_discriminator_8x8_patch_and_per_pixel_classes():
    d = MixLCDiscriminator(3, 1, base_filters=4, num_downsamples=3)
    out = d([np.zeros((2, 64, 64, 3), "float32"), np.zeros((2, 64, 64, 1), "float32")])
    assert tuple(out["patch"].shape) == (2, 8, 8, 1)
    assert tuple(out["classes"].shape) == (2, 64, 64, 3)
    assert [tuple(f.shape)[1:3] for f in out["features"]] == [(32, 32), (16, 16), (8, 8)]


def test_preset_keeps_dropout_noise_out_of_the_full_resolution_output_net():
    """Dropout right before the 1x1 output convolution paints salt-and-pepper speckle on every
    sample (FID 396 at 800 steps); the preset keeps pix2pix's placement, in the branches'
    coarse decoder blocks, so samples still differ."""
    from cig_k3.layers.dropout import MCDropout
    from cig_k3.layers.stochastic import sampling
    from cig_k3.training.gans import PRESETS

    args = {**PRESETS["mixlc"]["model"]["generator_args"], "base_filters": 4, "max_filters": 8}
    generator = MixLCGenerator(3, 1, seed=0, **args)
    dropouts = [layer for layer in generator._flatten_layers() if isinstance(layer, MCDropout)]
    assert dropouts and not [layer.name for layer in dropouts if layer.name.startswith("output_net")]
    with sampling(generator):
        first, second = (keras.ops.convert_to_numpy(generator(inputs())) for _ in range(2))
    assert np.abs(first - second).max() > 1e-4
