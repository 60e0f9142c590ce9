"""data_prep: microscopy sources -> train/val/test WebDataset shards + manifest.json.

Public API:
    prepare(source, out_dir, *, workers=1, progress=None, overwrite=False, **options) -> manifest
    PrepareOptions                      the options of prepare (recorded in the manifest)
    make_field(rng, size=256)           one synthetic (raw uint16, instances uint16) field
    field_rng(seed, index)              the generator of synthetic field `index`
    encode_label(mask, encoding, mask_type) -> (label, instances, num_objects)
    read_image(path), read_mask(path)   validated readers (ValueError naming the file)
    read_manifest(out_dir)              the manifest of a prepared folder, or None

The shard format is defined in `data_prep.schema`. Heavy modules load on first use, so that
`import data_prep` stays cheap.
"""

import importlib

_EXPORTS = {
    "prepare": "data_prep.pipeline",
    "PrepareOptions": "data_prep.pipeline",
    "make_field": "data_prep.synthetic",
    "field_rng": "data_prep.synthetic",
    "encode_label": "data_prep.labels",
    "read_image": "data_prep.validate",
    "read_mask": "data_prep.validate",
    "read_manifest": "data_prep.sharding",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'data_prep' has no attribute {name!r}")
