"""The shards of a training run as an MLflow dataset input.

MLflow records what a run trained on as a dataset input (name, digest, source, profile),
shown on the run page and in the experiment's "Datasets" column. Shards are only described,
never loaded: the digest is the manifest's sha256 (cut to the 32 hex digits MLflow's store
keeps; the full hash is the run tag `data_manifest_sha256`), the profile holds the split
counts, and the source is the shard folder.

Example:
    >>> log_shards(run, manifest, manifest_path="data/shards/manifest.json", shards="data/shards")
"""

import hashlib
import json
import logging
import os
from pathlib import Path

from mlflow.entities import Dataset, DatasetInput, InputTag

logger = logging.getLogger(__name__)

DIGEST_LENGTH = 32  # MLflow's store keeps digests of up to 36 characters
CONTEXT_TAG = "mlflow.data.context"  # "training", "validation", ...: how the run used the dataset


def manifest_hash(manifest=None, manifest_path=None):
    """sha256 of manifest.json's bytes (or of its canonical JSON when only the dict is known)."""
    if manifest_path and os.path.isfile(manifest_path):
        data = Path(manifest_path).read_bytes()
    else:
        data = json.dumps(manifest or {}, sort_keys=True).encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def shards_dataset(manifest, manifest_path=None, shards=None):
    """The MLflow `Dataset` entity describing a shard folder.

    Args:
        manifest: the manifest dict (`cig prepare`'s manifest.json).
        manifest_path: the manifest file (hashed byte for byte when given).
        shards: the shard folder (default: the manifest's folder).

    Returns:
        `mlflow.entities.Dataset` named after the data's source (e.g. `bbbc039`), with the
        profile {"splits": {"train": 153, ...}, "encoding": ..., "num_classes": ...}.
    """
    folder = Path(shards) if shards else Path(manifest_path).parent if manifest_path else Path(".")
    folder = folder.resolve()
    source = str(manifest.get("source") or "")
    name = Path(source).name if source and os.sep in source else source or folder.name
    splits = {split: values.get("count") for split, values in (manifest.get("splits") or {}).items()
              if isinstance(values, dict)}
    profile = {"splits": splits, "task": manifest.get("task"), "encoding": manifest.get("encoding"),
               "num_classes": manifest.get("num_classes"), "raw_channels": manifest.get("raw_channels"),
               "data_source": source or None}
    digest = manifest_hash(manifest, manifest_path)[:DIGEST_LENGTH]
    return Dataset(name=name or "shards", digest=digest, source_type="local", source=json.dumps({"uri": str(folder)}),
                   profile=json.dumps({key: value for key, value in profile.items() if value is not None}))


def log_shards(run, manifest, manifest_path=None, shards=None, context="training"):
    """Log the shards as a dataset input of `run` (`MlflowClient.log_inputs`).

    Returns:
        The logged `Dataset` entity.
    """
    dataset = shards_dataset(manifest or {}, manifest_path=manifest_path, shards=shards)
    run.client.log_inputs(run.run_id, datasets=[DatasetInput(dataset, tags=[InputTag(CONTEXT_TAG, context)])])
    logger.debug("dataset input %s (digest %s) logged to run %s", dataset.name, dataset.digest, run.run_id)
    return dataset
