"""The plugin's "Sample masks like these": `cig masks` for a shard folder, as a labels layer.

The statistics of the shard folder's instance labels (object count, size, shape,
orientation; `cig_k3.inference.masks.measure_shards`) are measured in a worker thread, and
new masks are drawn from them with the same `sample_mask` as `cig masks`. Several masks come
as one K x H x W labels layer (a slider over them), all of one field size.
"""

from pathlib import Path

import numpy as np


def sample_masks(shard_folder, count=1, height=0, width=0, seed=0, split="train"):
    """`count` sampled instance masks, as a napari layer-data tuple `(masks, kwargs, "labels")`.

    Args:
        shard_folder: a shard folder with manifest.json (from `cig prepare`).
        count: masks to draw; 1 gives an H x W layer, more a count x H x W stack.
        height, width: field size; 0 takes the first drawn field's size from the data.
        seed: the same seed draws the same masks (as `cig masks --seed`).

    Raises:
        ValueError: one line naming the folder when it cannot be measured.

    Example:
        >>> masks, kwargs, kind = sample_masks("data/bbbc039", count=4, seed=1)
    """
    from cig_k3.inference.masks import measure_shards, sample_mask

    if not str(shard_folder).strip() or str(shard_folder) == ".":
        raise ValueError("choose a shard folder (one with manifest.json, from cig prepare).")
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}.")
    if (height > 0) != (width > 0):
        raise ValueError(f"give both height and width, or neither (got {height} x {width}).")
    try:
        stats = measure_shards(shard_folder, split=split)
    except (FileNotFoundError, OSError) as error:
        raise ValueError(str(error)) from None
    rng = np.random.default_rng(seed)
    shape = (height, width) if height > 0 else None
    masks = []
    for _ in range(count):
        mask = sample_mask(stats, rng, shape=shape)
        shape = mask.shape  # a stack needs one field size
        masks.append(mask)
    data = masks[0] if count == 1 else np.stack(masks)
    metadata = {"synthetic": True, "generator": "cig masks", "like": str(shard_folder), "split": split,
                "seed": seed, **stats.summary()}
    return data, {"name": f"masks like {_folder_name(shard_folder)}", "metadata": metadata}, "labels"


def _folder_name(folder):
    return Path(folder).resolve().name
