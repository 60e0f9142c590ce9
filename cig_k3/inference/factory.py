"""The synthetic-data factory on Dask: `cig generate --as-shards DIR --dask ADDRESS`.

One Dask task per output shard. A task loads the generator once per worker process (kept
for the worker's next tasks), generates the images of its masks with `generate_folder`,
and writes its shard atomically (`data_prep.sharding.write_shard`); the client writes
manifest.json last. Mask i of the sorted list is drawn with seed `seed + i` as on one
machine, so shard s depends on (seed, s) alone: reruns are identical, and the TIFFs, tars
and manifest are the same bytes as `cig generate` without `--dask` (the shard size must be
a multiple of --samples, so that no mask's samples straddle two shards). A killed worker's
task is retried elsewhere by the scheduler; the tar's rename means no partial tar carries a
final name. Workers must see the model, masks and output folders at the same paths.

Example:
    >>> from data_prep.cluster import dask_client
    >>> with dask_client("local:2") as client:
    ...     generate_shards(client, "runs/a", manifest, masks, "generated", "synthetic_shards",
    ...                     GenerateOptions(seed=0), provenance, shard_size=64)

Reference: Dask distributed documentation, "Futures" (https://distributed.dask.org).
"""

import dataclasses
import logging
from pathlib import Path

from data_prep import cluster, sharding

log = logging.getLogger(__name__)

# Per worker process: the generator of the model file being drawn from, loaded once.
_GENERATOR = {}


def _generator(model_path):
    from cig_k3.export import load_generator

    if model_path not in _GENERATOR:
        _GENERATOR.clear()
        _GENERATOR[model_path] = load_generator(model_path)
    return _GENERATOR[model_path]


def masks_per_shard(shard_size, samples):
    """Masks whose images fill one shard; a one-line error when the sizes do not divide."""
    pairs_per_mask = max(int(samples), 1)
    if shard_size < pairs_per_mask or shard_size % pairs_per_mask:
        raise ValueError(f"--shard-size {shard_size} must be a multiple of --samples {samples} with --dask, "
                         "so that each shard holds whole masks")
    return shard_size // pairs_per_mask


def generate_one_shard(model_path, manifest, out_dir, shards_dir, options, provenance, job):
    """A Dask task: draw the images of one shard's masks and write the shard.

    Args:
        model_path: the generator file (str, the same path on every worker).
        manifest: the training data's manifest (scale, encoding).
        out_dir, shards_dir: where the TIFFs and the shard go.
        options: the GenerateOptions; its seed is the seed of mask 0 of the whole list.
        provenance: the Provenance recorded in every TIFF and sample.
        job: (shard file name, index of its first mask in the whole list, [mask paths]).

    Returns:
        The number of pairs written.
    """
    from cig_k3.inference.generate import generate_folder
    from cig_k3.inference.shards import generated_samples

    name, first, masks = job
    shifted = dataclasses.replace(options, seed=options.seed + first)  # mask i keeps seed + i
    results = generate_folder(_generator(model_path), manifest, masks, out_dir, shifted, provenance, progress=False)
    samples = generated_samples(results, manifest, provenance)
    sharding.write_shard(Path(shards_dir) / name, samples)
    return len(samples)


def generate_shards(client, model_path, manifest, masks, out_dir, shards_dir, options, provenance,
                    shard_size=64, split="train"):
    """Generate every shard as a Dask task on `client`; returns the manifest written.

    Args:
        client: a `distributed.Client` (`data_prep.cluster.dask_client`).
        model_path: the generator .keras file.
        manifest: the training data's manifest.
        masks: the sorted mask paths (`list_masks`).
        out_dir: folder of the generated TIFFs; shards_dir: folder of the shards.
        options, provenance: as for `generate_folder`.
        shard_size: pairs per shard (a multiple of options.samples).
    """
    from cig_k3.inference.shards import write_generated_manifest

    per_shard = masks_per_shard(shard_size, options.samples)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    shards_dir = sharding.prepare_output_dir(shards_dir)
    names = sharding.plan_shards({split: len(masks)}, per_shard)[split]
    jobs = [(name, index * per_shard, [Path(m) for m in masks[index * per_shard:(index + 1) * per_shard]])
            for index, name in enumerate(names)]
    count = 0
    results = cluster.map_in_order(client, generate_one_shard, jobs, str(model_path), manifest, str(out_dir),
                                   str(shards_dir), options, provenance)
    for index, written in enumerate(results, start=1):
        count += written
        log.info("shard %d/%d written (%d pairs)", index, len(names), written)
    return write_generated_manifest(shards_dir, manifest, provenance, names, count, split)
