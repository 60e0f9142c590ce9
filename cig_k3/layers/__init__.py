from cig_k3.layers.dropout import MCDropout, sampling
from cig_k3.layers.normalization import normalization

__all__ = ["MCDropout", "sampling", "normalization"]
