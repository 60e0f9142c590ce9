"""Write generated (image, mask) pairs as shards in the training schema (`data_prep.schema`).

The pairs are ready to train a segmentation model (or another GAN): `raw.tif` is the
generated image in the data's scale and dtype, `label.png` the encoded label and
`instances.png` the instance labels. Every sample's JSON and the manifest say
`synthetic: true` and where the images came from. Tars and manifest are written with
`data_prep.sharding` (deterministic headers, atomic renames).
"""

from pathlib import Path

import tifffile

from data_prep import labels, schema, sharding


def write_generated_shards(results, manifest, out_dir, provenance, shard_size=64, split="train"):
    """Write `results` of `generate_folder` as `<split>-NNNNNN.tar` shards plus manifest.json.

    The data statistics are those of the training manifest: the images are generated in
    that scale. Returns the manifest written.
    """
    out_dir = sharding.prepare_output_dir(out_dir)
    samples = generated_samples(results, manifest, provenance)
    names = sharding.plan_shards({split: len(samples)}, shard_size)[split]
    for index, name in enumerate(names):
        sharding.write_shard(out_dir / name, samples[index * shard_size:(index + 1) * shard_size])
    return write_generated_manifest(out_dir, manifest, provenance, names, len(samples), split)


def generated_samples(results, manifest, provenance):
    """[(key, {member: bytes})] of the generated pairs in `results` (of `generate_folder`)."""
    samples = []
    for mask_path, label, instances, written in results:
        for image_path in written:
            raw = tifffile.imread(image_path)  # H x W for one channel, as data_prep stores it
            channels = raw.shape[2] if raw.ndim == 3 else 1
            key = f"synthetic/{Path(image_path).stem}"
            meta = {
                "key": key,
                "source_path": str(image_path),
                "label_path": str(mask_path),
                "task": "mask2image",
                "encoding": manifest.get("encoding", "semantic3"),
                "shape": list(raw.shape[:2]),
                "raw_dtype": str(raw.dtype),
                "raw_channels": manifest.get("raw_channels") or [f"c{c}" for c in range(channels)],
                "source_channels": [],
                "percentiles": {"raw": {key_: manifest["stats"]["raw"][key_] for key_ in ("p_low", "p_high")}},
                "num_objects": None if instances is None else labels.count_objects(instances),
                "provenance": provenance.for_mask(mask_path),
            }
            members = {schema.RAW: sharding.encode_tiff(raw), schema.LABEL: sharding.encode_png(label),
                       schema.META: sharding.encode_json(meta)}
            if instances is not None:
                members[schema.INSTANCES] = sharding.encode_png(instances)
            samples.append((key, members))
    return samples


def write_generated_manifest(out_dir, manifest, provenance, names, count, split="train"):
    """manifest.json of generated shards `names` holding `count` pairs; returns it."""
    written = {key: manifest.get(key) for key in schema.MANIFEST_KEYS}
    written.update({
        "schema_version": schema.SCHEMA_VERSION,
        "task": "mask2image",
        "splits": {split: {"count": count, "shards": names}},
        "skipped": [],
        "source": "synthetic: cig generate",
        "synthetic": True,
        "provenance": provenance.for_mask(None),
    })
    sharding.write_manifest(out_dir, written)
    return written
