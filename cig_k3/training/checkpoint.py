"""Checkpoints that survive a kill: one .npz, written to a temporary name and renamed.

A checkpoint holds every variable of the GAN (both networks' weights, BatchNorm statistics
and dropout seed states), both optimisers' variables (including their iteration counters
and loss scales), and a JSON header with the epoch, the global step and the config. Plain
arrays only: `np.load(allow_pickle=False)` reads it back.
"""

import json
import os
from pathlib import Path

import keras
import numpy as np

CHECKPOINT = "checkpoint.npz"


def _variables(gan):
    return {"model": list(gan.variables), "optimizer": list(gan.optimizer.variables)}


def save_checkpoint(gan, run_dir, epoch, step, extra=None):
    """Atomically write RUN_DIR/checkpoint.npz; the previous one stays intact until the rename."""
    path = Path(run_dir) / CHECKPOINT
    arrays = {}
    for group, variables in _variables(gan).items():
        for i, variable in enumerate(variables):
            arrays[f"{group}_{i:05d}"] = keras.ops.convert_to_numpy(variable.value)
    header = {"epoch": int(epoch), "step": int(step), **(extra or {}),
              "optimizer_names": [variable.name for variable in gan.optimizer.variables]}
    arrays["header"] = np.array(json.dumps(header))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        # After a failed write (disk full, ...) only the previous, complete checkpoint stays.
        tmp.unlink(missing_ok=True)
    return path


def read_header(run_dir):
    path = Path(run_dir) / CHECKPOINT
    if not path.exists():
        raise FileNotFoundError(f"{path}: no checkpoint to resume from")
    with np.load(path, allow_pickle=False) as data:
        return json.loads(str(data["header"]))


def load_checkpoint(gan, run_dir):
    """Assign a checkpoint's values to a built, compiled GAN of the same configuration."""
    path = Path(run_dir) / CHECKPOINT
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no checkpoint to resume from") from None
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: unreadable checkpoint ({error})") from None
    with data:
        header = json.loads(str(data["header"]))
        for group, variables in _variables(gan).items():
            stored = sorted(key for key in data.files if key.startswith(f"{group}_"))
            if group == "optimizer":
                # The learning rate comes from the config, so that a resume or a rollback can
                # lower it, and a schedule (a --decay-epochs given on resume) holds none: the
                # rates are set aside on both sides and the rest matched in order.
                names = header.get("optimizer_names")
                if names is None and len(stored) == len(variables):
                    names = [variable.name for variable in variables]  # an older checkpoint of this layout
                rates = _stored_learning_rates(data, stored, names)
                stored = [key for key, rate in zip(stored, rates) if not rate]
                variables = [variable for variable in variables if variable.name != "learning_rate"]
            if len(stored) != len(variables):
                raise ValueError(
                    f"{path}: holds {len(stored)} {group} variables but this model has {len(variables)}:"
                    " it was written by another configuration"
                )
            for key, variable in zip(stored, variables):
                value = data[key]
                if tuple(value.shape) != tuple(variable.shape):
                    raise ValueError(
                        f"{path}: {key} has shape {value.shape}, expected {tuple(variable.shape)} for {variable.path}"
                    )
                variable.assign(value)
        return header


def _stored_learning_rates(data, keys, names):
    """Which of a checkpoint's optimizer entries are learning rates: by the names its header
    lists, or, in an older checkpoint of another layout, by Keras' layout, in which an
    optimizer that holds its rate as a variable stores it (a float scalar) right after its
    iteration counter (an integer scalar)."""
    if names is not None and len(names) == len(keys):
        return [name == "learning_rate" for name in names]
    values = [data[key] for key in keys]
    return [i > 0 and value.shape == () and value.dtype.kind == "f"
            and values[i - 1].shape == () and values[i - 1].dtype.kind in "iu"
            for i, value in enumerate(values)]
