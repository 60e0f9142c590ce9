"""Inference: masks in, synthetic microscopy images out.

- `generate`: encode masks as training did, run the generator (tiled, several samples per
  mask), write TIFFs in the data's intensity scale with provenance
  (`generate_folder(model, manifest, mask_paths, out_dir, options, provenance)`).
- `tiling`: blended tiled inference for fields larger than a model takes at once
  (`predict_tiled(fn, image, tile, overlap, multiple)`).
- `masks`: new instance masks whose statistics follow a training set's
  (`measure_shards(shard_dir)`, `sample_mask(stats, rng)`, `write_masks(...)`).
- `shards`: generated (image, mask) pairs written as training shards
  (`write_generated_shards(results, manifest, out_dir, provenance)`).

Loading a trained generator and exporting it to other formats is `cig_k3.export`'s.
"""

from cig_k3.inference.tiling import predict_tiled

__all__ = ["predict_tiled"]
