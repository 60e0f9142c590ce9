from cig_k3.layers.dropout import MCDropout
from cig_k3.layers.noise import CameraNoise, LatentCode, NoiseInjection, Specks
from cig_k3.layers.normalization import normalization
from cig_k3.layers.phase_conv import Conv2D as PhaseConv2D
from cig_k3.layers.phase_conv import Conv2DTranspose as PhaseConv2DTranspose
from cig_k3.layers.stochastic import FieldNoise, one_code_per_field, one_draw_per_field, sampling, stochastic_layers
from cig_k3.layers.upsampling import BilinearUpsampling, SubpixelUpsampling, upsample

__all__ = ["MCDropout", "NoiseInjection", "CameraNoise", "Specks", "LatentCode", "SubpixelUpsampling", "sampling",
           "one_code_per_field", "one_draw_per_field", "FieldNoise",
           "stochastic_layers", "normalization", "upsample", "PhaseConv2D", "PhaseConv2DTranspose"]
