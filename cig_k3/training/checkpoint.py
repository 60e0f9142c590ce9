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
    header = {"epoch": int(epoch), "step": int(step), **(extra or {})}
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
        for group, variables in _variables(gan).items():
            stored = sorted(key for key in data.files if key.startswith(f"{group}_"))
            if len(stored) != len(variables):
                raise ValueError(
                    f"{path}: holds {len(stored)} {group} variables but this model has {len(variables)}:"
                    " it was written by another configuration"
                )
            for key, variable in zip(stored, variables):
                if group == "optimizer" and variable.name == "learning_rate":
                    # The learning rate comes from the config, so that a resume or a
                    # rollback can lower it; schedules derive it from the iteration count.
                    continue
                value = data[key]
                if tuple(value.shape) != tuple(variable.shape):
                    raise ValueError(
                        f"{path}: {key} has shape {value.shape}, expected {tuple(variable.shape)} for {variable.path}"
                    )
                variable.assign(value)
        return json.loads(str(data["header"]))
