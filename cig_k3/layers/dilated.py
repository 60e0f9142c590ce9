"""The dilated bottleneck of the attention generator (seed 002)."""

import keras

from cig_k3.layers.blocks import conv_block


def dilated_bottleneck(x, filters, dilation_rates=(1, 2, 4, 8), norm="batch", act="relu", name="bottleneck"):
    """Chained 3x3 convolutions with growing dilation whose outputs are summed.

    Each convolution takes the previous one's output, so the field of view grows to
    1 + 2 * sum(rates) pixels (31 for 1, 2, 4, 8) at the cost of four 3x3 kernels; the sum
    keeps every scale ("on somme les features extraits a chaque layer", seed 002).

    Reference: Yu & Koltun, "Multi-Scale Context Aggregation by Dilated Convolutions",
    ICLR 2016; the dilated bottleneck of attention-guided GANs (Mejjati et al., NeurIPS 2018
    use a similar design).
    """
    outputs = []
    for rate in dilation_rates:
        x = conv_block(x, filters, 3, norm=norm, act=act, dilation_rate=rate, name=f"{name}_d{rate}")
        outputs.append(x)
    if len(outputs) == 1:
        return outputs[0]
    return keras.layers.Add(name=f"{name}_sum")(outputs)


def receptive_field(dilation_rates):
    """Pixels seen by one output of the chained 3x3 dilated convolutions."""
    return 1 + 2 * sum(dilation_rates)
