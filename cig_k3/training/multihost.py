"""Several training processes, one per host: JAX's multi-process runtime through Keras.

`cig train --distribute data_parallel` (or `auto`) started once per host joins the other
processes with `keras.distribution.initialize()`, which calls `jax.distributed.initialize`.
JAX finds the coordinator, the process count and this process's index itself under SLURM
(`srun`), Open MPI (`mpirun`) and a Kubernetes Indexed Job (with the `kubernetes` package);
anywhere else they come from Keras' variables:

    KERAS_DISTRIBUTION_JOB_ADDRESSES=10.0.0.1:1234   # the coordinator (process 0), host:port
    KERAS_DISTRIBUTION_NUM_PROCESSES=2
    KERAS_DISTRIBUTION_PROCESS_ID=0                  # 0 .. N-1, one per process

Then `keras.distribution.DataParallel` spans the devices of every process: each process
feeds its slice of the global batch (its own shards, `BatchStream(process=...)`), XLA
all-reduces the gradients, and validation metrics are computed on the global batch. Only
process 0 (`is_chief()`) writes the run folder, checkpoints, sample grids, exports and
MLflow. On CPU hosts the collectives go through gloo.

Example:
    >>> if wants_several_processes("data_parallel"):
    ...     initialize()
    >>> process_index(), process_count()
    (0, 2)

Reference: JAX documentation, "Multi-process environments" (jax.distributed.initialize);
Keras documentation, "Distribution API" (keras.distribution.initialize).
"""

import logging
import os

import keras

log = logging.getLogger(__name__)

# Variables that say several processes were started: Keras' own, then the launchers JAX
# detects (SLURM's srun, Open MPI's mpirun, a Kubernetes Indexed Job with JAX's variables).
_LAUNCHERS = (
    ("KERAS_DISTRIBUTION_NUM_PROCESSES", "KERAS_DISTRIBUTION_JOB_ADDRESSES"),
    ("SLURM_NTASKS", "SLURM_STEP_NODELIST"),
    ("OMPI_COMM_WORLD_SIZE", "OMPI_MCA_orte_hnp_uri"),
)

_STATE = {"initialized": False}


def _launcher_count():
    """The process count the environment announces (1 when none does)."""
    for count_name, marker in _LAUNCHERS:
        count = os.environ.get(count_name)
        if count and (marker in os.environ or count_name.startswith("KERAS")):
            try:
                return int(count)
            except ValueError:
                raise ValueError(f"{count_name}={count!r} is not a whole number of processes") from None
    return 1


def wants_several_processes(mode):
    """Whether this process is one of several data-parallel training processes to join."""
    return mode != "none" and keras.backend.backend() == "jax" and _launcher_count() > 1


def initialize():
    """Join the other processes (once per process, before any JAX computation)."""
    if _STATE["initialized"]:
        return
    from cig_k3.training import _jax

    _jax.use_cpu_collectives()
    try:
        keras.distribution.initialize()
    except (RuntimeError, ValueError) as error:
        raise ValueError(f"cannot join the other training processes ({error}); check "
                         "KERAS_DISTRIBUTION_JOB_ADDRESSES (the coordinator's host:port), "
                         "KERAS_DISTRIBUTION_NUM_PROCESSES and KERAS_DISTRIBUTION_PROCESS_ID") from None
    _STATE["initialized"] = True
    log.info("training process %d of %d", process_index(), process_count())


def process_index():
    """This process's index among the training processes (0 for a single process)."""
    if keras.backend.backend() != "jax":
        return 0
    from cig_k3.training import _jax

    return _jax.process_index()


def process_count():
    """How many training processes share the work (1 for a single process)."""
    if keras.backend.backend() != "jax":
        return 1
    from cig_k3.training import _jax

    return _jax.process_count()


def is_chief():
    """Whether this process writes (run folder, checkpoints, grids, exports, MLflow)."""
    return process_index() == 0


def local_rows(arrays, batch_size, index, count):
    """This process's rows of each global batch of `arrays` (a (condition, target) pair of
    arrays or dicts of arrays, `batch_size` rows per global batch): global batch b becomes
    rows b * batch_size + index * local .. + local, local = batch_size // count."""
    import numpy as np

    local = batch_size // count

    def take(array):
        rows = np.arange(len(array)).reshape(-1, batch_size)[:, index * local:(index + 1) * local]
        return array[rows.ravel()]

    def each(value):
        return {key: take(v) for key, v in value.items()} if isinstance(value, dict) else take(value)

    return tuple(each(value) for value in arrays)


def per_process_inputs(config, stream, validation, first_batch, process):
    """Several processes: this process's rows of every global validation batch (the
    metrics are then computed on the global batches, as in one process), and sample-grid
    inputs that are the same in every process (the grid is drawn by all, written by one)."""
    if validation is not None:
        whole = len(validation[1]) // config.data.batch_size * config.data.batch_size
        validation = tuple({k: v[:whole] for k, v in part.items()} if isinstance(part, dict) else part[:whole]
                           for part in validation)
        return local_rows(validation, config.data.batch_size, *process), first_batch
    from cig_k3.data import BatchStream

    shared = BatchStream(config.data.shards, split="train", batch_size=config.data.batch_size,
                         crop=config.data.crop, seed=config.seed, steps_per_epoch=1, on_error=config.data.on_error,
                         mixing=stream.mixing)
    return None, next(iter(shared.epoch(0)))
