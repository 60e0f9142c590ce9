"""Reading shards into batches for training and evaluation (the reader side of the shard format).

Public API:
    read_manifest(shard_dir)        the manifest.json of a shard folder
    has_split(manifest, split)      whether a split has shards (a data set may lack val)
    BatchStream(shard_dir, ...)     batches of (condition, target) epoch by epoch, for fit
    AugmentConfig                   what augmentation to apply; augment_to_dict for run logs
    decode_image, iter_tar          exact decoding of shard members, streaming of tars
    to_model_range, from_model_range  intensity mapping between native values and [-1, 1]
"""

from cig_k3.data.augment import AugmentConfig, PoissonGaussianNoise, augment_from_dict, augment_to_dict
from cig_k3.data.mixing import MIXING_MODES
from cig_k3.data.normalize import encode_label, from_model_range, to_model_range
from cig_k3.data.pipeline import BatchStream
from cig_k3.data.shards import decode_image, decode_sample, has_split, iter_tar, read_manifest

__all__ = [
    "AugmentConfig",
    "BatchStream",
    "MIXING_MODES",
    "PoissonGaussianNoise",
    "augment_from_dict",
    "augment_to_dict",
    "decode_image",
    "decode_sample",
    "encode_label",
    "from_model_range",
    "has_split",
    "iter_tar",
    "read_manifest",
    "to_model_range",
]
